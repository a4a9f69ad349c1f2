"""Text-line readers in the product (issue 16): training as a job on a
text-lines dataset of synthetic card lines, the reader's page with its
figures and the lines it skipped, fine-tuning, the Read page and
``POST /api/ocr`` on the interactive queue, bad photos and datasets refused in
words. The reader is tiny (8 filters, 16 GRU units, two epochs): these tests
check the wiring, not the accuracy (``tests/vision/ocr`` and ``bench/ocr.py``)."""

import io
from dataclasses import asdict

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_image_add
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion
from webapp.training import services

pytestmark = pytest.mark.django_db
#: A reader small enough to train in seconds (job ``options``, as the command line may set them); one batch of
#: the 16-17 training lines, so Keras traces the training step once.
TINY = {"filters": 8, "rnn_units": 16, "batch_size": 17}


def _png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def _upload(pixels: np.ndarray, name: str = "line.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, _png(pixels), content_type="image/png")


def _card_lines(name: str, n: int, seed: int = 7, **kw) -> Dataset:
    from vision.ocr.synth import synthetic_cards

    ds = Dataset.objects.create(name=name, kind=Dataset.Kind.TEXT_LINES, **kw)
    for i, line in enumerate(synthetic_cards(n, seed, line=True)):
        dataset_image_add(dataset=ds, name=f"card-{i:02d}.png", data=_png(line.pixels), text=line.text)
    return ds


def _run(job, task="ocr"):
    import workers.training

    getattr(workers.training, task).apply(args=[job.pk])
    job.refresh_from_db()
    return job


def test_a_reader_is_trained_as_a_job_fine_tuned_and_reads_on_the_read_page_and_the_api(staff_client, monkeypatch):
    from vision.ocr.synth import synthetic_cards

    ds = _card_lines("Cards", 24)
    odd = synthetic_cards(1, 9, line=True)[0].pixels  # its label has letters a card reader does not read
    dataset_image_add(dataset=ds, name="odd-label.png", data=_png(odd), text="4111 1111 1111 111X")
    r = staff_client.post("/training/readers/", {"dataset": ds.pk, "preset": "card_line", "epochs": 2, "pattern": ""})
    job = Job.objects.get(kind="training.ocr")
    assert r.status_code == 302 and r.url == f"/training/jobs/{job.pk}/"
    assert job.queue.endswith("batch") and job.params["epochs"] == 2 and job.params["options"] == {}
    Job.objects.filter(pk=job.pk).update(params={**job.params, "options": TINY})
    job = _run(job)
    assert job.state == "succeeded", job.error + job.traceback
    h = job.result["history"]
    assert [len(h[k]) for k in ("loss", "val_loss", "val_accuracy", "val_cer")] == [2, 2, 2, 2]
    assert "validation lines read exactly" in job.message and "1 line skipped" in job.message
    mv = ModelVersion.objects.get(kind="ocr")
    m = mv.metrics
    assert mv.active and mv.name == "crnn-card_line" and mv.path.endswith("reader.keras") and m["preset"] == "card_line"
    assert m["options"]["filters"] == 8 and m["n_train"] + m["n_val"] == 24 and m["metrics"]["n"] == m["n_val"]
    assert [s["file"] for s in m["skipped"]] == ["odd-label.png"] and "does not know" in m["skipped"][0]["reason"]
    train_ids = set(ds.images.filter(split="train").values_list("id", flat=True))
    assert train_ids and not train_ids & set(ds.images.filter(split="val").values_list("id", flat=True))

    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    for words in ("full-line accuracy", "character error rate", "accepted but wrong", "flagged", "cer-chart",
                  "Validation lines", "odd-label.png", "does not know", "Characters confused", "Read a photo with it"):
        assert words in page, words
    assert m["samples"][0]["truth"] in page
    assert f"/training/models/{mv.pk}/files/reader.tflite" in page  # the phone download, tested in tests/vision/ocr
    lite = staff_client.get(f"/training/models/{mv.pk}/files/reader.tflite")
    assert lite.status_code == 200 and b"TFL3" in b"".join(lite.streaming_content)[:8]
    job_page = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "text-line reader" in job_page and "Validation CER" in job_page and "Card-number lines" in job_page
    listing = staff_client.get("/training/readers/").content.decode()
    assert mv.name in listing and "Cards" in listing
    assert "Train a text-line reader" in staff_client.get("/training/").content.decode()

    # fine-tuning the active reader: its architecture is kept; as good on the same lines, so made active
    tuned = _run(services.ocr_start(dataset=ds, epochs=1, base_model_version_id=mv.pk,
                                    options={"batch_size": TINY["batch_size"]}))
    assert tuned.state == "succeeded", tuned.error + tuned.traceback
    mv2 = ModelVersion.objects.get(job=tuned)
    assert mv2.version == 2 and mv2.metrics["options"]["rnn_units"] == 16 and mv2.params["base_model_version_id"] == mv.pk
    assert mv2.active == (mv2.metrics["metrics"]["accuracy"] >= m["metrics"]["accuracy"])
    assert "Fine-tuned from" in staff_client.get(f"/training/jobs/{tuned.pk}/").content.decode()
    mv.refresh_from_db()
    reader = mv2 if mv2.active else mv

    # the Read page: a photo read on the interactive queue
    photo = synthetic_cards(1, 8, line=True)[0].pixels
    assert f'value="{reader.pk}"' in staff_client.get("/training/read/").content.decode()
    r = staff_client.post("/training/read/", {"model_version_id": reader.pk, "photo": _upload(photo)})
    read = Job.objects.get(kind="training.read")
    assert r.status_code == 302 and r.url == f"/training/read/?job={read.pk}" and read.queue.endswith("interactive")
    read = _run(read, "read")
    assert read.state == "succeeded", read.error + read.traceback
    assert len(read.result["confidences"]) == len(read.result["text"]) and read.result["model_version_id"] == reader.pk
    page = staff_client.get(r.url).content.decode()
    assert ("Under each character" in page) == bool(read.result["text"]) and "Read a text line" in page
    assert staff_client.get(read.params["url"]).status_code == 200  # the user's own upload

    # the API: answered once read (here the task runs where the worker would), or 202 to ask again
    from vision.ocr.text import Rule
    from webapp.training import views
    from workers.training import read as read_task

    r = staff_client.post("/api/ocr", {"model_version_id": reader.pk, "photo": _upload(photo), "wait": "0"})
    assert r.status_code == 202 and r.json()["job"]["kind"] == "training.read"
    monkeypatch.setattr(views, "job_wait", lambda job_id, timeout: read_task.apply(args=[job_id]) and True)
    r = staff_client.post("/api/ocr", {"model_version_id": reader.pk, "photo": _upload(photo)})
    body = r.json()
    assert r.status_code == 200, body
    assert {"text", "confidences", "confidence", "problem", "suggestion", "model_version_id"} <= set(body)
    assert body["model_version_id"] == reader.pk and len(body["confidences"]) == len(body["text"])
    from vision.ocr.decode import NO_TEXT

    # the reader's rule, checked on what it read; a 2-epoch reader may read nothing: said in words
    assert body["problem"] == (Rule("card").check(body["text"]) if body["text"] else NO_TEXT)


def test_a_reading_is_shown_per_character_with_the_rule_check_and_a_suggestion(staff_client, staff_user):
    """The Read page draws each character over its confidence, spaces a card number in groups of
    four, and offers a passing beam candidate as "Did you mean", never in place of the reading."""
    text = "4111111111111112"  # the check digit is wrong: 4111 1111 1111 1111 passes
    confidences = [0.99] * 12 + [0.97, 0.96, 0.95, 0.41]
    job = Job.objects.create(kind="training.read", state=Job.State.SUCCEEDED, created_by=staff_user,
                             params={"model_version_id": 1, "url": "", "pattern": ""},
                             result={"text": text, "grouped": "4111 1111 1111 1112", "confidences": confidences,
                                     "confidence": 0.41, "model_version_id": 1, "suggestion": "4111111111111111",
                                     "problem": "The check digit is wrong (Luhn): at least one digit was misread."})
    page = staff_client.get(f"/training/read/?job={job.pk}").content.decode()
    assert "<code>4111 1111 1111 1112</code>" in page and "Did you mean <code>4111 1111 1111 1111</code>" in page
    assert "The check digit is wrong" in page
    assert page.count('class="glyph"') == 16 and page.count('class="group"') == 4 and page.count('class="ch low"') == 1
    assert 'style="width:41%"' in page and "41 %" in page
    from vision.ocr.decode import NO_TEXT  # a photo with no text: said once, in words, no empty line drawn

    nothing = Job.objects.create(kind="training.read", state=Job.State.SUCCEEDED, created_by=staff_user,
                                 params={"model_version_id": 1, "url": "", "pattern": ""},
                                 result={"text": "", "grouped": "", "confidences": [], "confidence": 0.0,
                                         "model_version_id": 1, "suggestion": "", "problem": NO_TEXT})
    page = staff_client.get(f"/training/read/?job={nothing.pk}").content.decode()
    assert page.count("No text was found on this photo") == 1 and 'class="glyph"' not in page


def _reader_row(dataset) -> ModelVersion:
    """A reader version as registered (its options say what input it takes); no model file: the
    web side checks a photo against the input before any worker loads the model."""
    from vision.training.ocr import CARD_LINE

    return ModelVersion.objects.create(kind="ocr", name="crnn-card_line", dataset=dataset, version=1, active=True,
                                       path="/nonexistent/reader.keras", params={"preset": "card_line"},
                                       metrics={"options": asdict(CARD_LINE), "preset": "card_line",
                                                "metrics": {"accuracy": 0.5, "cer": 0.1, "confusions": {}}})


def test_photos_a_reader_cannot_take_are_refused_in_words_before_a_worker_is_asked(staff_client, django_user_model):
    from django.test import Client

    LINE = np.random.default_rng(0).integers(0, 255, (48, 300, 3)).astype(np.uint8)  # a photo it could read

    reader = _reader_row(Dataset.objects.create(name="Lines", kind="text_lines"))

    def post(pixels=None, **data):
        photo = _upload(pixels) if pixels is not None else data.pop("photo", None)
        return staff_client.post("/api/ocr", {"model_version_id": reader.pk, **({"photo": photo} if photo else {}),
                                              **data})

    r = post(np.zeros((48, 300, 3), np.uint8))  # a blank photo: nothing to read
    assert r.status_code == 400 and "blank" in r.json()["message"]
    r = post(np.full((6, 8, 3), 200, np.uint8))
    assert r.status_code == 400 and r.json()["code"] == "invalid_image" and "8×6 px: too small" in r.json()["message"]
    r = post(np.full((48, 9641, 3), 200, np.uint8))
    assert r.status_code == 400 and "crop it into shorter lines" in r.json()["message"]
    assert "9641×48" in r.json()["message"]
    r = post(photo=SimpleUploadedFile("x.png", b"<html>not a photo</html>"))
    assert r.status_code == 400 and "not an image" in r.json()["message"]
    r = post()
    assert r.status_code == 400 and r.json()["code"] == "required"
    r = post(LINE, pattern="[A-Z")
    assert r.status_code == 400 and "not a regular expression" in r.json()["message"]
    r = post(LINE, wait="60")
    assert r.status_code == 400 and r.json()["fields"] == {"wait": [r.json()["message"]]}
    r = staff_client.post("/training/read/", {"model_version_id": reader.pk,
                                              "photo": _upload(np.full((6, 8, 3), 200, np.uint8))})
    assert r.status_code == 200 and "too small to hold a line of text" in r.content.decode()
    outsider = Client()
    outsider.force_login(django_user_model.objects.create_user("outsider", password="pw-out-1"))
    r = outsider.post("/api/ocr", {"model_version_id": reader.pk,
                                   "photo": _upload(LINE)})
    assert r.status_code == 400 and "no text-line reader with this id" in r.json()["message"]
    assert outsider.get(f"/training/models/{reader.pk}/").status_code == 403
    assert not Job.objects.filter(kind="training.read").exists()


def test_datasets_and_settings_that_cannot_train_a_reader_are_refused_in_words(staff_client):
    flowers = Dataset.objects.create(name="Flowers", kind="classification")
    with pytest.raises(ValidationError, match="learns from a text-lines dataset"):
        services.ocr_start(dataset=flowers)
    few = _card_lines("Few", 5)
    with pytest.raises(ValidationError, match="at least 20 readable photos with their text.*this dataset has 5"):
        services.ocr_start(dataset=few)
    r = staff_client.post("/training/readers/", {"dataset": few.pk, "preset": "card_line", "epochs": 2})
    assert r.status_code == 200 and "this dataset has 5" in r.content.decode()
    ds = _card_lines("Enough", 20)
    with pytest.raises(ValidationError, match="A pattern is for plates"):
        services.ocr_start(dataset=ds, pattern="[0-9]{16}")
    with pytest.raises(ValidationError, match="not a regular expression"):
        services.ocr_start(dataset=ds, preset="plate", pattern="[A-Z")
    with pytest.raises(ValidationError, match="Unknown reader setting: colour"):
        services.ocr_start(dataset=ds, options={"colour": "red"})
    with pytest.raises(ValidationError, match="Epochs must be 1–500"):
        services.ocr_start(dataset=ds, epochs=0)
    plates = _reader_row(ds)
    ModelVersion.objects.filter(pk=plates.pk).update(params={"preset": "plate"})
    with pytest.raises(ValidationError, match="active reader trained with the same preset"):
        services.ocr_start(dataset=ds, base_model_version_id=plates.pk)
    assert not Job.objects.filter(kind="training.ocr").exists()
    job = services.ocr_start(dataset=ds, epochs=3)
    assert services.ocr_start(dataset=ds, epochs=3) == job  # a double click finds its job
    with pytest.raises(ValidationError, match="already queued"):
        services.ocr_start(dataset=ds, epochs=4)
