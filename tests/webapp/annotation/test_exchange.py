"""Import/export of boxes: round trips through every format, validation,
awkward class names and photos (partial imports, refused rows, skips and
repeats: test_import.py)."""

import io
import json
import zipfile

import pytest

from tests.shared_data import shared_path
from tests.webapp.annotation.conftest import png_bytes
from webapp.annotation.exchange import NothingToExport, dataset_export_zip
from webapp.annotation.importing import annotations_import
from webapp.annotation.models import Box
from webapp.annotation.services import box_create, detection_dataset_create
from webapp.datasets.services import dataset_image_add

ODD = ["person", "car, parked", 'say "cheese"', "l'arbre", "chữ Việt", "猫", "two  spaces"]


def _boxes(ds):
    return sorted((b.image.original_name.rsplit("/", 1)[-1], b.label.name, b.xyxy)
                  for b in Box.objects.filter(image__dataset=ds).select_related("image", "label"))


def _fill(ds, user=None):
    classes = {c.name: c for c in ds.classes.all()}
    for n in ODD:
        if n not in classes:
            from webapp.annotation.services import detection_class_add

            classes[n] = detection_class_add(dataset=ds, name=n)
    for k, img in enumerate(ds.images.order_by("id")):
        for j, n in enumerate(ODD[k::2]):
            box_create(image=img, label_id=classes[n].pk, box=(1 + j, 2.5, 20 + j, 30), user=user)


def _copy_photos(src, name):
    dst = detection_dataset_create(name=name)
    for img in src.images.order_by("id"):
        with img.file.open("rb") as fh:
            dataset_image_add(dataset=dst, name=img.original_name, data=fh.read())
    return dst


def _zip_members(path, prefix):
    with zipfile.ZipFile(path) as zf:
        return [(n, zf.read(n)) for n in zf.namelist() if n.startswith(prefix)]


@pytest.mark.embedded
def test_round_trip_csv_voc_coco(detection_dataset, tmp_path):
    _fill(detection_dataset)
    want = _boxes(detection_dataset)
    out = tmp_path / "export.zip"
    summary = dataset_export_zip(dataset=detection_dataset, path=out, tfrecords=False)
    assert summary["boxes"] == len(want) and summary["photos"] == 3
    for prefix in ("annotations.csv", "voc/Annotations/", "coco/instances.json"):
        files = _zip_members(out, prefix) + _zip_members(out, "label_map.pbtxt")
        dst = _copy_photos(detection_dataset, f"copy {prefix}")
        report = annotations_import(dataset=dst, files=files)
        assert report.imported, report.as_dict()
        assert _boxes(dst) == want, prefix
        # label map ids survive too
        assert [(c.class_id, c.name) for c in dst.classes.all()] == [(c.class_id, c.name) for c in detection_dataset.classes.all()]
    with zipfile.ZipFile(out) as zf:
        csv_text = zf.read("annotations.csv").decode()
    assert '"car, parked"' in csv_text and '"say ""cheese"""' in csv_text


def test_tfrecords_hold_every_box_and_class(detection_dataset, tmp_path):
    from vision.detection_io.tfrecord import tfrecords_read

    _fill(detection_dataset)
    out = tmp_path / "export.zip"
    summary = dataset_export_zip(dataset=detection_dataset, path=out, num_shards=2)
    assert summary["train"] + summary["val"] == 3 and summary["val"] >= 1
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "x")
    shards = sorted((tmp_path / "x" / "tfrecords").iterdir())
    assert [p.name for p in shards] == ["train.record-00000-of-00002", "train.record-00001-of-00002",
                                        "val.record-00000-of-00002", "val.record-00001-of-00002"]
    records = tfrecords_read(shards)
    ids = {c.name: c.class_id for c in detection_dataset.classes.all()}
    got = sorted((r["filename"].rsplit("/", 1)[-1], t, tuple(round(v * s, 2) for v, s in zip(b, (r["width"], r["height"]) * 2)), i)
                 for r in records for b, t, i in zip(r["boxes"], r["labels"], r["label_ids"]))
    want = sorted((n, lab, xyxy, ids[lab]) for n, lab, xyxy in _boxes(detection_dataset))
    assert [(g[0], g[1], g[3]) for g in got] == [(w[0], w[1], w[3]) for w in want]
    for g, w in zip(got, want):
        assert g[2] == pytest.approx(w[2], abs=0.01)


