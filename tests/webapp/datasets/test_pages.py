import io
import zipfile
from pathlib import Path

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

    job = Job.objects.filter(kind="datasets.import").latest("id")
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


def _staging_dirs():
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT) / "staging"
    return set(root.iterdir()) if root.exists() else set()


def test_bad_uploads_are_refused_in_words_with_no_job_and_nothing_staged(staff_client, settings):
    ds = Dataset.objects.create(name="G", kind="gallery")
    before = _staging_dirs()
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": SimpleUploadedFile("x.zip", b"not a zip")})
    assert r.status_code == 200 and "“x.zip” is not a zip file" in r.content.decode()
    r = staff_client.post(f"/datasets/{ds.pk}/", {"class_name": ""})
    assert r.status_code == 200 and "Choose some photos or a zip file." in r.content.decode()
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": SimpleUploadedFile("empty.zip", b"")})
    page = r.content.decode()  # a file was chosen: its own error, not "choose a file"
    assert r.status_code == 200 and "The file is empty (0 bytes)." in page and "Choose some photos" not in page
    settings.MAX_UPLOAD_BYTES = 100
    r = staff_client.post(f"/datasets/{ds.pk}/", {"photos": [SimpleUploadedFile("big.jpg", _jpeg((1, 2, 3)))]})
    assert r.status_code == 200 and "“big.jpg” is " in r.content.decode() and "the limit is" in r.content.decode()
    settings.MAX_ZIP_BYTES = 100
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip_upload({"a.jpg": _jpeg((1, 2, 3))})})
    assert "for a zip file (split it in parts)" in r.content.decode()
    assert not Job.objects.exists() and _staging_dirs() == before


def test_service_refuses_an_empty_upload():
    from webapp.datasets.services import dataset_upload

    with pytest.raises(ValueError, match="Choose some photos or a zip file."):
        dataset_upload(dataset=Dataset.objects.create(name="E", kind="gallery"), photos=[])


def test_a_zip_damaged_after_the_check_fails_the_job_in_words(staff_client):
    ds = Dataset.objects.create(name="G", kind="gallery")
    staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip_upload({"a.jpg": _jpeg((1, 2, 3))})})
    job = Job.objects.get(kind="datasets.import")
    (path,) = job.params["paths"]
    Path(path).write_bytes(b"not a zip any more")
    job = _run_last_import()
    assert job.state == "failed" and job.error_code == "invalid_archive" and "not a zip" in job.error
    assert not Path(job.params["staging"]).exists()


@pytest.mark.parametrize("entries", [{}, {".DS_Store": b"x", "__MACOSX/._a.jpg": b"x"}], ids=["empty", "only-hidden"])
def test_a_zip_with_nothing_to_import_says_so_and_keeps_the_photos_there(staff_client, entries):
    ds = Dataset.objects.create(name="G", kind="gallery")
    staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip_upload({"a.jpg": _jpeg((1, 2, 3))})})
    assert _run_last_import().state == "succeeded" and ds.images.count() == 1
    staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip_upload(entries)})
    job = _run_last_import()
    assert job.state == "failed" and job.error_code == "invalid_archive"
    assert job.error == "The zip file holds no files (hidden ones aside), so there was nothing to import."
    assert ds.images.count() == 1 and job.error in staff_client.get(f"/datasets/{ds.pk}/").content.decode()


def test_photos_keep_their_names_and_a_zip_with_them_is_imported_too(staff_client):
    ds = Dataset.objects.create(name="D", kind="detection")
    photos = [SimpleUploadedFile("a.jpg", _jpeg((10, 0, 0))), SimpleUploadedFile("a.jpg", _jpeg((20, 0, 0))),
              SimpleUploadedFile(".b.jpg", _jpeg((30, 0, 0)))]
    r = staff_client.post(f"/datasets/{ds.pk}/", {"photos": photos, "archive": _zip_upload({"z/c.jpg": _jpeg((0, 0, 9))})})
    assert r.status_code == 302
    job = _run_last_import()
    assert job.state == "succeeded" and job.result["added"] == 4, job.result
    names = set(ds.images.values_list("original_name", flat=True))
    assert names == {"a.jpg", "00001/a.jpg", "b.jpg", "z/c.jpg"}
    assert staff_client.get(f"/api/jobs/{job.pk}").json()["params"].keys() == {"dataset_id", "labels_from_folders"}


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
    job = wait_for_job(Job.objects.get(kind="datasets.import").pk)
    assert job.state == "succeeded" and job.result["added"] == 6
    assert DatasetImage.objects.filter(dataset=ds, status="ok").count() == 6
