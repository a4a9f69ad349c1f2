"""Annotation tasks called in-process: export zip, pre-annotate, detect, and the
photo uploads of the annotation page (through the datasets import job)."""

import io
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from tests.webapp.annotation.conftest import png_bytes, zip_of_pngs
from webapp.annotation import jobs
from webapp.annotation.models import Box
from webapp.annotation.services import box_create, detection_dataset_create
from webapp.datasets.services import dataset_image_add
from webapp.jobs.models import Job
from workers import annotation as tasks
from workers.datasets import import_upload

pytestmark = pytest.mark.django_db

FACES = ["2008_001322.jpg", "2007_007763.jpg"]


def _face_dataset(n=2):
    ds = detection_dataset_create(name="faces", classes=["face"])
    for name in FACES[:n]:
        dataset_image_add(dataset=ds, name=name, data=shared_path("datasets", "detection", "dlib_faces", "images", name).read_bytes())
    return ds


def test_export_job_writes_the_zip_and_the_page_serves_it(staff_client, staff_user):
    ds = _face_dataset()
    for img in ds.images.all():
        box_create(image=img, label_id=ds.classes.get().pk, box=(10, 10, 50, 60), user=staff_user)
    job, created = jobs.export_enqueue(dataset=ds, user=staff_user, num_shards=3)
    assert created and jobs.export_enqueue(dataset=ds, user=staff_user)[0] == job  # same key: the running job back
    tasks.export.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.result["boxes"] == 2 and job.result["photos"] == 2 and len(job.result["shards"]) == 6
    resp = staff_client.get(f"/annotate/exports/{job.pk}/")
    assert resp.status_code == 200 and resp["Content-Disposition"].startswith('attachment; filename="faces-detection.zip"')
    with zipfile.ZipFile(io.BytesIO(b"".join(resp.streaming_content))) as zf:
        assert zf.read("annotations.csv").decode().splitlines()[1].endswith(",10,10,50,60,face")
    assert "Download the zip" in staff_client.get(f"/annotate/{ds.pk}/").content.decode()
    assert f'href="/annotate/exports/{job.pk}/">Download the zip' in staff_client.get(f"/jobs/{job.pk}/").content.decode()


def test_export_job_of_a_dataset_without_boxes_fails_in_words(staff_user):
    ds = _face_dataset(1)
    job, _ = jobs.export_enqueue(dataset=ds, user=staff_user)
    tasks.export.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "failed" and job.error_code == "no_boxes" and "no boxes yet" in job.error
    assert job.result == {}  # no file recorded (and the partial zip is deleted by the task)


def test_preannotate_proposes_machine_boxes_until_accepted(staff_user):
    ds = _face_dataset()
    first = ds.images.order_by("id").first()
    box_create(image=first, label_id=ds.classes.get().pk, box=(1, 1, 30, 30), user=staff_user)  # annotated: skipped
    job, _ = jobs.preannotate_enqueue(dataset=ds, user=staff_user, detector="dlib_hog_face", min_score=0.0)
    tasks.preannotate.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.result["skipped"] == 1 and job.result["photos"] == 1 and job.result["boxes"] >= 5
    machine = Box.objects.filter(source="machine")
    assert machine.count() == job.result["boxes"] and not machine.filter(accepted=True).exists()
    assert all(b.score is not None and b.detector == "dlib_hog_face" and b.label.name == "face" for b in machine)
    # running again replaces, never duplicates, the unaccepted proposals
    job2, _ = jobs.preannotate_enqueue(dataset=ds, user=staff_user, detector="dlib_hog_face", min_score=0.0)
    tasks.preannotate.apply(args=[job2.pk])
    assert Box.objects.filter(source="machine").count() == job.result["boxes"]
    # unaccepted machine boxes are not exported
    from webapp.annotation.exchange import dataset_annotations

    assert sum(len(a.boxes) for a in dataset_annotations(dataset=ds)) == 1
    # a proposal repeating a box already there (here one a person drew over a face) is left out and counted
    m = machine.order_by("id").first()
    box_create(image=m.image, label_id=m.label_id, box=(m.xmin + 1, m.ymin, m.xmax + 1, m.ymax), user=staff_user)
    job3, _ = jobs.preannotate_enqueue(dataset=ds, user=staff_user, detector="dlib_hog_face", min_score=0.0,
                                       skip_annotated=False)
    tasks.preannotate.apply(args=[job3.pk])
    job3.refresh_from_db()
    assert job3.result["duplicates"] == 1
    assert Box.objects.filter(source="machine", image=m.image).count() == job.result["boxes"] - 1
    assert "1 left out that repeated a box already there" in job3.message


