"""One handler for a job queue that is down (``ServiceErrorMiddleware``):
every page and API that starts a job answers 503 with the same sentence, in
JSON on the API, and what was uploaded stays stored."""

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from webapp.checkin.models import CheckInPhoto
from webapp.datasets.models import Dataset
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs for real, inside the request


def _png(name="p.png"):
    buf = io.BytesIO()
    Image.fromarray(np.full((40, 60, 3), 120, np.uint8)).save(buf, "PNG")
    return SimpleUploadedFile(name, buf.getvalue(), content_type="image/png")


@pytest.fixture
def broker_down(monkeypatch):
    from webapp.celery import app

    def down(*a, **k):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(app, "send_task", down)


def test_api_answers_json_503(staff_client, broker_down):
    r = staff_client.post("/api/checkins", {"photo": _png()})
    assert r.status_code == 503 and r["Content-Type"].startswith("application/json")
    assert r.json()["code"] == "queue_unavailable" and "not reachable" in r.json()["message"]
    assert CheckInPhoto.objects.count() == 1  # the photo is kept, its job marked failed in words
    assert Job.objects.get().error_code == "queue_unavailable"


def test_pages_answer_the_error_page_with_503(staff_client, broker_down):
    gallery = Dataset.objects.create(name="g", kind=Dataset.Kind.GALLERY)
    r = staff_client.post(f"/search/galleries/{gallery.pk}/embed/")
    assert r.status_code == 503 and "not reachable" in r.content.decode()
    r = staff_client.post("/search/classify/", {"photo": _png()})
    assert r.status_code == 503 and "not reachable" in r.content.decode()


def test_retry_with_the_queue_down_says_so(staff_client, broker_down):
    job = Job.objects.create(kind="x.y", task_name="workers.x.y", state=Job.State.FAILED, error="boom")
    r = staff_client.post(f"/jobs/{job.pk}/retry/")
    assert r.status_code == 503 and "not reachable" in r.content.decode()
    job.refresh_from_db()
    assert job.state == "failed" and job.error_code == "queue_unavailable"
