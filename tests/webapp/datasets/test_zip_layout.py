"""How a classification zip's folders become classes (issue 13): wrapping
folders are looked through even with a note beside the classes, and an
upload that leaves the dataset with one class says so before the import."""

import io
import zipfile

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.datasets.models import Dataset
from webapp.datasets.selectors import dataset_class_counts
from webapp.datasets.services import (
    NOT_A_PHOTO_BESIDE,
    archive_class_root,
    archive_classes,
    dataset_import,
)
from webapp.jobs.models import Job

pytestmark = pytest.mark.django_db


def _jpeg(color=(200, 10, 10)):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 12), color).save(buf, "JPEG")
    return buf.getvalue()


def _zip_bytes(entries: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("names, root", [
    (["daisy/1.jpg", "rose/2.jpg"], ()),
    (["flowers/daisy/1.jpg", "flowers/rose/2.jpg"], ("flowers",)),
    (["categories/SOURCE.md", "categories/daisy/1.jpg", "categories/rose/2.jpg"], ("categories",)),
    (["top/README.txt", "top/inner/a/1.jpg", "top/inner/b/2.jpg"], ("top", "inner")),
    (["README.txt", "set/daisy/1.jpg", "set/rose/2.jpg"], ("set",)),
    # a photo of its own keeps a folder a class, whatever sits below it
    (["daisy/1.jpg", "daisy/close-ups/2.jpg"], ()),
    (["x.jpg", "set/daisy/1.jpg", "set/rose/2.jpg"], ()),
])
def test_class_root(names, root):
    assert archive_class_root([tuple(n.split("/")) for n in names]) == root


def test_shared_categories_zipped_with_its_source_note_gives_the_flower_classes(tmp_path):
    """``../shared/datasets/categories`` has ``SOURCE.md`` next to its class folders; zipped
    with its folder it was one class named ``categories``."""
    root = shared_path("datasets", "categories")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    names = [f"categories/{p.relative_to(root).as_posix()}" for p in files]
    assert "categories/SOURCE.md" in names
    classes = archive_classes(names)  # the layout only: every file of the set, nothing decoded
    assert set(classes) == {p.name for p in root.iterdir() if p.is_dir()} and len(classes) >= 12
    assert "categories" not in classes and sum(classes.values()) == len(files) - 1

    picked = ["daisy", "iris", "pansy"]  # the import itself, on two photos of three classes: cheap
    z = tmp_path / "categories.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(root / "SOURCE.md", "categories/SOURCE.md")
        for c in picked:
            for p in sorted((root / c).iterdir())[:2]:
                zf.write(p, f"categories/{c}/{p.name}")
    ds = Dataset.objects.create(name="flowers", kind="classification")
    report = dataset_import(dataset=ds, source=z)
    assert report.added == 6
    assert {r["name"]: r["count"] for r in dataset_class_counts(dataset=ds)} == {c: 2 for c in picked}
    assert report.skipped == [("categories/SOURCE.md", NOT_A_PHOTO_BESIDE)]


def test_a_one_class_zip_says_so_at_upload_before_the_import_runs(staff_client):
    ds = Dataset.objects.create(name="one", kind="classification")
    z = SimpleUploadedFile("one.zip", _zip_bytes({"flowers/daisy/1.jpg": _jpeg(), "flowers/daisy/2.jpg": _jpeg((1, 2, 3)),
                                                  "flowers/notes.txt": b"hi"}))
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": z}, follow=True)
    job = Job.objects.get(kind="datasets.import")
    assert job.state == "queued"  # said before the import ran
    page = r.content.decode()
    assert "This upload holds one class, “daisy” (2 files)" in page and "a classifier needs at least two" in page
    # a second class in a dataset that already holds one: nothing to say
    ds.classes.create(class_id=1, name="daisy")
    ds.images.create(original_name="a.jpg", sha256="0" * 64, label=ds.classes.get())
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": SimpleUploadedFile(
        "rose.zip", _zip_bytes({"rose/1.jpg": _jpeg()}))})
    said = [str(m) for m in get_messages(r.wsgi_request)]
    assert said and not any("holds one class" in m for m in said)


def test_a_zip_without_class_folders_is_refused_before_import(staff_client):
    ds = Dataset.objects.create(name="loose", kind="classification")
    z = SimpleUploadedFile("loose.zip", _zip_bytes({"1.jpg": _jpeg(), "2.jpg": _jpeg((0, 0, 9))}))
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": z})
    assert r.status_code == 200 and "“loose.zip” has no class folders" in r.content.decode()
    assert not Job.objects.exists()
