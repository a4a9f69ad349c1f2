"""A classification (ranking) upload whose groups come from a ``labels.csv``
(``filename,group[,coarse_group]``, issue 17): every usable row imported, each
unusable one reported with its line, coarse groups stored on the classes, and
the issue's bad inputs (a CSV naming missing files, a coarse group on some
rows only) reported in words with nothing lost."""

import pytest

from tests.webapp.datasets.test_import import _jpeg, _zip
from webapp.datasets.labels_csv import labels_csv_read
from webapp.datasets.models import Dataset
from webapp.datasets.selectors import dataset_class_counts
from webapp.datasets.services import dataset_import

pytestmark = pytest.mark.django_db


def _classes(ds):
    return {c["name"]: (c["count"], c["coarse_group"]) for c in dataset_class_counts(dataset=ds)}


def test_groups_and_coarse_groups_come_from_the_csv_and_missing_files_are_reported(tmp_path):
    ds = Dataset.objects.create(name="r", kind="classification")
    z = _zip(tmp_path, {
        "shop/labels.csv": ("filename,group,coarse_group\n"
                            "a.jpg,red mug,red\n"
                            "b.jpg,red mug,red\n"
                            "photos/c.jpg,red bowl,red\n"
                            "d.jpg,blue mug,blue\n"
                            "gone.jpg,blue mug,blue\n"          # names a file not in the upload
                            "e.jpg,,blue\n"                       # no group
                            "\n"),
        "shop/a.jpg": _jpeg((250, 0, 0)), "shop/b.jpg": _jpeg((240, 5, 0)),
        "shop/photos/c.jpg": _jpeg((230, 10, 0)), "shop/d.jpg": _jpeg((0, 0, 250)),
        "shop/e.jpg": _jpeg((0, 5, 240)),                         # its row has no group
        "shop/extra.jpg": _jpeg((9, 9, 9)),                       # not named by the CSV
    })
    report = dataset_import(dataset=ds, source=z)
    assert report.added == 4
    assert _classes(ds) == {"red mug": (2, "red"), "red bowl": (1, "red"), "blue mug": (1, "blue")}
    skipped = dict(report.skipped)
    assert "which is not in the upload" in skipped["labels.csv, line 6"] and "gone.jpg" in skipped["labels.csv, line 6"]
    assert "No group" in skipped["labels.csv, line 7"]
    assert "Not named in labels.csv" in skipped["shop/e.jpg"] and "Not named" in skipped["shop/extra.jpg"]
    assert report.notes == []


def test_a_coarse_group_on_some_rows_only_is_used_for_its_group_and_said(tmp_path):
    ds = Dataset.objects.create(name="r", kind="classification")
    z = _zip(tmp_path, {
        "labels.csv": "a.jpg,mug,red\nb.jpg,mug\nc.jpg,bowl\nd.jpg,bowl\ne.jpg,cup,red\nf.jpg,cup,blue\n",
        **{f"{n}.jpg": _jpeg((i * 40, 0, 0)) for i, n in enumerate("abcdef")},
    })
    report = dataset_import(dataset=ds, source=z)
    assert report.added == 6 and not report.skipped
    assert _classes(ds) == {"mug": (2, "red"), "bowl": (2, ""), "cup": (2, "red")}
    notes = " ".join(report.notes)
    assert "1 row gives no coarse group" in notes  # b.jpg: takes mug's
    assert "1 group has no coarse group (“bowl”)" in notes and "any other group" in notes
    assert "“cup” is given more than one coarse group: “red” (line 5) is used, not “blue” (line 6)" in notes
    assert report.as_dict()["notes"] == report.notes


def test_a_csv_that_cannot_be_read_imports_nothing(tmp_path):
    ds = Dataset.objects.create(name="r", kind="classification")
    for entries, message in (
            ({"labels.csv": "\xff\xfe a".encode("latin-1"), "a.jpg": _jpeg()}, "not UTF-8"),
            ({"labels.csv": "filename,group\n,\n", "a.jpg": _jpeg()}, "names no file"),
            ({"labels.csv": "a.jpg,x\n", "more/labels.csv": "a.jpg,y\n", "a.jpg": _jpeg()}, "2 labels.csv files")):
        with pytest.raises(ValueError, match=message):
            dataset_import(dataset=ds, source=_zip(tmp_path, entries))
    assert not ds.images.exists() and not ds.classes.exists()