def test_import_keeps_the_good_rows_or_with_all_or_nothing_none(detection_dataset):
    csv = ("\ufefffilename,xmin,ymin,xmax,ymax,class\r\n"
           "img0.png,-4,2,20,30,person\r\n"        # line 2: clipped, a notice
           "img0.png,5,5,5,9,person\n"             # line 3: empty
           "img1.png,1,1,5,x,person\r\n"           # line 4: non-numeric
           "missing.png,1,1,5,5,person\n"          # line 5: photo not in this dataset: skipped
           "img2.png,1,1,5,5,bicycle\r\n"          # line 6: unknown class
           "img2.png,900,900,950,950,person\n")    # line 7: wholly outside
    report = annotations_import(dataset=detection_dataset, files=[("annotations.csv", csv.encode())],
                                all_or_nothing=True)
    assert not report.imported and Box.objects.count() == 0
    assert [p.where for p in report.errors] == [f"annotations.csv, line {i}" for i in (3, 4, 6, 7)]
    assert [p.field for p in report.errors] == ["xmin, xmax", "ymax", "class", "xmin, ymin, xmax, ymax"]
    assert report.summary == ("Nothing was imported; 1 row skipped: photo not in this dataset; 4 rows refused "
                              "(all or nothing: fix them and import again).")
    assert "clipped" in report.notices[0].message
    report = annotations_import(dataset=detection_dataset, files=[("annotations.csv", csv.encode())])
    assert report.imported and report.boxes == 1 and len(report.errors) == 4 and len(report.skipped) == 1
    assert _boxes(detection_dataset) == [("img0.png", "person", (0, 2, 20, 30))]
    ok = "filename,xmin,ymin,xmax,ymax,class\r\nimg0.png,-4,2,20,30,person\nphotos/img1.png,1,1,5,6,bicycle\r"
    report = annotations_import(dataset=detection_dataset, files=[("a.csv", ok.encode())], add_classes=True)
    assert report.imported and report.new_classes == ["bicycle"] and report.boxes == 1 and report.already_there == 1


def test_label_map_conflicts_and_bad_files_refused(detection_dataset):
    pb = "item { id: 1 name: 'car, parked' }"  # id 2 in this dataset
    report = annotations_import(dataset=detection_dataset, files=[("label_map.pbtxt", pb.encode())])
    assert "has id 2" in report.errors[0].message and report.errors[0].where == "label_map.pbtxt"
    assert detection_dataset.classes.get(name="car, parked").class_id == 2
    report = annotations_import(dataset=detection_dataset, files=[("notes.txt", b"hello")])
    assert "Not an annotation file" in report.errors[0].message and report.summary.startswith("Nothing was imported")
    report = annotations_import(dataset=detection_dataset, files=[("x.json", b"{oops")], all_or_nothing=True)
    assert not report.imported and "JSON" in report.errors[0].message
    report = annotations_import(dataset=detection_dataset, files=[])
    assert not report.imported and report.errors
    assert Box.objects.count() == 0


def test_annotation_zip_with_escaping_paths(detection_dataset):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../evil.csv", "filename,xmin,ymin,xmax,ymax,class\nimg0.png,1,1,5,5,person\n")
        zf.writestr("/abs/evil2.csv", "x")
        zf.writestr("ok/annotations.csv", "filename,xmin,ymin,xmax,ymax,class\nimg0.png,1,1,9,9,person\n")
        zf.writestr("ok/photo.jpg", b"not read")
    report = annotations_import(dataset=detection_dataset, files=[("bundle.zip", buf.getvalue())])
    assert report.imported and report.boxes == 1
    assert sum("outside the archive" in p.message for p in report.notices) == 2
    report = annotations_import(dataset=detection_dataset, files=[("broken.zip", b"PK\x03\x04garbage")])
    assert not report.boxes and "zip" in report.errors[0].message


def test_exporting_a_dataset_without_boxes_says_so(detection_dataset, tmp_path):
    with pytest.raises(NothingToExport, match="no boxes yet"):
        dataset_export_zip(dataset=detection_dataset, path=tmp_path / "e.zip")


