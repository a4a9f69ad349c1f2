"""Classifier training as a job, on a few real flower photos (scratch CNN,
tiny and short: the accuracy checks live in test_accuracy_real_sets)."""

from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_import
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion
from webapp.training import services

pytestmark = pytest.mark.django_db


def _flowers(name="F", classes=("daisy", "sunflower"), n=8):
    ds = Dataset.objects.create(name=name, kind="classification")
    root = shared_path("datasets", "categories")
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp())
    for c in classes:
        (tmp / c).mkdir()
        for p in sorted((root / c).glob("*.jpg"))[:n]:
            shutil.copy(p, tmp / c / p.name)
    dataset_import(dataset=ds, source=tmp)
    shutil.rmtree(tmp)
    return ds


def _run(job):
    from workers.training import classifier

    classifier.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def _photo(name="daisy", i=20):
    p = sorted((shared_path("datasets", "categories") / name).glob("*.jpg"))[i]
    return SimpleUploadedFile(p.name, p.read_bytes(), content_type="image/jpeg")


def test_scratch_training_job_end_to_end(staff_client, django_user_model):
    ds = _flowers()
    r = staff_client.post("/training/", {"dataset": ds.pk, "model_kind": "scratch", "epochs": 2, "image_size": 64,
                                         "patience": 5})
    job = Job.objects.get(kind="training.classifier")
    assert r.status_code == 302 and r.url == f"/training/jobs/{job.pk}/"
    job = _run(job)
    assert job.state == "succeeded", job.error + job.traceback
    assert len(job.result["history"]["val_loss"]) == 2 and "validation accuracy" in job.message
    mv = ModelVersion.objects.get(kind="classifier")
    assert mv.active and mv.version == 1 and mv.classes == ["daisy", "sunflower"]
    m = mv.metrics
    assert 0 <= m["accuracy"] <= 1 and len(m["confusion"]) == 2 and m["n_train"] + m["n_val"] == 16
    assert {c["name"] for c in m["per_class"]} == {"daisy", "sunflower"} and m["summary"][-1]["params"] > 0
    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    assert "Confusion matrix" in page and "First-layer kernels" in page and "conv1" in page
    assert "one value per ImageNet class" not in page  # scratch models have no class peaks
    for name in ("model.keras", "model.tflite", "confusion.png", "kernels.png", "model.json"):
        resp = staff_client.get(f"/training/models/{mv.pk}/files/{name}")
        assert resp.status_code == 200, name
    assert staff_client.get(f"/training/models/{mv.pk}/files/../../etc").status_code == 404
    assert "Training #" in staff_client.get(f"/training/jobs/{job.pk}/").content.decode()

    # predict (page and JSON) and activation maps, as jobs
    from workers.training import activations, predict

    r = staff_client.post(f"/api/models/{mv.pk}/predict", {"photo": _photo()})
    assert r.status_code == 202
    pj = Job.objects.get(pk=r.json()["job"]["id"])
    predict.apply(args=[pj.pk])
    pj.refresh_from_db()
    assert pj.state == "succeeded" and pj.result["top"][0]["class"] in ("daisy", "sunflower")
    assert abs(sum(t["probability"] for t in pj.result["top"]) - 1) < 1e-3
    r = staff_client.post(f"/api/models/{mv.pk}/predict", {"photo": SimpleUploadedFile("x.jpg", b"<html>")})
    assert r.status_code == 400 and "not an image" in r.json()["message"]
    r = staff_client.post("/api/models/999999/predict", {"photo": _photo()})
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    from django.test import Client

    outsider = Client()
    outsider.force_login(django_user_model.objects.create_user("outsider", password="pw-out-1"))
    r = outsider.post(f"/api/models/{mv.pk}/predict", {"photo": _photo()})
    assert r.status_code == 403 and r.json()["code"] == "forbidden" and "not shared with you" in r.json()["message"]
    r = staff_client.post(f"/training/models/{mv.pk}/activations/", {"photo": _photo(), "layer": "pool1"})
    aj = Job.objects.filter(kind="training.activations").get()
    activations.apply(args=[aj.pk])
    aj.refresh_from_db()
    assert aj.state == "succeeded" and aj.result["image_url"].endswith(".png")
    assert aj.result["channels"] == aj.result["shown"] == 16  # the seed's conv1 (16 kernels) -> pool1: all 16 shown
    page = staff_client.get(r.url).content.decode()  # back on the model page, the layer shown stays chosen
    assert '<option value="pool1" selected>' in page

    # a second run makes version 2, not active until chosen
    job2 = _run(services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64))
    mv2 = ModelVersion.objects.get(job=job2)
    assert mv2.version == 2 and not mv2.active
    staff_client.post(f"/training/models/{mv2.pk}/activate/")
    mv.refresh_from_db(), mv2.refresh_from_db()
    assert mv2.active and not mv.active