def test_detect_page_and_api(staff_client):
    photo_path = shared_path("datasets", "detection", "dlib_faces", "images", FACES[1])
    resp = staff_client.post("/api/detect", {"photo": SimpleUploadedFile("x.jpg", photo_path.read_bytes()),
                                             "detector": "dlib_hog_face"})
    assert resp.status_code == 202
    job_id = resp.json()["job"]["id"]
    tasks.detect.apply(args=[job_id])
    job = Job.objects.get(pk=job_id)
    assert job.state == "succeeded" and job.result["label"] == "face" and len(job.result["boxes"]) >= 5
    b = job.result["boxes"][0]
    assert len(b["box"]) == 4 and b["label"] == "face" and b["score"] > 0
    assert staff_client.get(f"/detect/{resp.json()['photo_id']}/").status_code == 200
    # bad input: refused in words, no job
    resp = staff_client.post("/api/detect", {"photo": SimpleUploadedFile("x.jpg", b"<html>hi</html>"), "detector": "dlib_hog_face"})
    assert resp.status_code == 400 and "not an image" in resp.json()["message"]
    resp = staff_client.post("/api/detect", {"photo": SimpleUploadedFile("x.jpg", photo_path.read_bytes()), "detector": "yolo"})
    assert resp.status_code == 400 and "detector" in resp.json()["fields"]
    resp = staff_client.post("/detect/", {"photo": SimpleUploadedFile("e.jpg", b""), "detector": "dlib_hog_face"})
    assert resp.status_code == 400


def test_people_detector_on_a_coco_photo():
    from vision.detectors import detect_objects
    from vision.images import load_image

    found = detect_objects(load_image(shared_path("datasets", "detection", "coco", "images", "000000000036.jpg")).pixels,
                           detector="opencv_hog_people")
    assert found and all(d.label == "person" and 0 <= d.box[0] < d.box[2] <= 481 for d in found)


def _last_upload_job():
    return Job.objects.filter(kind="datasets.import").latest("id")


def test_zip_of_photos_with_non_images_and_escaping_paths(staff_client, staff_user):
    ds = detection_dataset_create(name="zipped", classes=["thing"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("set/a.png", png_bytes((40, 30)))
        zf.writestr("set/b.png", png_bytes((50, 30), (1, 2, 3)))
        zf.writestr("set/readme.txt", "not a photo")
        zf.writestr("../../escape.png", png_bytes((20, 20), (9, 9, 9)))
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {"archive": SimpleUploadedFile("p.zip", buf.getvalue())})
    assert resp.status_code == 302
    job = _last_upload_job()
    assert job.params["dataset_id"] == ds.pk and job.task_name == "workers.datasets.import"
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "succeeded", job.error
    assert job.result["added"] == 2
    assert [s["file"] for s in job.result["skipped"]] == ["../../escape.png"]
    assert [u["file"] for u in job.result["unreadable"]] == ["set/readme.txt"]
    assert not Path(job.params["staging"]).exists()  # the upload is removed
    page = staff_client.get(f"/annotate/{ds.pk}/").content.decode()
    assert "1 file(s) skipped" in page and "../../escape.png" in page and f'data-follow-job="{job.pk}"' in page
    # a file that is not a zip is refused at once, with no job
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {"archive": SimpleUploadedFile("p.zip", b"nope")}, follow=True)
    assert "is not a zip file" in resp.content.decode() and Job.objects.filter(kind="datasets.import").count() == 1