def test_export_holds_only_finished_photos_and_says_what_it_left_out(detection_dataset, tmp_path):
    """A photo nobody looked at, or one whose machine boxes await review, would
    teach a detector that its objects are background: such photos stay out."""
    from webapp.annotation.exchange import export_left_out_text
    from webapp.annotation.services import image_no_objects_set

    dataset_image_add(dataset=detection_dataset, name="photos/img3.png", data=png_bytes((70, 40), (1, 2, 3)))
    boxed, empty, todo, to_review = detection_dataset.images.order_by("id")
    person = detection_dataset.classes.get(name="person").pk
    box_create(image=boxed, label_id=person, box=(1, 2, 30, 40), user=None)
    image_no_objects_set(image=empty, value=True, user=None)
    box_create(image=to_review, label_id=person, box=(2, 2, 20, 20), user=None)
    box_create(image=to_review, label_id=person, box=(30, 5, 50, 30), user=None, source=Box.Source.MACHINE,
               score=0.9, detector="hog")
    # progress and "next to do" count what the export takes: the photo to review is not done yet
    from webapp.annotation.selectors import dataset_progress, first_unannotated

    assert dataset_progress(dataset=detection_dataset)["annotated"] == 2
    assert first_unannotated(dataset=detection_dataset) == todo.pk
    out = tmp_path / "e.zip"
    summary = dataset_export_zip(dataset=detection_dataset, path=out, num_shards=1)
    assert (summary["photos"], summary["boxes"], summary["train"] + summary["val"]) == (2, 1, 2)
    assert summary["left_out"] == {"not_annotated": 1, "machine_boxes_to_review": 1}
    assert export_left_out_text(summary["left_out"]) == "left out: 1 not annotated yet and 1 with machine boxes to review"
    with zipfile.ZipFile(out) as zf:
        assert sorted(n for n in zf.namelist() if n.startswith("images/")) == ["images/photos/img0.png", "images/photos/img1.png"]
        assert len(json.loads(zf.read("coco/instances.json"))["images"]) == 2
        assert len([n for n in zf.namelist() if n.startswith("voc/Annotations/")]) == 2
    assert export_left_out_text({"not_annotated": 0, "machine_boxes_to_review": 0}) == ""
    # nothing finished at all: said in words, no zip
    Box.objects.filter(image=boxed).delete()
    image_no_objects_set(image=empty, value=False, user=None)
    with pytest.raises(NothingToExport, match="No photo is finished yet .3 not annotated, 1 with machine boxes"):
        dataset_export_zip(dataset=detection_dataset, path=tmp_path / "f.zip")


def test_odd_photos_export_with_matching_pixels(db, tmp_path):
    """EXIF-rotated, CMYK and 16-bit photos: boxes are in the corrected photo,
    and the exported image (re-encoded where needed) has that size."""
    from PIL import Image

    from vision.detection_io.tfrecord import tfrecords_read

    ds = detection_dataset_create(name="odd", classes=["thing"])
    for name in ("I-04_exif_orientation_6.jpg", "I-09_cmyk.jpg", "I-02_gray16.png", "I-10_palette_transparent.png"):
        dataset_image_add(dataset=ds, name=name, data=shared_path("bad-inputs", name).read_bytes())
    rotated = ds.images.get(original_name="I-04_exif_orientation_6.jpg")
    assert (rotated.width, rotated.height) == (300, 400)
    for img in ds.images.all():
        box_create(image=img, label_id=ds.classes.first().pk, box=(10, 20, 60, 90), user=None)
    out = tmp_path / "odd.zip"
    dataset_export_zip(dataset=ds, path=out, num_shards=1)
    with zipfile.ZipFile(out) as zf:
        names = [n for n in zf.namelist() if n.startswith("images/")]
        sizes = {n: Image.open(io.BytesIO(zf.read(n))).size for n in names}
        zf.extractall(tmp_path / "x")
        coco = json.loads(zf.read("coco/instances.json"))
    assert sizes["images/I-04_exif_orientation_6.jpg"] == (300, 400)
    assert Image.open(io.BytesIO(open(tmp_path / "x/images/I-09_cmyk.jpg", "rb").read())).mode == "RGB"
    assert "images/I-02_gray16.png" in sizes  # stored as an 8-bit grey PNG (uploads.stored_bytes), exported as is
    assert {i["file_name"] for i in coco["images"]} == {n[len("images/"):] for n in names}
    import tensorflow as tf

    for r in tfrecords_read(sorted((tmp_path / "x" / "tfrecords").iterdir())):
        decoded = tf.io.decode_image(r["encoded"], channels=3).numpy()
        assert decoded.shape[:2] == (r["height"], r["width"])