def test_single_class_and_empty_classes_are_refused_in_words():
    ds = _flowers(classes=("daisy",), n=4)
    with pytest.raises(ValidationError, match="at least two classes"):
        services.training_start(dataset=ds, model_kind="scratch")
    ds.classes.create(class_id=2, name="empty")
    with pytest.raises(ValidationError, match="“empty” \\(0\\)"):
        services.training_start(dataset=ds, model_kind="scratch")


def test_empty_class_is_left_out_with_a_note():
    ds = _flowers(n=6)
    ds.classes.create(class_id=9, name="nothing yet")
    job = _run(services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64))
    assert job.state == "succeeded" and "“nothing yet” has no photos" in job.result["notes"][0]


def test_dataset_deleted_before_or_during_training():
    ds = _flowers(n=4)
    job = services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64)
    ds.delete()
    job = _run(job)
    assert job.state == "failed" and job.error_code == "deleted" and "deleted" in job.error


def test_cancelled_job_does_not_run_and_retry_requeues():
    from webapp.jobs.services import job_cancel, job_retry

    ds = _flowers(n=4)
    job = services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64)
    job_cancel(job=job)
    job = _run(job)
    assert job.state == "cancelled" and not ModelVersion.objects.exists()
    assert job_retry(job=job)
    job = _run(job)
    assert job.state == "succeeded" and ModelVersion.objects.count() == 1


def test_cancelled_while_training_keeps_the_best_model_and_says_so(staff_client, cancel_when):
    """Cancel pressed after the first epoch: the job stays cancelled, its message
    and result name the version saved, and the job page offers to train again
    from the start (the saved version stays), not a resume it cannot do."""
    import keras

    from webapp.jobs.services import job_retry

    cancel_when(keras.callbacks.ModelCheckpoint, "on_epoch_end")  # right after epoch 1's checkpoint
    ds = _flowers(n=4)
    job = _run(services.training_start(dataset=ds, model_kind="scratch", epochs=20, image_size=64, patience=20))
    mv = ModelVersion.objects.get()
    assert job.state == "cancelled" and not job.error
    assert job.message.startswith("Cancelled; the best model so far was saved: validation accuracy")
    assert job.message.endswith("(v1)") and job.result["model_version_id"] == mv.pk
    assert 1 <= len(job.result["history"]["val_loss"]) < 20 and mv.metrics["cancelled"]
    page = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert f"/training/models/{mv.pk}/" in page and "Train again from the start (v1 stays)" in page
    assert "resumes from" not in page
    assert job_retry(job=job)
    job = _run(job)  # the wrapper's count is past 1 now: no second cancel
    assert job.state == "succeeded" and ModelVersion.objects.count() == 2


def test_non_classification_dataset_refused():
    ds = Dataset.objects.create(name="g", kind="gallery")
    with pytest.raises(ValidationError, match="Only classification"):
        services.training_start(dataset=ds, model_kind="scratch")


