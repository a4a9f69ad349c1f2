import io
import zipfile

import pytest
from django.core.management import call_command

from tests.shared_data import shared_path
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.selectors import dataset_class_counts
from webapp.datasets.services import dataset_import, dataset_split_assign

pytestmark = pytest.mark.django_db


def _jpeg(color=(200, 10, 10), size=(32, 24)):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def _zip(tmp_path, entries):
    p = tmp_path / "upload.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return p


def test_zip_with_class_folders_wrapping_folder_nested_and_bad_entries(tmp_path):
    ds = Dataset.objects.create(name="d", kind="classification")
    z = _zip(tmp_path, {
        "flowers/daisy/a.jpg": _jpeg((255, 255, 0)),
        "flowers/daisy/sub/b.jpg": _jpeg((250, 250, 0)),   # nested: still daisy
        "flowers/rose/c.jpg": _jpeg((255, 0, 0)),
        "flowers/rose/c-copy.jpg": _jpeg((255, 0, 0)),     # same content: stored once
        "flowers/rose/notes.txt": b"hello",                # not an image: reported
        "flowers/rose/empty.jpg": b"",
        "flowers/../../evil.jpg": _jpeg(),                 # zip slip: skipped
        "flowers/__MACOSX/._a.jpg": b"junk",
        "flowers/.DS_Store": b"junk",
    })
    report = dataset_import(dataset=ds, source=z)
    assert report.added == 3 and report.duplicates == ["flowers/rose/c-copy.jpg"]
    assert {n for n, _ in report.unreadable} == {"flowers/rose/notes.txt", "flowers/rose/empty.jpg"}
    assert [n for n, _ in report.skipped] == ["flowers/../../evil.jpg"]
    counts = {c["name"]: c["count"] for c in dataset_class_counts(dataset=ds)}
    assert counts == {"daisy": 2, "rose": 1}
    assert not (tmp_path.parent / "evil.jpg").exists()
    assert DatasetImage.objects.filter(status="unreadable").count() == 2
    # importing again adds nothing
    again = dataset_import(dataset=ds, source=z)
    assert again.added == 0 and len(again.duplicates) == 4
    # files stored as unreadable are still not usable: said again, with the reason, not as "already there"
    assert dict(again.unreadable) == dict(report.unreadable)
    assert DatasetImage.objects.filter(dataset=ds).count() == 5


def test_a_folder_of_photos_already_there_leaves_no_empty_class(tmp_path):
    ds = Dataset.objects.create(name="d", kind="classification")
    dataset_import(dataset=ds, source=_zip(tmp_path, {"rose/a.jpg": _jpeg((255, 0, 0))}))
    z = _zip(tmp_path, {"Rose/a.jpg": _jpeg((255, 0, 0)), "tulip/b.jpg": _jpeg((0, 0, 255))})
    report = dataset_import(dataset=ds, source=z)
    assert report.added == 1 and report.duplicates == ["Rose/a.jpg"]
    assert sorted(ds.classes.values_list("name", flat=True)) == ["rose", "tulip"]  # no empty "Rose"


def test_files_outside_class_folders_are_reported(tmp_path):
    ds = Dataset.objects.create(name="d", kind="classification")
    report = dataset_import(dataset=ds, source=_zip(tmp_path, {"loose.jpg": _jpeg(), "cat/x.jpg": _jpeg((1, 2, 3))}))
    assert report.added == 1 and "Not inside a class folder" in report.skipped[0][1]


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.zip"
    p.write_bytes(b"PK nope")
    with pytest.raises(ValueError, match="not a zip"):
        dataset_import(dataset=Dataset.objects.create(name="d", kind="gallery"), source=p)


def test_split_is_stratified_and_reproducible(tmp_path):
    ds = Dataset.objects.create(name="d", kind="classification")
    entries = {f"c{k}/{i}.jpg": _jpeg((k * 60, i * 12, 7)) for k in range(3) for i in range(10)}
    dataset_import(dataset=ds, source=_zip(tmp_path, entries))
    counts = dataset_split_assign(dataset=ds)
    assert counts == {"train": 21, "val": 9, "stratified": True}
    first = dict(ds.images.values_list("id", "split"))
    dataset_split_assign(dataset=ds)
    assert dict(ds.images.values_list("id", "split")) == first
    for c in ds.classes.all():
        assert ds.images.filter(label=c, split="val").count() == 3


def test_import_command_on_real_folder():
    folder = shared_path("datasets", "categories", "daisy")
    out = io.StringIO()
    call_command("dataset_import", "daisies", str(folder.parent), "--kind", "classification", stdout=out)
    ds = Dataset.objects.get(name="daisies")
    # iris/image_0422.jpg and iris/image_0469.jpg are the same file: stored once
    assert ds.classes.count() == 12 and ds.images.filter(status="ok").count() == 719
    assert "719 photos added, 1 duplicates" in out.getvalue()
