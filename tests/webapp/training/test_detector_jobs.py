"""Object detectors in the product (issue 15): training as a job on a detection dataset of
generated photos (a red square on noise), the detector's page, its use on the Detect page,
``POST /api/detect``, pre-annotation and ``evaluate_detectors``; bad datasets, settings and
detector ids refused in words; cancel and a deleted dataset ending the job in a clear state.
The network is tiny (256 px, 16 channels, two cached views, two epochs): these tests check the
wiring, not the accuracy (``tests/vision/test_detector_train.py``, ``bench/detection.py``)."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image

from webapp.annotation.models import Box
from webapp.annotation.services import box_create, detection_dataset_create, image_no_objects_set
from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_image_add
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion
from webapp.training.detectors.services import detector_check, detector_start

pytestmark = pytest.mark.django_db
#: A detector small enough to train in seconds (job ``options``, as the command line may set them).
TINY = {"views": 2, "channels": 16, "batch_size": 4}


def _square_png(seed: int) -> tuple[bytes, tuple[int, int, int, int]]:
    """A 160×128 photo of grey noise with one red square; its box."""
    rng = np.random.default_rng(seed)
    px = rng.integers(90, 140, (128, 160, 3)).astype(np.uint8)
    s = int(rng.integers(36, 60))
    x, y = int(rng.integers(0, 160 - s)), int(rng.integers(0, 128 - s))
    px[y:y + s, x:x + s] = (250, 40, 40)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "PNG")
    return buf.getvalue(), (x, y, x + s, y + s)


def _squares(user, n: int = 10, *, name: str = "Squares", todo: int = 0, tiny: int = 0):
    """A detection dataset (classes “square” and “circle”, the second never drawn) of ``n``
    photos with their square boxed, then ``todo`` photos not annotated and ``tiny`` photos
    whose only box is 3 px wide."""
    ds = detection_dataset_create(name=name, classes=["square", "circle"], user=user)
    square = ds.classes.get(name="square")
    for i in range(n + todo + tiny):
        data, box = _square_png(i)
        img = dataset_image_add(dataset=ds, name=f"photos/sq{i:02d}.png", data=data)
        if i < n:
            box_create(image=img, label_id=square.pk, box=list(box), user=user)
        elif i >= n + todo:
            box_create(image=img, label_id=square.pk, box=[10, 10, 13, 40], user=user)
    return ds


@pytest.fixture
def quick_tflite(monkeypatch):
    """``detector.tflite`` written as a placeholder: the converter takes 8-12 s here (the vision
    tests load the real file back and find the same boxes)."""
    from vision.training import export

    monkeypatch.setattr(export, "export_tflite", lambda model, path: Path(path).write_bytes(b"TFL3") and Path(path))


def _run(job, task="detector"):
    import workers.annotation
    import workers.training

    getattr(workers.training if task == "detector" else workers.annotation, task).apply(args=[job.pk])
    job.refresh_from_db()
    return job


def _upload(seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile("photo.png", _square_png(seed)[0], content_type="image/png")


def test_a_detector_is_trained_as_a_job_shown_on_its_page_and_used_to_detect(staff_client, staff_user, quick_tflite):
    ds = _squares(staff_user, 10, todo=1, tiny=1)
    page = staff_client.get(f"/training/detectors/?dataset={ds.pk}").content.decode()
    for words in ("11 finished photos", "1 box under 4 px on a side was left out", "“circle” has no boxes",
                  "1 not annotated yet", "has only 10 boxes"):
        assert words in page, words
    r = staff_client.post("/training/detectors/", {"dataset": ds.pk, "backbone": "efficientnet_lite0",
                                                   "input_size": 256, "epochs": 2, "fine_tune_epochs": 0})
    job = Job.objects.get(kind="training.detector")
    assert r.status_code == 302 and r.url == f"/training/jobs/{job.pk}/" and job.queue.endswith("batch")
    assert job.params["input_size"] == 256 and job.params["options"] == {}
    Job.objects.filter(pk=job.pk).update(params={**job.params, "options": TINY})
    job = _run(job)
    assert job.state == "succeeded", job.error + job.traceback
    h = job.result["history"]
    assert [len(h[k]) for k in ("loss", "class_loss", "box_loss", "val_loss", "val_map")] == [2] * 5
    assert "validation mAP@0.5" in job.message and "made active" in job.message
    mv = ModelVersion.objects.get(kind="detector")
    m = mv.metrics
    assert mv.active and mv.classes == ["square"] and mv.path.endswith("detector.keras") and Path(mv.path).is_file()
    assert m["n_train"] + m["n_val"] == 11 and m["options"]["input_size"] == 256 and m["tiny_boxes"] == 1
    assert "seeded 70%/30% split" in m["split"] and len(m["samples"]) == m["n_val"]
    assert all(s["image_id"] for s in m["samples"]) and (Path(mv.path).parent / "pr-0.png").is_file()

    # the job page draws the four curves; the detector's page its figures, pictures and photos
    job_page = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "object detector" in job_page and "map-chart" in job_page and "Box loss (IoU)" in job_page
    assert "seeded views of each photo" in job_page and "<dd>no</dd>" not in job_page
    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    for words in ("mAP@0.5", "COCO AP@[.5:.95]", f"/training/models/{mv.pk}/files/pr-0.png", "Validation photos",
                  "samples-data", "Annotate.drawBoxes", "Detect on a photo with it", "detector.json", "detector.tflite",
                  "“circle” has no boxes and was left out", f"detector=trained:{mv.pk}", "Threshold"):
        assert words in page, words
    assert page.count('class="sample"') == m["n_val"]
    png = staff_client.get(f"/training/models/{mv.pk}/files/pr-0.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png" and b"".join(png.streaming_content)[:4] == b"\x89PNG"
    report = json.loads(b"".join(staff_client.get(f"/training/models/{mv.pk}/files/detector.json").streaming_content))
    assert report["class_names"] == ["square"] and report["thresholds"]["square"] == m["thresholds"]["square"]
    assert staff_client.get(f"/training/models/{mv.pk}/files/pr-7.png").status_code == 404
    assert staff_client.get(f"/training/models/{mv.pk}/files/notes.txt").status_code == 404
    assert mv.name in staff_client.get("/training/detectors/").content.decode()

    # the Detect page and the API offer it; a validation photo finds the boxes its page shows
    assert f'value="trained:{mv.pk}"' in staff_client.get("/detect/").content.decode()
    sample = m["samples"][0]
    photo = ds.images.get(pk=sample["image_id"])
    r = staff_client.post("/api/detect", {"detector": f"trained:{mv.pk}", "photo": SimpleUploadedFile(
        "v.png", photo.file.read(), content_type="image/png")})
    assert r.status_code == 202, r.json()
    detect = _run(Job.objects.get(pk=r.json()["job"]["id"]), "detect")
    assert detect.state == "succeeded", detect.error + detect.traceback
    found = detect.result["boxes"]
    assert [b["label"] for b in found] == ["square"] * len(sample["found"]) and detect.result["label"] == "square"
    assert np.allclose([b["box"] for b in found], [f[:4] for f in sample["found"]], atol=0.2)
    assert all(b["score"] >= m["thresholds"]["square"] for b in found)
    page = staff_client.get(f"/detect/{r.json()['photo_id']}/").content.decode()
    assert "Trained on" in page and f"v{mv.version}" in page  # named in words, not by its id

    # pre-annotation with it: machine boxes on the photo nobody annotated
    from webapp.annotation.jobs import preannotate_enqueue

    pre, _ = preannotate_enqueue(dataset=ds, user=staff_user, detector=f"trained:{mv.pk}")
    pre = _run(pre, "preannotate")
    assert pre.state == "succeeded", pre.error + pre.traceback
    assert pre.result["photos"] == 1 and pre.result["skipped"] == 11
    machine = Box.objects.filter(image__dataset=ds, source="machine")
    assert machine.count() == pre.result["boxes"] and {b.detector for b in machine} <= {f"trained:{mv.pk}"}
    assert {b.label.name for b in machine} <= {"square"}

    # evaluate_detectors scores it with the product's AP code
    out = io.StringIO()
    call_command("evaluate_detectors", "--trained", stdout=out)
    assert f"trained:{mv.pk} on dataset “Squares”" in out.getvalue() and "AP@0.5 square" in out.getvalue()


def test_a_cancelled_detector_job_ends_cancelled_keeping_the_best_epoch(staff_client, staff_user, cancel_when,
                                                                        quick_tflite):
    from vision.training.recipe import WorkDir

    cancel_when(WorkDir, "history_save")  # Cancel pressed as the first epoch ends
    ds = _squares(staff_user, 6)
    job = _run(detector_start(dataset=ds, input_size=256, epochs=5, options=TINY))
    mv = ModelVersion.objects.get(kind="detector")
    assert job.state == "cancelled" and not job.error
    assert job.message.startswith("Cancelled; the best so far was saved: validation mAP@0.5")
    assert job.result["model_version_id"] == mv.pk and len(job.result["history"]["loss"]) == 1
    assert mv.metrics["cancelled"] and Path(mv.path).is_file()
    assert "best epoch reached before" in staff_client.get(f"/training/models/{mv.pk}/").content.decode()


def test_the_dataset_deleted_while_the_detector_trains_fails_the_job_in_words(staff_user, monkeypatch):
    from vision import registry

    ds = _squares(staff_user, 4)
    job = detector_start(dataset=ds, input_size=256, epochs=2, options=TINY)
    load = registry.load

    def load_then_delete(name):  # the photos are read; the dataset goes as the backbone loads
        out = load(name)
        Dataset.objects.filter(pk=ds.pk).delete()
        return out

    monkeypatch.setattr(registry, "load", load_then_delete)
    job = _run(job)
    assert job.state == "failed" and job.error_code == "deleted" and "deleted while" in job.error
    assert not ModelVersion.objects.filter(kind="detector").exists()


def test_datasets_and_settings_that_cannot_train_a_detector_are_refused_in_words(staff_client, staff_user):
    flowers = Dataset.objects.create(name="Flowers", kind="classification")
    with pytest.raises(ValidationError, match="learns from a detection dataset"):
        detector_start(dataset=flowers)
    empty = _squares(staff_user, 0, name="Nothing finished", todo=3)
    with pytest.raises(ValidationError, match=r"at least 2 finished photos.*this dataset has 0 \(3 not annotated"):
        detector_start(dataset=empty)
    r = staff_client.post("/training/detectors/", {"dataset": empty.pk, "backbone": "efficientnet_lite0",
                                                   "input_size": 320, "epochs": 5, "fine_tune_epochs": 0})
    assert r.status_code == 200 and "this dataset has 0" in r.content.decode()
    tiny = _squares(staff_user, 0, name="Slips", tiny=3)
    with pytest.raises(ValidationError, match="hold no box of at least 4 px"):
        detector_start(dataset=tiny)
    marked = _squares(staff_user, 0, name="Nothing there", todo=2)
    for img in marked.images.all():
        image_no_objects_set(image=img, value=True, user=staff_user)
    with pytest.raises(ValidationError, match="hold no box: draw boxes"):
        detector_start(dataset=marked)

    ds = _squares(staff_user, 3, tiny=1)
    check = detector_check(dataset=ds)
    assert check.problems == [] and check.photos == 4 and check.boxes == {"square": 3}
    assert any("“circle” has no boxes" in w for w in check.warnings)
    assert any("1 box under 4 px" in w for w in check.warnings)
    assert any("“square” has only 3 boxes" in w for w in check.warnings)
    for kw, words in (({"options": {"colour": "red"}}, "Unknown detector setting: colour"),
                      ({"input_size": 300}, "Input size must be one of"), ({"epochs": 0}, "Epochs must be 1..300"),
                      ({"backbone": "vgg16"}, "cannot train a detector here")):
        with pytest.raises(ValidationError, match=words):
            detector_start(dataset=ds, **kw)
    assert not Job.objects.filter(kind="training.detector").exists()
    job = detector_start(dataset=ds, epochs=3)
    assert detector_start(dataset=ds, epochs=3) == job  # a double click finds its job
    with pytest.raises(ValidationError, match="already queued"):
        detector_start(dataset=ds, epochs=4)


def test_unknown_deleted_or_unshared_detectors_get_a_clear_answer(staff_client, staff_user, django_user_model):
    from django.test import Client

    ds = _squares(staff_user, 0, name="Rows only")
    mv = ModelVersion.objects.create(kind="detector", name="fcos", dataset=ds, version=1, active=True,
                                     path="/nonexistent/detector.keras", classes=["square"])
    old = ModelVersion.objects.create(kind="detector", name="fcos", dataset=ds, version=2, active=False,
                                      path="/nonexistent/detector.keras", classes=["square"])
    for detector in ("trained:999999", f"trained:{old.pk}", "trained:x", "yolo"):
        r = staff_client.post("/api/detect", {"detector": detector, "photo": _upload(1)})
        body = r.json()
        assert r.status_code == 400 and "There is no detector" in body["message"] and "detector" in body["fields"]
    r = staff_client.post("/detect/", {"detector": "trained:999999", "photo": _upload(1)})
    assert r.status_code == 400 and "There is no detector" in r.content.decode()
    # made active on its page (one active version per dataset), the older version is offered instead
    assert staff_client.post(f"/training/models/{old.pk}/activate/").status_code == 302
    r = staff_client.post("/api/detect", {"detector": f"trained:{old.pk}", "photo": _upload(1)})
    assert r.status_code == 202 and not ModelVersion.objects.get(pk=mv.pk).active
    assert f"trained:{mv.pk}" not in staff_client.get("/detect/").content.decode()
    ModelVersion.objects.filter(pk=mv.pk).update(active=True)
    ModelVersion.objects.filter(pk=old.pk).update(active=False)
    outsider = Client()
    outsider.force_login(django_user_model.objects.create_user("outsider", password="pw-out-1"))
    r = outsider.post("/api/detect", {"detector": f"trained:{mv.pk}", "photo": _upload(1)})
    assert r.status_code == 400 and "not shared with you" in r.json()["message"]
    assert f"trained:{mv.pk}" not in outsider.get("/detect/").content.decode()

    # its file gone: the job fails in words; the version deleted after the photo was sent: likewise
    r = staff_client.post("/api/detect", {"detector": f"trained:{mv.pk}", "photo": _upload(1)})
    job = _run(Job.objects.get(pk=r.json()["job"]["id"]), "detect")
    assert job.state == "failed" and "missing" in job.error
    r = staff_client.post("/api/detect", {"detector": f"trained:{mv.pk}", "photo": _upload(2)})
    mv.delete()
    job = _run(Job.objects.get(pk=r.json()["job"]["id"]), "detect")
    assert job.state == "failed" and job.error_code == "deleted" and "There is no detector" in job.error
    with pytest.raises(Exception, match="There is no detector"):
        call_command("evaluate_detectors", "--dataset", str(ds.pk), "--detector", "trained:999999")


def test_detector_pages_need_a_login_and_the_csrf_token(client, django_user_model):
    from django.test import Client

    assert client.get("/training/detectors/").status_code == 302
    r = client.post("/api/detect", {"detector": "dlib_hog_face"})
    assert r.status_code == 401 and r.json()["code"] == "not_authenticated"
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_user("u", password="pw-u-1"))
    assert strict.get("/training/detectors/").status_code == 200
    assert strict.post("/training/detectors/", {"epochs": 2}).status_code == 403
    r = strict.post("/api/detect", {"detector": "dlib_hog_face", "photo": _upload(1)})
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