def test_playground_reproduces_the_seed_square(staff_client):
    r = staff_client.post("/training/playground/", {"kernel": "horizontal_line", "padding": "valid", "stride": 1,
                                                    "relu_offset": 2, "pooling": "max"})
    steps = r.context["steps"]
    assert steps[1][3][0] == [2, 3, 3, 3, 3, 2] and steps[3][3] == [[1, 1, 1], [0, 0, 0], [1, 1, 1]]
    r = staff_client.post("/training/playground/", {"kernel": "custom", "custom": "1 2\n3 4", "padding": "valid",
                                                    "stride": 1, "pooling": "none"})
    assert "3×3 or 5×5" in r.content.decode()
    r = staff_client.post("/training/playground/", {"kernel": "edge", "padding": "same", "stride": 1, "pooling": "max",
                                                    "photo": _photo()})
    assert r.status_code == 200 and r.context["steps"][0][2] == (224, 224)
    bad = shared_path("bad-inputs", "I-17_html_named.jpg")
    r = staff_client.post("/training/playground/", {"kernel": "edge", "padding": "same", "stride": 1, "pooling": "max",
                                                    "photo": SimpleUploadedFile("x.jpg", bad.read_bytes())})
    assert r.status_code == 200 and "not an image" in r.content.decode()


@pytest.mark.parametrize("field, value, words", [
    ("custom", "nan 0 0\n0 1 0\n0 0 0", "between -1000 and 1000"),
    ("custom", "1 2 3\n4 5\n6 7 8", "3×3 or 5×5"),
    ("relu_offset", "1e308", "less than or equal to"),
    ("relu_offset", "inf", "Enter a number"),
])
def test_playground_refuses_values_it_cannot_draw_in_words(staff_client, field, value, words):
    form = {"kernel": "custom", "custom": "0 0 0\n1 1 1\n0 0 0", "padding": "valid", "stride": 1, "pooling": "none",
            field: value}
    r = staff_client.post("/training/playground/", form)
    assert r.status_code == 200 and words in r.content.decode() and not r.context.get("steps")


def test_predict_folder_command_writes_csv(tmp_path):
    import csv as _csv
    import shutil

    from django.core.management import call_command

    ds = _flowers(n=4)
    job = _run(services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64))
    mv = ModelVersion.objects.get(job=job)
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for i, p in enumerate(sorted((shared_path("datasets", "categories") / "daisy").glob("*.jpg"))[40:43]):
        shutil.copy(p, folder / ("sub" if i == 2 else "") / p.name)
    (folder / "notes.txt").write_text("hello")
    out = tmp_path / "pred.csv"
    call_command("predict_folder", str(mv.pk), str(folder), "--out", str(out))
    rows = list(_csv.DictReader(out.open()))
    assert len(rows) == 4 and any(r["file"].startswith("sub/") for r in rows)
    by_file = {r["file"]: r for r in rows}
    assert by_file["notes.txt"]["error"] == "not a readable image"
    good = [r for r in rows if not r["error"]]
    assert len(good) == 3 and all(r["class"] in ("daisy", "sunflower") and 0 <= float(r["probability"]) <= 1 for r in good)


def test_dataset_deleted_during_training_stops_cleanly():
    from webapp.jobs.errors import JobFailed
    from webapp.training.processing import _stop_checker

    ds = _flowers(n=4)
    job = services.training_start(dataset=ds, model_kind="scratch", epochs=1, image_size=64)
    check = _stop_checker(job.pk, ds.pk)
    assert check() is False
    from webapp.jobs.services import job_cancel

    job_cancel(job=job)
    assert _stop_checker(job.pk, ds.pk)() is True  # a cancel is seen at the next batch
    ds.delete()
    check = _stop_checker(job.pk, ds.pk)
    with pytest.raises(JobFailed, match="deleted while the model was training"):
        check()


