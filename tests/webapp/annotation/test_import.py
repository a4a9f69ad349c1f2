"""Annotation import keeps the good rows (issue 13): each refused row listed
and downloadable, photos not in the dataset skipped, names matched with
folders or hinted at by case, repeats kept once, "all or nothing" on request,
pre-annotation adding its class only with a box."""

import csv
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.annotation.exchange import dataset_export_zip
from webapp.annotation.importing import annotations_import
from webapp.annotation.models import Box
from webapp.annotation.services import box_create, detection_dataset_create
from webapp.datasets.services import dataset_image_add

HEADER = "filename,xmin,ymin,xmax,ymax,class\n"
# the fixture's photos: photos/img0.png 64×48, photos/img1.png 80×60, photos/img2.png 100×50
BAD_ROWS = (
    "img0.png,1,1,20,20,person\n"              # line 2: good
    "img0.png,70,50,90,60,person\n"            # line 3: wholly outside the 64×48 photo
    "img1.png,30,5,10,25,person\n"             # line 4: inverted (xmin > xmax)
    "img1.png,2,2,12,12,car, parked\n"         # line 5: unquoted comma: 7 fields
    "nowhere.png,1,1,5,5,person\n"             # line 6: photo not in this dataset: skipped
    "IMG2.PNG,1,1,5,5,person\n"                # line 7: differs only in case: refused with a hint
    "img2.png,1,1,5,5,bicycle\n"               # line 8: unknown class
    "C:\\export\\img2.png,10,10,40,40,猫\n"     # line 9: folders (backslashes): matched by base name
    "img1.png,3,3,33,33,car\n")                # line 10: unknown class
REFUSED = [(3, "xmin, ymin, xmax, ymax", "wholly outside"), (4, "xmin, xmax", "empty"),
           (5, "", "Expected 6 fields, found 7"), (7, "filename", "did you mean “photos/img2.png”"),
           (8, "class", "Unknown class “bicycle”"), (10, "class", "Unknown class “car”")]


def _stored(ds):
    return sorted((b.image.original_name, b.label.name, b.xyxy)
                  for b in Box.objects.filter(image__dataset=ds).select_related("image", "label"))


def test_one_bad_row_of_each_kind_refuses_only_itself(detection_dataset):
    report = annotations_import(dataset=detection_dataset, files=[("annotations.csv", (HEADER + BAD_ROWS).encode())])
    assert report.imported and report.boxes == 2 and report.photos == 2
    assert _stored(detection_dataset) == [("photos/img0.png", "person", (1, 1, 20, 20)),
                                          ("photos/img2.png", "猫", (10, 10, 40, 40))]
    got = [(p.where, p.field, p.message) for p in report.errors]
    assert [(w, f) for w, f, _ in got] == [(f"annotations.csv, line {n}", f) for n, f, _ in REFUSED]
    for (_, _, message), (_, _, words) in zip(got, REFUSED):
        assert words in message
    assert [(p.where, p.code) for p in report.skipped] == [("annotations.csv, line 6", "photo_not_in_dataset")]
    assert report.warnings == [
        "1 row skipped: photo not in this dataset (1 photo, e.g. “nowhere.png”).",
        "1 row names a photo with folders this dataset's photos do not have; matched by base name "
        "(“C:\\export\\img2.png” was matched by its base name to the photo “photos/img2.png”)."]
    assert report.summary == ("Imported 2 boxes on 2 photos; 1 row skipped: photo not in this dataset; "
                              "6 rows refused.")


def test_the_refused_rows_download_fixed_and_imported_again(detection_dataset):
    report = annotations_import(dataset=detection_dataset, files=[("annotations.csv", (HEADER + BAD_ROWS).encode())])
    rows = list(csv.reader(io.StringIO(report.refused_csv())))
    assert rows[0] == ["filename", "xmin", "ymin", "xmax", "ymax", "class", "source", "field", "problem"]
    assert [r[:6] for r in rows[1:]] == [
        ["img0.png", "70", "50", "90", "60", "person"], ["img1.png", "30", "5", "10", "25", "person"],
        ["img1.png", "2", "2", "12", "12", "car, parked"], ["IMG2.PNG", "1", "1", "5", "5", "person"],
        ["img2.png", "1", "1", "5", "5", "bicycle"], ["img1.png", "3", "3", "33", "33", "car"]]
    assert [r[6] for r in rows[1:]] == [f"annotations.csv, line {n}" for n, _, _ in REFUSED]
    # the user fixes each row in the file it downloaded (problem columns left in) and imports it again
    fixed = [rows[0]] + [["img0.png", "40", "30", "64", "48", "person", *rows[1][6:]],
                         ["img1.png", "10", "5", "30", "25", "person", *rows[2][6:]],
                         rows[3], ["img2.png", *rows[4][1:]], ["img2.png", *rows[5][1:]], rows[6]]
    buf = io.StringIO()
    csv.writer(buf).writerows(fixed)
    again = annotations_import(dataset=detection_dataset, files=[("refused-rows.csv", buf.getvalue().encode())],
                               add_classes=True)
    assert not again.errors and again.boxes == 6 and sorted(again.new_classes) == ["bicycle", "car"]
    assert len(_stored(detection_dataset)) == 8