def test_reading_rules():
    t = labels_csv_read(b"\xef\xbb\xbfFile,Class\n../x.jpg,a\nx.jpg,a\nx.jpg,b\nsub/y.jpg,b\n")
    assert t.groups == {"x.jpg": "a", "sub/y.jpg": "b"}
    assert [w for w, _ in t.problems] == ["labels.csv, line 2", "labels.csv, line 4"]
    assert "outside" in t.problems[0][1] and "line 3 gave “a”, which is kept" in t.problems[1][1]
    assert t.match("y.jpg", {"y.jpg": 1}) is None and t.match("sub/y.jpg", {}) == "sub/y.jpg"
    bare = labels_csv_read(b"y.jpg,b\n")  # a bare name matches a photo in a folder when only one has it
    assert bare.match("deep/y.jpg", {"y.jpg": 1}) == "y.jpg" and bare.match("deep/y.jpg", {"y.jpg": 2}) is None


def test_the_upload_page_takes_a_zip_with_a_csv_and_its_notes_are_shown(staff_client, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from webapp.jobs.models import Job
    from workers.datasets import import_upload

    ds = Dataset.objects.create(name="r", kind="classification")
    z = _zip(tmp_path, {"labels.csv": "a.jpg,mug,red\nb.jpg,bowl\n", "a.jpg": _jpeg((200, 0, 0)),
                        "b.jpg": _jpeg((0, 0, 200))})
    upload = SimpleUploadedFile("groups.zip", z.read_bytes(), content_type="application/zip")
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": upload})
    assert r.status_code == 302, r.content.decode()[:500]
    job = Job.objects.get(kind="datasets.import")
    import_upload.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.state == "succeeded" and "1 note on labels.csv" in job.message
    page = staff_client.get(f"/datasets/{ds.pk}/").content.decode()
    assert "Coarse group" in page and "no coarse group (“bowl”)" in page
    no_groups = SimpleUploadedFile("flat.zip", _zip(tmp_path, {"a.jpg": _jpeg()}).read_bytes(),
                                   content_type="application/zip")
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": no_groups})
    assert r.status_code == 200 and "no class folders and no labels.csv" in r.content.decode()


def test_a_text_lines_upload_takes_its_texts_from_labels_csv_or_the_file_names(tmp_path):
    """Issue 16's data: the shared plates (``images/…`` named by a labels.csv beside them), and
    photos named by their text as the seed names its cards; a CSV row naming a missing file
    and a file that is not a photo are reported, nothing else dropped."""
    from tests.shared_data import shared_path

    plates = Dataset.objects.create(name="plates", kind="text_lines")
    report = dataset_import(dataset=plates, source=shared_path("datasets", "text_lines"))
    assert report.added == 150 and not report.unreadable
    assert [n for n, _ in report.skipped] == ["SOURCE.md"]
    import csv

    with open(shared_path("datasets", "text_lines") / "labels.csv", newline="") as f:
        truth = {r["filename"]: r["text"] for r in csv.DictReader(f)}
    stored = dict(plates.images.values_list("original_name", "text"))
    assert stored == truth
    cards = Dataset.objects.create(name="cards", kind="text_lines")
    z = _zip(tmp_path, {"4111111111111111.jpg": _jpeg((10, 10, 10)), "cards/5555555555554444.png": _jpeg((90, 0, 0)),
                        "readme.txt": b"hi"})
    report = dataset_import(dataset=cards, source=z)
    assert report.added == 2 and "Not a photo" in dict(report.skipped)["readme.txt"]
    assert sorted(cards.images.values_list("text", flat=True)) == ["4111111111111111", "5555555555554444"]
    named = Dataset.objects.create(name="named", kind="text_lines")
    report = dataset_import(dataset=named, source=_zip(tmp_path, {"labels.csv": "a.jpg,AB12\nzz.jpg,X\n",
                                                                   "a.jpg": _jpeg((1, 1, 1))}))
    assert list(named.images.values_list("text", flat=True)) == ["AB12"]
    assert "zz.jpg" in dict(report.skipped)["labels.csv, line 2"]
