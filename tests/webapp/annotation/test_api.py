import pytest
from django.test import Client

from tests.webapp.annotation.conftest import send
from webapp.annotation.models import Box


def _img(ds, i=0):
    return ds.images.order_by("id")[i]


def test_annotators_group_exists(db):
    from django.contrib.auth.models import Group

    assert Group.objects.filter(name="annotators").exists()


def test_annotator_sees_only_assigned_datasets(annotator_client, detection_dataset, staff_user):
    from webapp.annotation.services import detection_dataset_create

    other = detection_dataset_create(name="Secret set", classes=["x"], user=staff_user)
    page = annotator_client.get("/annotate/")
    assert page.status_code == 200
    assert "Street" in page.content.decode() and "Secret set" not in page.content.decode()
    assert annotator_client.get(f"/annotate/{other.pk}/").status_code == 404
    from tests.webapp.annotation.conftest import png_bytes
    from webapp.datasets.services import dataset_image_add

    img = dataset_image_add(dataset=other, name="s.png", data=png_bytes())
    assert annotator_client.get(f"/api/annotation/images/{img.pk}").status_code == 404
    assert send(annotator_client, "POST", f"/api/annotation/images/{img.pk}/boxes",
                {"class_id": other.classes.first().pk, "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5})[0] == 404
    # managing is for staff only
    assert annotator_client.post(f"/annotate/{detection_dataset.pk}/export/").status_code == 403
    assert annotator_client.get(f"/annotate/{detection_dataset.pk}/annotations.csv").status_code == 403


def test_kiosk_user_sees_no_dataset(kiosk_client, detection_dataset):
    assert kiosk_client.get(f"/annotate/{detection_dataset.pk}/").status_code == 404
    assert "No dataset is assigned to you" in kiosk_client.get("/annotate/").content.decode()


@pytest.mark.embedded
def test_box_create_update_delete_with_revisions(annotator_client, detection_dataset, annotator):
    img = _img(detection_dataset)
    person, car = detection_dataset.classes.order_by("class_id")[:2]
    url = f"/api/annotation/images/{img.pk}/boxes"
    status, data = send(annotator_client, "POST", url, {"class_id": person.pk, "xmin": 5, "ymin": 6.5, "xmax": 30, "ymax": 40})
    assert status == 201
    box = data["box"]
    assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == (5, 6.5, 30, 40)
    assert box["created_by"] == "annie" and box["revision"] == 1 and box["source"] == "human"
    assert data["progress"]["annotated"] == 1 and data["progress"]["total"] == 3
    # change the class and move it
    status, data = send(annotator_client, "PATCH", f"{url}/{box['id']}", {"revision": 1, "class_id": car.pk, "xmin": 10})
    assert status == 200, data
    assert data["box"]["class_name"] == "car, parked" and data["box"]["xmin"] == 10 and data["box"]["revision"] == 2
    # a client that still holds revision 1 cannot overwrite it
    status, data = send(annotator_client, "PATCH", f"{url}/{box['id']}", {"revision": 1, "class_id": person.pk})
    assert status == 409
    assert "annie changed this box" in data["message"] and data["box"]["revision"] == 2
    assert [b["class_name"] for b in data["boxes"]] == ["car, parked"]
    assert Box.objects.get(pk=box["id"]).label == car
    status, data = send(annotator_client, "DELETE", f"{url}/{box['id']}", {"revision": 1})
    assert status == 409 and Box.objects.filter(pk=box["id"]).exists()
    status, data = send(annotator_client, "DELETE", f"{url}/{box['id']}", {"revision": 2})
    assert status == 200 and not Box.objects.filter(pk=box["id"]).exists()
    status, data = send(annotator_client, "PATCH", f"{url}/{box['id']}", {"revision": 2, "xmin": 1})
    assert status == 409 and "deleted" in data["message"]


def test_two_annotators_do_not_overwrite_each_other(detection_dataset, annotator, django_user_model):
    from webapp.annotation.services import dataset_annotator_add

    django_user_model.objects.create_user("bob", password="pw-bob-12")
    dataset_annotator_add(dataset=detection_dataset, username="bob")
    a, b = Client(), Client()
    a.force_login(annotator)
    b.force_login(django_user_model.objects.get(username="bob"))
    img = _img(detection_dataset)
    cls = detection_dataset.classes.first()
    url = f"/api/annotation/images/{img.pk}/boxes"
    box = send(a, "POST", url, {"class_id": cls.pk, "xmin": 1, "ymin": 1, "xmax": 20, "ymax": 20})[1]["box"]
    seen_by_b = send(b, "GET", f"/api/annotation/images/{img.pk}")[1]["boxes"][0]
    assert send(a, "PATCH", f"{url}/{box['id']}", {"revision": box["revision"], "xmax": 30})[0] == 200
    status, data = send(b, "PATCH", f"{url}/{box['id']}", {"revision": seen_by_b["revision"], "xmax": 10})
    assert status == 409 and data["message"].startswith("annie changed this box")
    assert Box.objects.get(pk=box["id"]).xmax == 30


@pytest.mark.parametrize("body, words", [
    ({"xmin": 10, "ymin": 10, "xmax": 10, "ymax": 20}, "empty"),
    ({"xmin": 500, "ymin": 10, "xmax": 600, "ymax": 20}, "outside"),
    ({"xmin": "ten", "ymin": 10, "xmax": 20, "ymax": 20}, "not a number"),
    ({"xmin": None, "ymin": 10, "xmax": 20, "ymax": 20}, "not a number"),
])
def test_bad_boxes_refused_in_words(annotator_client, detection_dataset, body, words):
    img = _img(detection_dataset)
    body["class_id"] = detection_dataset.classes.first().pk
    status, data = send(annotator_client, "POST", f"/api/annotation/images/{img.pk}/boxes", body)
    assert status == 400 and words in data["message"] and data["code"] == "invalid_box"
    assert not Box.objects.exists()


def test_box_partly_outside_is_clipped_and_unknown_class_refused(annotator_client, detection_dataset, staff_user):
    from webapp.annotation.services import detection_dataset_create

    img = _img(detection_dataset)  # 64 x 48
    cls = detection_dataset.classes.first()
    status, data = send(annotator_client, "POST", f"/api/annotation/images/{img.pk}/boxes",
                        {"class_id": cls.pk, "xmin": -5, "ymin": 10, "xmax": 70, "ymax": 60})
    assert status == 201 and [data["box"][k] for k in ("xmin", "ymin", "xmax", "ymax")] == [0, 10, 64, 48]
    foreign = detection_dataset_create(name="other", classes=["z"], user=staff_user).classes.first()
    status, data = send(annotator_client, "POST", f"/api/annotation/images/{img.pk}/boxes",
                        {"class_id": foreign.pk, "xmin": 1, "ymin": 1, "xmax": 5, "ymax": 5})
    assert status == 400 and data["code"] == "invalid_class"
    resp = annotator_client.post(f"/api/annotation/images/{img.pk}/boxes", data="{not json", content_type="application/json")
    assert resp.status_code == 400 and "JSON" in resp.json()["message"]


def test_csrf_is_enforced(annotator, detection_dataset):
    c = Client(enforce_csrf_checks=True)
    c.force_login(annotator)
    img = _img(detection_dataset)
    resp = c.post(f"/api/annotation/images/{img.pk}/boxes", data="{}", content_type="application/json")
    assert resp.status_code == 403


def test_no_objects_and_navigation(annotator_client, detection_dataset):
    i0, i1, i2 = detection_dataset.images.order_by("id")
    cls = detection_dataset.classes.first()
    send(annotator_client, "POST", f"/api/annotation/images/{i0.pk}/boxes", {"class_id": cls.pk, "xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9})
    status, data = send(annotator_client, "POST", f"/api/annotation/images/{i0.pk}/state", {"no_objects": True})
    assert status == 400 and "delete them" in data["message"]
    status, data = send(annotator_client, "POST", f"/api/annotation/images/{i1.pk}/state", {"no_objects": True})
    assert status == 200 and data["image"]["no_objects"] and data["progress"]["annotated"] == 2
    nav = send(annotator_client, "GET", f"/api/annotation/images/{i0.pk}")[1]["image"]
    assert (nav["prev_id"], nav["next_id"], nav["next_unannotated_id"], nav["index"]) == (None, i1.pk, i2.pk, 1)
    # drawing a box on a "no objects" photo clears the mark
    send(annotator_client, "POST", f"/api/annotation/images/{i1.pk}/boxes", {"class_id": cls.pk, "xmin": 1, "ymin": 1, "xmax": 9, "ymax": 9})
    assert not send(annotator_client, "GET", f"/api/annotation/images/{i1.pk}")[1]["image"]["no_objects"]
    # the start link opens the first photo still to do
    assert annotator_client.get(f"/annotate/{detection_dataset.pk}/start/")["Location"].endswith(f"/photos/{i2.pk}/")


def test_machine_boxes_are_pending_until_accepted(annotator_client, detection_dataset):
    from webapp.annotation.services import box_create

    img = _img(detection_dataset)
    box = box_create(image=img, label_id=detection_dataset.classes.first().pk, box=(1, 1, 20, 20), user=None,
                     source=Box.Source.MACHINE, score=0.8, detector="dlib_hog_face")
    data = send(annotator_client, "GET", f"/api/annotation/images/{img.pk}")[1]
    assert data["boxes"][0]["accepted"] is False and data["progress"]["annotated"] == 0 and data["progress"]["pending"] == 1
    status, data = send(annotator_client, "PATCH", f"/api/annotation/images/{img.pk}/boxes/{box.pk}", {"revision": 1, "accept": True})
    assert status == 200 and data["box"]["accepted"] and data["box"]["source"] == "machine"
    assert data["box"]["updated_by"] == "annie" and data["progress"]["annotated"] == 1


def test_pages_render(annotator, detection_dataset, staff_user):
    annotator_client, staff_client = Client(), Client()
    annotator_client.force_login(annotator)
    staff_client.force_login(staff_user)
    img = _img(detection_dataset)
    page = annotator_client.get(f"/annotate/{detection_dataset.pk}/photos/{img.pk}/")
    assert page.status_code == 200 and b"annotate.js" in page.content and b"ann-data" in page.content
    mine = annotator_client.get(f"/annotate/{detection_dataset.pk}/").content.decode()
    assert "Annotate ▶" in mine and "Export finished photos" not in mine  # annotators annotate; staff manage
    assert "Export finished photos" in staff_client.get(f"/annotate/{detection_dataset.pk}/").content.decode()
    assert annotator_client.get("/detect/").status_code == 200


def test_web_process_imports_no_heavy_library():
    import subprocess
    import sys

    code = ("import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings.test'; django.setup();"
            "import webapp.urls, webapp.annotation.views, webapp.annotation.exchange;"
            "from django.urls import resolve; resolve('/annotate/');"
            "print(sorted(m for m in ('cv2','dlib','tensorflow','torch','faiss') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_export_files_are_staff_only(annotator, staff_user, settings):
    from pathlib import Path

    annotator_client, staff_client = Client(), Client()
    annotator_client.force_login(annotator)
    staff_client.force_login(staff_user)

    f = Path(settings.MEDIA_ROOT) / "exports" / "x-test.zip"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(b"PK")
    assert annotator_client.get("/media/exports/x-test.zip").status_code == 403
    assert staff_client.get("/media/exports/x-test.zip").status_code == 200
    f.unlink()
