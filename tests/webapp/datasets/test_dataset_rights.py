"""Who may change a dataset (one rule for the datasets and annotation pages,
issue 13), and deleting a dataset with what goes with it."""

import io
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import dataset_image_add
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def _jpeg(color):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (20, 16), color).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def assigned(django_user_model, staff_user):
    """A detection dataset created by staff, with one photo, and an annotator assigned to it."""
    from django.contrib.auth.models import Group

    ds = Dataset.objects.create(name="Street", kind="detection", created_by=staff_user)
    dataset_image_add(dataset=ds, name="a.jpg", data=_jpeg((9, 9, 9)))
    annie = django_user_model.objects.create_user("annie", password="x")
    annie.groups.add(Group.objects.get_or_create(name="annotators")[0])
    ds.members.add(annie)
    return ds, annie


def test_an_assigned_annotator_can_neither_add_nor_delete_photos_on_either_page(client, assigned):
    ds, annie = assigned
    image = ds.images.get()
    client.force_login(annie)
    page = client.get(f"/datasets/{ds.pk}/")
    assert page.status_code == 200 and 'name="archive"' not in page.content.decode()
    assert "Delete this dataset" not in page.content.decode()
    upload = {"photos": [SimpleUploadedFile("b.jpg", _jpeg((1, 1, 1)))]}
    assert client.post(f"/datasets/{ds.pk}/", upload).status_code == 403
    assert client.post(f"/datasets/{ds.pk}/images/{image.pk}/delete/").status_code == 403
    upload = {"photos": [SimpleUploadedFile("b.jpg", _jpeg((1, 1, 1)))]}
    assert client.post(f"/annotate/{ds.pk}/upload/", upload).status_code == 403
    assert client.get(f"/datasets/{ds.pk}/delete/").status_code == 403
    assert client.post(f"/datasets/{ds.pk}/delete/").status_code == 403
    assert ds.images.count() == 1 and not Job.objects.exists() and Dataset.objects.filter(pk=ds.pk).exists()
    assert client.get(f"/annotate/{ds.pk}/").status_code == 200  # annotating stays theirs


def test_a_non_staff_creator_may_add_photos_on_both_pages(client, django_user_model):
    owner = django_user_model.objects.create_user("owner", password="x")
    ds = Dataset.objects.create(name="Mine", kind="detection", created_by=owner)
    client.force_login(owner)
    for url in (f"/datasets/{ds.pk}/", f"/annotate/{ds.pk}/upload/"):
        r = client.post(url, {"photos": [SimpleUploadedFile("b.jpg", _jpeg((1, 2, 3)))]})
        assert r.status_code == 302, url
    assert Job.objects.filter(kind="datasets.import").count() == 2


def _trained(ds):
    """A model version with its files and the job that made it, laid out as the training job lays them out."""
    job = Job.objects.create(kind="training.classifier", state="succeeded", params={"dataset_id": ds.pk})
    folder = Path(settings.TRAINED_MODELS_DIR) / "classifiers" / f"dataset-{ds.pk}" / f"job-{job.pk}"
    folder.mkdir(parents=True)
    (folder / "model.keras").write_bytes(b"k")
    run = Path(settings.TRAINED_MODELS_DIR) / "runs" / f"job-{job.pk}"
    run.mkdir(parents=True)
    ModelVersion.objects.create(kind="classifier", name="m", dataset=ds, version=1, path=str(folder / "model.keras"),
                                job=job)
    return job, folder, run


def test_deleting_a_dataset_asks_first_with_counts_then_removes_rows_and_files(
        client, django_user_model, django_capture_on_commit_callbacks):
    owner = django_user_model.objects.create_user("owner", password="x")
    ds = Dataset.objects.create(name="Flowers", kind="classification", created_by=owner)
    rows = [dataset_image_add(dataset=ds, name=f"{i}.jpg", data=_jpeg((i, 0, 0))) for i in (10, 20)]
    files = [Path(p) for r in rows for p in (r.file.path, r.thumbnail.path)]
    job, folder, run = _trained(ds)
    other = Dataset.objects.create(name="Other", kind="classification", created_by=owner)
    other_job, other_folder, _ = _trained(other)
    client.force_login(owner)
    page = client.get(f"/datasets/{ds.pk}/delete/").content.decode()
    assert "<strong>2</strong> photos" in page and "<strong>1</strong> model trained" in page
    assert "<strong>1</strong> job that" in page and Dataset.objects.filter(pk=ds.pk).exists()  # GET deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"/datasets/{ds.pk}/delete/")
    assert r.status_code == 302 and r.url == "/datasets/"
    assert not Dataset.objects.filter(pk=ds.pk).exists() and not DatasetImage.objects.filter(dataset_id=ds.pk).exists()
    assert list(ModelVersion.objects.values_list("dataset_id", flat=True)) == [other.pk]
    assert list(Job.objects.values_list("pk", flat=True)) == [other_job.pk]
    assert not any(f.exists() for f in files) and not folder.parent.exists() and not run.exists()
    assert (other_folder / "model.keras").exists()  # another dataset's model is untouched


def test_a_dataset_with_a_running_job_is_not_deleted(staff_client, staff_user):
    ds = Dataset.objects.create(name="Busy", kind="classification", created_by=staff_user)
    job = Job.objects.create(kind="datasets.import", state="running", params={"dataset_id": ds.pk})
    page = staff_client.get(f"/datasets/{ds.pk}/delete/").content.decode()
    assert f"#{job.pk}</a> still queued or running" in page
    r = staff_client.post(f"/datasets/{ds.pk}/delete/")
    assert r.status_code == 409 and "still queued or running" in r.content.decode()
    assert Dataset.objects.filter(pk=ds.pk).exists() and Job.objects.filter(pk=job.pk).exists()


def test_delete_is_post_only(staff_client, staff_user):
    ds = Dataset.objects.create(name="X", kind="gallery", created_by=staff_user)
    assert staff_client.put(f"/datasets/{ds.pk}/delete/").status_code == 405
    assert Dataset.objects.filter(pk=ds.pk).exists()
