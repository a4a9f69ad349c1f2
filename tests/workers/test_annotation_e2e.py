"""Annotation jobs through a real Celery worker and broker (Redis + PostgreSQL,
and, marked ``embedded``, SQLite + the filesystem broker)."""

import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import wait_for_job
from tests.webapp.annotation.conftest import png_bytes, zip_of_pngs

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.embedded]


def test_export_and_detect_through_the_worker(celery_worker_process, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from tests.shared_data import shared_path
    from webapp.annotation import jobs
    from webapp.annotation.services import box_create, detection_dataset_create
    from webapp.datasets.services import dataset_image_add

    ds = detection_dataset_create(name="e2e", classes=["thing"])
    for i in range(3):
        img = dataset_image_add(dataset=ds, name=f"p{i}.png", data=png_bytes((40 + i, 30), (i, 2, 3)))
        box_create(image=img, label_id=ds.classes.get().pk, box=(1, 2, 20, 25), user=admin_user)
    job, _ = jobs.export_enqueue(dataset=ds, user=admin_user, num_shards=2)
    job = wait_for_job(job.pk, timeout=180)
    assert job.state == "succeeded", (job.error, job.traceback[-1500:])
    with zipfile.ZipFile(Path(settings.MEDIA_ROOT) / job.result["file"]) as zf:
        assert len(zf.read("annotations.csv").decode().strip().splitlines()) == 4

    c = Client()
    c.force_login(admin_user)
    photo = shared_path("datasets", "detection", "dlib_faces", "images", "2008_001322.jpg")
    resp = c.post("/api/detect", {"photo": SimpleUploadedFile("f.jpg", photo.read_bytes()), "detector": "dlib_hog_face"})
    assert resp.status_code == 202
    job = wait_for_job(resp.json()["job"]["id"], timeout=120)
    assert job.state == "succeeded" and len(job.result["boxes"]) >= 2, job.error
    assert celery_worker_process.poll() is None


def test_photo_upload_on_the_annotation_page_is_imported_by_the_worker(celery_worker_process, admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.annotation.services import detection_dataset_create
    from webapp.jobs.models import Job

    ds = detection_dataset_create(name="e2e-upload", classes=["thing"])
    archive = zip_of_pngs(3, extra={".hidden.png": png_bytes((40, 30))})
    resp = admin_client.post(f"/annotate/{ds.pk}/upload/", {"archive": SimpleUploadedFile("p.zip", archive),
                                                              "photos": [SimpleUploadedFile("one.png", png_bytes((41, 30)))]})
    assert resp.status_code == 302
    job = wait_for_job(Job.objects.get(kind="datasets.import", params__dataset_id=ds.pk).pk, timeout=120)
    assert job.state == "succeeded" and job.result["added"] == 4 and job.progress == 1, (job.error, job.traceback[-1500:])
    assert set(ds.images.values_list("original_name", flat=True)) == {"set/0.png", "set/1.png", "set/2.png", "one.png"}
    assert not Path(job.params["staging"]).exists()
    assert celery_worker_process.poll() is None