def test_transfer_job_with_fine_tuning_at_a_chosen_size(efficientnet_weights, settings, monkeypatch, staff_client):
    """Frozen EfficientNet-Lite0 at 128 px (features cached per size), then the
    top blocks fine-tuned on cached activations; the saved model takes 128 px
    photos, predicts what the job measured, and the shared backbone is untouched."""
    from pathlib import Path

    from vision import registry

    shared = registry.load("efficientnet_lite0").model
    shared_before = [w.copy() for w in shared.get_weights()]
    from vision.training import transfer

    live = []  # the curves the job page showed while fine-tuning ran
    real_fine_tune = transfer.fine_tune

    def watched(*args, **kwargs):
        on_epoch = kwargs["on_epoch"]
        kwargs["on_epoch"] = lambda *a: (on_epoch(*a), live.append(Job.objects.get(pk=job.pk).result["history"]))
        return real_fine_tune(*args, **kwargs)

    monkeypatch.setattr(transfer, "fine_tune", watched)
    ds = _flowers(n=6)
    job = services.training_start(dataset=ds, model_kind="transfer", epochs=2, image_size=128, fine_tune=True)
    job = _run(job)
    assert job.state == "succeeded", job.error + job.traceback
    hist = job.result["history"]
    assert len(hist["val_loss"]) >= 1 and 1 <= len(hist["fine_tune_val_loss"]) <= 2
    assert f"+ {len(hist['fine_tune_val_loss'])} fine-tuning" in job.message
    assert live and all(h["loss"] == hist["loss"] and len(h["fine_tune_loss"]) == i + 1 for i, h in enumerate(live))
    cached = list((Path(settings.CACHE_DIR) / "features" / "efficientnet_lite0-128px-gap-peaks").glob("*.npy"))
    assert len(cached) == 12 and np.load(cached[0]).shape == (1280 + 1000,)  # pooled features, then class peaks
    acts = list((Path(settings.CACHE_DIR) / "activations" / "efficientnet_lite0-128px-block10_add").glob("*.npy"))
    assert len(acts) == 12 and np.load(acts[0]).shape == (2, 8, 8, 112)  # photo and mirror image at stride 16
    mv = ModelVersion.objects.get(job=job)
    assert 0 <= mv.metrics["frozen_accuracy"] <= 1 and mv.metrics["features"] == "gap-peaks"
    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    assert "(None, 2280)" in page and "one value per ImageNet class" in page  # the page says what 2280 is
    assert ("not kept" in job.message) == (not mv.metrics["fine_tune_kept"])
    assert {"stem_relu", "block10_add", "head_relu"} <= set(mv.metrics["layers"])  # the inspector's choices
    assert mv.metrics["fine_tune_note"].startswith(("Fine-tuning the top blocks took", "Fine-tuning did not lower"))
    assert mv.metrics["fine_tune_note"] in page and "⚠ Fine-tuning" not in page  # said plainly, not as a warning
    # fine-tuning trained a private copy: search embeddings and later jobs still see the ImageNet weights
    assert all(np.array_equal(a, b) for a, b in zip(shared_before, shared.get_weights()))
    from vision.training import data
    from vision.training.export import load_classifier
    from vision.training.models import leaf_layers

    model, meta = load_classifier(Path(mv.path))
    assert meta["image_size"] == 128 and model.input_shape == (None, 128, 128, 3)
    # the class peaks' ImageNet classifier is not fine-tuned: still the backbone's own
    saved = next(layer for layer in leaf_layers(model) if layer.name == "imagenet_classes").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(saved, shared.get_layer("logits").get_weights()))
    assert 0 <= mv.metrics["accuracy"] <= 1 and mv.metrics["n_val"] == len(mv.metrics["misclassified"]) + round(
        mv.metrics["accuracy"] * mv.metrics["n_val"])
    val = ds.images.filter(split="val").order_by("id")
    x = np.stack([data.load_resized(r.file.path, 128) for r in val])
    wrong = {m["image_id"] for m in mv.metrics["misclassified"]}
    names = meta["class_names"]
    predicted = [names[i] for i in model.predict(x, verbose=0).argmax(1)]
    assert [p != r.label.name for p, r in zip(predicted, val)] == [r.pk in wrong for r in val]