def test_huge_and_fake_photos_are_kept_as_unreadable_with_the_reason(staff_client, detection_dataset):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [SimpleUploadedFile(n, shared_path("bad-inputs", n).read_bytes())
             for n in ("I-08_bomb_20000x20000.png", "I-17_html_named.jpg", "I-18_empty.jpg", "I-07_truncated.jpg")]
    files.append(SimpleUploadedFile("good.png", png_bytes((30, 30))))
    resp = staff_client.post(f"/annotate/{detection_dataset.pk}/upload/", {"photos": files}, follow=True)
    assert resp.status_code == 200 and "being imported" in resp.content.decode()
    from webapp.jobs.models import Job
    from workers.datasets import import_upload

    job = Job.objects.filter(kind="datasets.import").latest("id")
    before = detection_dataset.images.count()
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "succeeded" and job.result["added"] == 1 and detection_dataset.images.count() == before + 5
    text = staff_client.get(f"/annotate/{detection_dataset.pk}/").content.decode()
    assert "1 photo added" in text and "4 not usable" in text
    assert "20000" in text and "not an image" in text and "empty" in text.lower()
    bad = detection_dataset.images.filter(status="unreadable")
    assert bad.count() == 4 and all(b.error for b in bad)
    # an unreadable photo cannot be annotated
    assert staff_client.get(f"/api/annotation/images/{bad.first().pk}").status_code == 404


def test_import_and_export_through_the_pages(staff_client, detection_dataset):
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv = "filename,xmin,ymin,xmax,ymax,class\nimg0.png,1,1,5,5,person\nimg1.png,1,1,5,5,nobody\n"
    resp = staff_client.post(f"/annotate/{detection_dataset.pk}/import/",
                             {"files": [SimpleUploadedFile("annotations.csv", csv.encode())]}, follow=True)
    text = resp.content.decode()
    assert "Imported 1 box on 1 photo; 1 row refused." in text and "line 3" in text and "Unknown class" in text
    assert Box.objects.count() == 1
    resp = staff_client.post(f"/annotate/{detection_dataset.pk}/import/",
                             {"files": [SimpleUploadedFile("annotations.csv", csv.encode())], "add_classes": "on"}, follow=True)
    assert "Imported 1 box on 1 photo; 1 already there; new classes: nobody." in resp.content.decode()
    got = b"".join(staff_client.get(f"/annotate/{detection_dataset.pk}/annotations.csv").streaming_content).decode()
    assert got.splitlines() == ["filename,xmin,ymin,xmax,ymax,class", "photos/img0.png,1,1,5,5,person",
                                "photos/img1.png,1,1,5,5,nobody"]
    pbtxt = staff_client.get(f"/annotate/{detection_dataset.pk}/label_map.pbtxt").content.decode()
    assert "name: 'car, parked'" in pbtxt and "id: 4\n  name: 'nobody'" in pbtxt