def test_bad_photo_uploads_are_refused_in_words(staff_client, settings):
    ds = detection_dataset_create(name="bad", classes=["thing"])
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {}, follow=True)
    assert "Choose some photos or a zip file." in resp.content.decode()
    settings.MAX_UPLOAD_BYTES = 100
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {"photos": [SimpleUploadedFile("big.png", png_bytes((60, 60)))]},
                             follow=True)
    assert "“big.png” is" in resp.content.decode() and "the limit is" in resp.content.decode()
    settings.MAX_ZIP_BYTES = 100
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.png", png_bytes((60, 60)))
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {"archive": SimpleUploadedFile("p.zip", buf.getvalue())},
                             follow=True)
    assert "split it in parts" in resp.content.decode()
    assert not Job.objects.filter(kind="datasets.import").exists() and not ds.images.exists()


def test_photos_uploaded_one_by_one_keep_their_names_for_the_boxes_import(staff_client):
    ds = detection_dataset_create(name="named", classes=["thing"])
    files = [SimpleUploadedFile("img0.png", png_bytes((40, 30))), SimpleUploadedFile("img1.png", png_bytes((40, 30), (5, 5, 5)))]
    resp = staff_client.post(f"/annotate/{ds.pk}/upload/", {"photos": files})
    assert resp.status_code == 302
    import_upload.apply(args=[_last_upload_job().pk])
    assert set(ds.images.values_list("original_name", flat=True)) == {"img0.png", "img1.png"}
    csv = "filename,xmin,ymin,xmax,ymax,class\nimg0.png,1,1,5,5,thing\nimg1.png,2,2,9,9,thing\n"
    resp = staff_client.post(f"/annotate/{ds.pk}/import/", {"files": [SimpleUploadedFile("annotations.csv", csv.encode())]},
                             follow=True)
    assert "Imported 2 boxes on 2 photos" in resp.content.decode()
    assert Box.objects.filter(image__dataset=ds).count() == 2


def test_preannotate_cancelled_after_the_first_photo_keeps_its_boxes(staff_user, cancel_when):
    from webapp.annotation import processing

    ds = _face_dataset()
    first, second = ds.images.order_by("id")
    cancel_when(processing, "detect")
    job, _ = jobs.preannotate_enqueue(dataset=ds, user=staff_user, detector="dlib_hog_face", min_score=0.0)
    tasks.preannotate.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "cancelled" and not job.error
    assert job.message == "Cancelled after 1 of 2 photos; the machine boxes proposed so far are kept."
    assert job.result["cancelled"] and job.result["photos"] == 1 and job.result["boxes"] >= 1
    machine = Box.objects.filter(source="machine")
    assert machine.count() == job.result["boxes"] and set(machine.values_list("image_id", flat=True)) == {first.pk}


def test_export_cancelled_midway_leaves_no_zip(staff_user, cancel_when):
    from vision.detection_io import photos

    ds = _face_dataset()
    for img in ds.images.all():
        box_create(image=img, label_id=ds.classes.get().pk, box=(10, 10, 50, 60), user=staff_user)
    exports = Path(settings.MEDIA_ROOT) / "exports"
    before = set(exports.glob("*")) if exports.exists() else set()
    cancel_when(photos, "photo_for_export")
    job, _ = jobs.export_enqueue(dataset=ds, user=staff_user, num_shards=2)
    tasks.export.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "cancelled" and job.message == "Cancelled after 1 of 2 photos; no zip was kept."
    assert job.result == {"photos_done": 1, "photos": 2, "cancelled": True}
    assert (set(exports.glob("*")) if exports.exists() else set()) == before


def test_zip_of_photos_cancelled_midway_keeps_the_photos_added(staff_client, cancel_when):
    from webapp.datasets import services as dataset_services

    ds = detection_dataset_create(name="zipped", classes=["thing"])
    staff_client.post(f"/annotate/{ds.pk}/upload/", {"archive": SimpleUploadedFile("p.zip", zip_of_pngs(3))})
    job = _last_upload_job()
    cancel_when(dataset_services, "dataset_image_add")
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "cancelled" and job.message == "Cancelled after 1 of 3 files; what was added (1 photo) is kept."
    assert job.result["cancelled"] and job.result["added"] == 1
    assert list(ds.images.values_list("original_name", flat=True)) == ["set/0.png"]
    assert not Path(job.params["staging"]).exists()  # the upload is removed