def test_all_or_nothing_stores_nothing_when_a_row_is_refused_but_skips_do_not_count(detection_dataset):
    files = [("annotations.csv", (HEADER + BAD_ROWS).encode())]
    report = annotations_import(dataset=detection_dataset, files=files, all_or_nothing=True)
    assert not report.imported and Box.objects.count() == 0 and len(report.errors) == 6
    assert report.summary.startswith("Nothing was imported; 1 row skipped") and "all or nothing" in report.summary
    only_skips = HEADER + "img0.png,1,1,20,20,person\nnowhere.png,1,1,5,5,person\n"
    report = annotations_import(dataset=detection_dataset, files=[("a.csv", only_skips.encode())], all_or_nothing=True)
    assert report.imported and report.boxes == 1 and len(report.skipped) == 1


def test_the_same_boxes_imported_twice_are_kept_once(detection_dataset):
    rows = HEADER + "img0.png,10,10,40,40,person\nimg0.png,10,10,40,40,person\nimg1.png,5,5,20,20,person\n"
    first = annotations_import(dataset=detection_dataset, files=[("a.csv", rows.encode())])
    assert first.boxes == 2 and first.already_there == 1  # the repeat inside the file too
    # the same boxes again, one of them nudged by 0.3 px (IoU 0.98 ≥ 0.95): nothing new
    again = HEADER + "img0.png,10.3,10,40.3,40,person\nimg1.png,5,5,20,20,person\n"
    report = annotations_import(dataset=detection_dataset, files=[("b.csv", again.encode())])
    assert report.imported and report.boxes == 0 and report.already_there == 2 and Box.objects.count() == 2
    assert report.summary == "Imported 0 boxes on 0 photos; 2 already there."
    # another class on the same place, or a box moved by 3 px (IoU 0.82), is a new box
    other = HEADER + "img0.png,10,10,40,40,car, parked\nimg1.png,8,5,23,20,person\n".replace("car, parked", '"car, parked"')
    report = annotations_import(dataset=detection_dataset, files=[("c.csv", other.encode())])
    assert report.boxes == 2 and report.already_there == 0 and report.near_repeats == 1 and Box.objects.count() == 4


def test_an_export_zip_imported_whole_does_not_triple_its_boxes(detection_dataset, tmp_path):
    """The zip holds the same boxes three times (CSV, COCO, VOC): each is kept once."""
    person = detection_dataset.classes.get(name="person").pk
    for img in detection_dataset.images.all():
        box_create(image=img, label_id=person, box=(1.25, 2, 30.5, 40), user=None)
    out = tmp_path / "export.zip"
    dataset_export_zip(dataset=detection_dataset, path=out, tfrecords=False)
    report = annotations_import(dataset=detection_dataset, files=[("export.zip", out.read_bytes())])
    assert report.imported and not report.errors and report.boxes == 0 and report.already_there == 9
    assert Box.objects.count() == 3


@pytest.mark.django_db
def test_shared_raccoon_csv_into_a_dataset_holding_ten_of_its_photos():
    """The user trial of issue 13: 10 of the 160 raccoon photos uploaded one by
    one (plain names), then the shared annotations.csv (names with images/)."""
    root = shared_path("datasets", "raccoon")
    source = (root / "annotations.csv").read_bytes()
    lines = source.decode("utf-8-sig").strip().splitlines()[1:]
    ds = detection_dataset_create(name="raccoons", classes=["raccoon"])
    chosen = sorted(p.name for p in (root / "images").glob("raccoon-*.jpg"))[:10]
    for name in chosen:
        dataset_image_add(dataset=ds, name=name, data=(root / "images" / name).read_bytes())
    want = [ln for ln in lines if ln.split(",", 1)[0].split("/")[-1] in chosen]
    report = annotations_import(dataset=ds, files=[("annotations.csv", source)])
    assert report.imported and not report.errors
    assert report.boxes == len(want) >= 10 and report.photos == 10
    assert len(report.skipped) == len(lines) - len(want)
    assert report.warnings[0].startswith(f"{len(lines) - len(want)} rows skipped: photo not in this dataset (150 photos")
    assert report.warnings[1].startswith(f"{len(want)} rows name a photo with folders")
    assert report.summary == (f"Imported {len(want)} boxes on 10 photos; {len(lines) - len(want)} rows skipped: "
                              "photo not in this dataset.")
    again = annotations_import(dataset=ds, files=[("annotations.csv", source)])
    assert again.boxes == 0 and again.already_there == len(want)
    assert Box.objects.filter(image__dataset=ds).count() == len(want)