def test_shared_detection_photos_round_trip_every_format(db, tmp_path):
    """The real photos and boxes of ../shared/datasets/detection: import the
    CSV, export in every format, read each back: the same boxes."""
    from vision.detection_io.coco import coco_json_read
    from vision.detection_io.csv_format import annotations_csv_read
    from vision.detection_io.tfrecord import tfrecords_read
    from vision.detection_io.voc import voc_xml_read

    root = shared_path("datasets", "detection")
    ds = detection_dataset_create(name="shared")
    photos = sorted(p for p in root.rglob("*.jpg"))
    for p in photos:
        dataset_image_add(dataset=ds, name=p.relative_to(root).as_posix(), data=p.read_bytes())
    source = (root / "annotations.csv").read_bytes()
    report = annotations_import(dataset=ds, files=[("annotations.csv", source)], add_classes=True)
    assert report.imported, report.errors[:5]
    n_lines = len(source.decode("utf-8-sig").strip().splitlines()) - 1
    assert report.boxes == n_lines and ds.images.count() == len(photos)
    sizes = {p.relative_to(root).as_posix(): (i.width, i.height) for p in photos
             for i in [ds.images.get(original_name=p.relative_to(root).as_posix())]}
    want = sorted((img.filename, b.label, tuple(round(v, 2) for v in b.box))
                  for img in annotations_csv_read(source, sizes=sizes).images for b in img.boxes)
    assert len(want) == n_lines

    out = tmp_path / "shared.zip"
    summary = dataset_export_zip(dataset=ds, path=out)
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "x")
    x = tmp_path / "x"

    def rows(result):
        assert result.ok, result.errors[:3]
        return sorted((i.filename, b.label, tuple(round(v, 2) for v in b.box)) for i in result.images for b in i.boxes)

    assert rows(annotations_csv_read((x / "annotations.csv").read_bytes(), sizes=sizes)) == want
    voc = [(p.name, p.read_bytes()) for p in (x / "voc" / "Annotations").iterdir()]
    assert rows(voc_xml_read(voc, sizes=sizes)) == want
    assert rows(coco_json_read((x / "coco" / "instances.json").read_bytes(), sizes=sizes)) == want
    tf_rows = sorted((r["filename"], t, tuple(round(v * s, 2) for v, s in zip(b, (r["width"], r["height"]) * 2)))
                     for r in tfrecords_read(sorted((x / "tfrecords").iterdir())) for b, t in zip(r["boxes"], r["labels"]))
    assert [(f, t) for f, t, _ in tf_rows] == [(f, t) for f, t, _ in want]
    assert all(a == pytest.approx(b, abs=0.01) for (_, _, a), (_, _, b) in zip(tf_rows, want))
    # the two photos without a box in the CSV (SOURCE.md: coco 250 and 508) count as not annotated yet
    boxed = {f for f, _, _ in want}
    assert len(boxed) == len(photos) - 2 and len(list((x / "images").rglob("*.jpg"))) == len(boxed)
    assert summary["left_out"] == {"not_annotated": 2, "machine_boxes_to_review": 0}