def test_cancelled_while_fine_tuning_keeps_a_model_and_says_so(efficientnet_weights, cancel_when):
    """Cancel pressed once fine-tuning has started: it stops after its first batch,
    the better of the frozen and fine-tuned weights is saved, and the job says so."""
    from vision.training import transfer

    cancel_when(transfer, "_unfreeze")  # fine_tune unfreezes the top blocks just before its fit
    ds = _flowers(n=4)
    job = _run(services.training_start(dataset=ds, model_kind="transfer", epochs=2, image_size=128, fine_tune=True))
    mv = ModelVersion.objects.get()
    assert job.state == "cancelled" and job.message.startswith("Cancelled; the best model so far was saved")
    assert job.result["model_version_id"] == mv.pk and mv.metrics["cancelled"]


def test_cancelled_while_features_are_computed_stops_there(efficientnet_weights, cancel_when, settings, tmp_path):
    """Cancel pressed while the backbone's features are computed (most of a frozen training's
    time on a CPU): the job stops after that batch, not after the whole run (issue 13's trial:
    a cancel 4 s in still ran 43 s), with no model and a sentence saying so."""
    from vision.training import features

    settings.CACHE_DIR = tmp_path  # nothing cached: the features are computed here
    cancel_when(features, "_save_atomic")  # the first photo's features are written
    ds = _flowers(n=4)
    job = _run(services.training_start(dataset=ds, model_kind="transfer", epochs=2, image_size=128))
    assert job.state == "cancelled" and not ModelVersion.objects.exists()
    assert "before any model existed" in job.message and job.finished_at is not None


@pytest.mark.parametrize("kw, words", [
    ({"image_size": 300}, "multiple of 32"),
    ({"image_size": 96}, "between 128 and 640"),
    ({"backbone": "mobilenet_v2", "image_size": 448}, "224 px photos only"),
    ({"backbone": "vgg16"}, "supports efficientnet_lite0, mobilenet_v2"),
])
def test_transfer_sizes_the_backbone_cannot_take_are_refused_in_words(kw, words):
    ds = _flowers(n=2)
    with pytest.raises(ValidationError, match=words):
        services.training_start(dataset=ds, model_kind="transfer", **kw)
    assert not Job.objects.exists()


def test_transfer_defaults_to_448_px_for_efficientnet():
    ds = _flowers(n=2)
    assert services.training_start(dataset=ds, model_kind="transfer").params["image_size"] == 448


def test_a_second_request_with_other_settings_is_refused_while_one_waits():
    ds = _flowers(n=2)
    job = services.training_start(dataset=ds, model_kind="transfer", epochs=3)
    assert services.training_start(dataset=ds, model_kind="transfer", epochs=3).pk == job.pk  # a double click
    with pytest.raises(ValidationError, match=rf"already queued \(#{job.pk}\).*These settings were not used"):
        services.training_start(dataset=ds, model_kind="transfer", epochs=2, fine_tune=True)
    assert Job.objects.count() == 1


def test_train_page_offers_each_backbone_present_with_its_cost_and_queues_the_one_chosen(efficientnet_weights,
                                                                                         staff_client):
    from django.utils.html import escape

    from vision.backbones import SPECS

    ds = _flowers(n=3)
    page = staff_client.get("/training/").content.decode()
    for name in ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"):
        assert f'value="{name}"' in page and escape(SPECS[name].cost.split(" px, ", 1)[-1]) in page
    assert 'value="mobilenet_v2"' not in page  # its Keras weights file is not on this machine
    r = staff_client.post("/training/", {"dataset": ds.pk, "model_kind": "transfer", "backbone": "efficientnet_lite2",
                                         "patience": 3})
    assert r.status_code == 302
    job = Job.objects.get(kind="training.classifier")
    assert job.params["backbone"] == "efficientnet_lite2" and job.queue.endswith("batch")
