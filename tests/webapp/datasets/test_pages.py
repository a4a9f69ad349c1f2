import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import wait_for_job
from tests.shared_data import shared_path
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def _jpeg(color):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (20, 20), color).save(buf, "JPEG")
    return buf.getvalue()


def _zip_upload(entries):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in entries.items():
            zf.writestr(n, d)
    return SimpleUploadedFile("set.zip", buf.getvalue(), content_type="application/zip")


def _run_last_import():
    from workers.datasets import import_upload

    job = Job.objects.filter(kind="dataset_import").latest("id")
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def test_create_upload_zip_and_see_counts(staff_client):
    r = staff_client.post("/datasets/new/", {"name": "Flowers", "kind": "classification", "validation_fraction": 0.3,
                                             "split_seed": 42})
    ds = Dataset.objects.get()
    assert r.status_code == 302
    z = _zip_upload({"daisy/a.jpg": _jpeg((255, 255, 0)), "rose/b.jpg": _jpeg((255, 0, 0)),
                     "rose/bad.jpg": b"<html>", "../escape.jpg": _jpeg((1, 1, 1))})
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": z})
    assert r.status_code == 302 and "?job=" in r.url
    job = _run_last_import()
    assert job.state == "succeeded" and job.result["added"] == 2
    page = staff_client.get(f"/datasets/{ds.pk}/").content.decode()
    assert "daisy" in page and "rose" in page and "could not be read" in page and "bad.jpg" in page
    assert "outside the archive" in page  # the skipped zip-slip entry is listed
    assert "fewer than 10 photos" in page


def test_single_photos_need_a_class_name_for_classification(staff_client):
    ds = Dataset.objects.create(name="F", kind="classification")
    f = SimpleUploadedFile("x.jpg", _jpeg((0, 0, 255)), content_type="image/jpeg")
    r = staff_client.post(f"/datasets/{ds.pk}/", {"photos": [f]})
    assert r.status_code == 200 and "Name the class" in r.content.decode()
    f.seek(0)
    staff_client.post(f"/datasets/{ds.pk}/", {"photos": [f], "class_name": "sky"})
    _run_last_import()
    assert ds.images.get().label.name == "sky"


def test_not_a_zip_fails_the_job_in_words(staff_client):
    ds = Dataset.objects.create(name="G", kind="gallery")
    staff_client.post(f"/datasets/{ds.pk}/", {"archive": SimpleUploadedFile("x.zip", b"not a zip")})
    job = _run_last_import()
    assert job.state == "failed" and "not a zip" in job.error


def test_datasets_are_private_to_their_users(client, django_user_model):
    owner = django_user_model.objects.create_user("owner", password="x")
    other = django_user_model.objects.create_user("other", password="x")
    ds = Dataset.objects.create(name="Mine", kind="gallery", created_by=owner)
    client.force_login(other)
    assert client.get(f"/datasets/{ds.pk}/").status_code == 403
    assert "Mine" not in client.get("/datasets/").content.decode()
    ds.members.add(other)
    assert client.get(f"/datasets/{ds.pk}/").status_code == 200


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
@pytest.mark.embedded
def test_import_through_the_worker(celery_worker_process, staff_client):
    ds = Dataset.objects.create(name="W", kind="classification")
    folder = shared_path("datasets", "categories")
    entries = {f"{c}/{p.name}": p.read_bytes() for c in ("daisy", "iris") for p in sorted((folder / c).glob("*.jpg"))[:3]}
    staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip_upload(entries)})
    job = wait_for_job(Job.objects.get(kind="dataset_import").pk)
    assert job.state == "succeeded" and job.result["added"] == 6
    assert DatasetImage.objects.filter(dataset=ds, status="ok").count() == 6