def test_import_page_lists_refused_rows_and_serves_them_as_csv(staff_client, detection_dataset):
    url = f"/annotate/{detection_dataset.pk}/import/"
    assert staff_client.get(f"{url}refused.csv").status_code == 404  # no import yet
    resp = staff_client.post(url, {"files": [SimpleUploadedFile("annotations.csv", (HEADER + BAD_ROWS).encode())]},
                             follow=True)
    text = resp.content.decode()
    assert "Imported 2 boxes on 2 photos; 1 row skipped: photo not in this dataset; 6 rows refused." in text
    assert 'id="import-refused"' in text and "<td>annotations.csv, line 4</td><td>xmin, xmax</td>" in text
    assert "1 row skipped: photo not in this dataset (1 photo, e.g. “nowhere.png”)." in text
    assert "did you mean “photos/img2.png”" in text and "Download the refused rows" in text
    got = staff_client.get(f"{url}refused.csv")
    assert got["Content-Disposition"] == 'attachment; filename="refused-rows.csv"'
    body = got.content.decode("utf-8-sig").splitlines()
    assert len(body) == 7 and body[3].startswith('img1.png,2,2,12,12,"car, parked","annotations.csv, line 5",,')
    # all or nothing, through the page: nothing more is stored
    resp = staff_client.post(url, {"files": [SimpleUploadedFile("a.csv", (HEADER + BAD_ROWS).encode())],
                                   "all_or_nothing": "on"}, follow=True)
    assert "Nothing was imported; 1 row skipped" in resp.content.decode() and Box.objects.count() == 2
    # a clean import forgets the refused rows
    staff_client.post(url, {"files": [SimpleUploadedFile("a.csv", (HEADER + "img1.png,1,1,9,9,person\n").encode())]})
    assert staff_client.get(f"{url}refused.csv").status_code == 404


def test_import_command_writes_the_refused_rows(detection_dataset, tmp_path):
    from django.core.management import CommandError, call_command

    src = tmp_path / "annotations.csv"
    src.write_text(HEADER + BAD_ROWS, encoding="utf-8")
    out, refused = io.StringIO(), tmp_path / "refused.csv"
    call_command("annotations_import", str(detection_dataset.pk), str(src), "--refused", str(refused), stdout=out)
    text = out.getvalue()
    assert "refused: annotations.csv, line 4 [xmin, xmax]: The box is empty" in text
    assert "Imported 2 boxes on 2 photos; 1 row skipped" in text
    assert len(refused.read_text(encoding="utf-8").splitlines()) == 7
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("annotations_import", str(detection_dataset.pk), str(src), "--all-or-nothing", stdout=out)


def test_preannotation_adds_its_class_only_with_a_box(detection_dataset, monkeypatch):
    from vision.detectors import DetectedObject
    from webapp.annotation import processing

    found = []
    monkeypatch.setattr(processing, "detect", lambda pixels, **kw: list(found))
    before = list(detection_dataset.classes.values_list("name", flat=True))
    result = processing.preannotate(dataset=detection_dataset, detector="dlib_hog_face")
    assert result["boxes"] == 0 and list(detection_dataset.classes.values_list("name", flat=True)) == before
    found.append(DetectedObject(box=(2.0, 3.0, 20.0, 30.0), label="face", score=1.5))
    result = processing.preannotate(dataset=detection_dataset, detector="dlib_hog_face")
    assert result["boxes"] == 3
    face = detection_dataset.classes.get(name="face")
    assert face.class_id == 4 and Box.objects.filter(label=face, source="machine").count() == 3


def test_zip_of_annotation_files_with_an_unreadable_member_keeps_the_rest(detection_dataset):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/annotations.csv", HEADER + "img0.png,1,1,9,9,person\n")
        zf.writestr("a/broken.json", "{oops")
    report = annotations_import(dataset=detection_dataset, files=[("bundle.zip", buf.getvalue())])
    assert report.boxes == 1 and [p.where for p in report.errors] == ["bundle.zip: a/broken.json, file"]
    assert report.summary == "Imported 1 box on 1 photo; 1 row or file refused."