def test_evaluate_command_prints_ap_per_class_and_map(db):
    from django.core.management import call_command

    root = shared_path("datasets", "detection")
    out = io.StringIO()
    call_command("evaluate_detectors", "--csv", str(root / "annotations.csv"), "--prefix", "dlib_faces/",
                 "--detector", "dlib_hog_face", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("dlib_hog_face on ") and "9 photos" in lines[0]
    ap_line = next(line for line in lines if line.strip().startswith("AP@0.5 face"))
    ap = float(ap_line.split()[2])
    # dlib's HOG detector on dlib's own annotated example photos finds most faces
    assert 0.5 < ap <= 1.0 and "43 boxes" in ap_line
    assert lines[-1].strip() == f"mAP@0.5 {ap:.4f}"
    # the same figures from a dataset holding those photos and boxes
    ds = detection_dataset_create(name="dlib faces")
    for p in sorted((root / "dlib_faces" / "images").glob("*.jpg")):
        dataset_image_add(dataset=ds, name=f"dlib_faces/images/{p.name}", data=p.read_bytes())
    rows = [line for line in (root / "annotations.csv").read_text().splitlines() if line.startswith(("filename", "dlib_faces/"))]
    report = annotations_import(dataset=ds, files=[("annotations.csv", (root / "annotations.csv").read_bytes())],
                                add_classes=True)  # the coco photos are not in this dataset: their rows are skipped
    n_all = len((root / "annotations.csv").read_text().splitlines()) - 1
    assert not report.errors and report.boxes == len(rows) - 1 == 43 and len(report.skipped) == n_all - 43
    report = annotations_import(dataset=ds, files=[("a.csv", "\n".join(rows).encode())], add_classes=True)
    assert report.imported and report.boxes == 0 and report.already_there == 43
    out2 = io.StringIO()
    call_command("evaluate_detectors", "--dataset", str(ds.pk), "--detector", "dlib_hog_face", stdout=out2)
    assert out2.getvalue().splitlines()[-1] == lines[-1]


@pytest.mark.django_db
def test_shared_csv_matches_photos_uploaded_without_their_folders():
    """A user uploads the dlib face photos one by one (plain names) and then
    the shared annotations.csv, whose names carry folders."""
    from webapp.annotation.importing import annotations_import
    from webapp.annotation.models import Box
    from webapp.datasets.models import Dataset
    from webapp.datasets.services import dataset_image_add

    root = shared_path("datasets", "detection")
    ds = Dataset.objects.create(name="faces", kind="detection")
    photos = sorted((root / "dlib_faces" / "images").glob("*.jpg"))
    for p in photos:
        dataset_image_add(dataset=ds, name=p.name, data=p.read_bytes())
    lines = (root / "annotations.csv").read_text(encoding="utf-8-sig").splitlines()
    subset = [lines[0]] + [ln for ln in lines[1:] if ln.startswith("dlib_faces/")]
    report = annotations_import(dataset=ds, files=[("annotations.csv", "\n".join(subset).encode())], add_classes=True)
    assert report.imported, [str(p) for p in report.problems][:5]
    assert Box.objects.filter(image__dataset=ds).count() == len(subset) - 1 == 43


def test_export_command_says_what_it_left_out(detection_dataset, tmp_path):
    from django.core.management import CommandError, call_command

    out, zip_path = io.StringIO(), tmp_path / "cmd.zip"
    with pytest.raises(CommandError, match="no boxes yet"):
        call_command("annotations_export", str(detection_dataset.pk), str(zip_path), stdout=out)
    first = detection_dataset.images.order_by("id").first()
    box_create(image=first, label_id=detection_dataset.classes.first().pk, box=(1, 1, 9, 9), user=None)
    call_command("annotations_export", str(detection_dataset.pk), str(zip_path), "--no-tfrecords", stdout=out)
    assert f"Wrote {zip_path}: 1 photos, 1 boxes" in out.getvalue()
    assert "Left out: 2 not annotated yet (only finished photos are exported)." in out.getvalue()


def test_importing_boxes_that_repeat_stored_ones_says_so(detection_dataset):
    csv = "filename,xmin,ymin,xmax,ymax,class\nimg0.png,10,10,40,40,person\nimg1.png,5,5,20,20,person\n"
    assert annotations_import(dataset=detection_dataset, files=[("a.csv", csv.encode())]).imported
    # the same file again, one box nudged by a pixel: kept (the file may mean it) but the user is told
    again = "filename,xmin,ymin,xmax,ymax,class\nimg0.png,11,10,41,40,person\nimg0.png,40,5,60,30,person\n"
    report = annotations_import(dataset=detection_dataset, files=[("b.csv", again.encode())])
    assert report.imported and Box.objects.count() == 4 and not report.notices
    assert report.warnings == [
        "1 imported box lies on a box of the same class already on the photo (IoU ≥ 0.5); both were kept. "
        "To use the file's boxes instead of the ones there, import it again with “Replace”."]
    report = annotations_import(dataset=detection_dataset, files=[("b.csv", again.encode())], replace=True)
    assert report.imported and not report.warnings and Box.objects.count() == 3


def test_a_box_framing_the_same_object_differently_is_a_repeat_a_neighbour_is_not(detection_dataset):
    from vision.boxes import box_iou
    from webapp.annotation.selectors import StoredBoxes

    img = detection_dataset.images.order_by("id").first()
    person, car = (detection_dataset.classes.get(name=n).pk for n in ("person", "car, parked"))
    box_create(image=img, label_id=person, box=(10, 10, 30, 30), user=None)
    stored = StoredBoxes([img.pk])
    other_framing = (12, 8, 33, 32)  # as dlib's CNN frames a face its HOG detector boxed (IoU 0.59-0.70 seen)
    neighbour = (26, 10, 46, 30)
    assert 0.5 < box_iou((10, 10, 30, 30), other_framing) < 0.7 and box_iou((10, 10, 30, 30), neighbour) < 0.2
    assert stored.repeats(img.pk, person, other_framing)
    assert not stored.repeats(img.pk, person, neighbour) and not stored.repeats(img.pk, car, (10, 10, 30, 30))
