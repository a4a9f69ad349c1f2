"""Issue 13, file names: a client's file name never reaches the disk (255- and
600-byte names in several scripts through every upload form, kept in memory
or in Django's temporary file); original names are kept in Unicode NFC and
cut to ``ORIGINAL_NAME_MAX_CHARS`` with the extension and a ``…``."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from webapp.core.uploads import (CUT_MARK, ORIGINAL_NAME_MAX_CHARS, TemporaryUploadHandler, display_name,
                                 original_name)
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job

#: One character of each script, repeated to a byte length (UTF-8: 2 bytes Cyrillic and Arabic, 3 CJK and
#: Devanagari, 4 emoji).
SCRIPTS = {"cjk": "写真", "cyrillic": "фото", "arabic": "صورة", "devanagari": "तस्वीर", "emoji": "📷🌸"}
SIZES = (255, 600)


def long_name(script: str, n_bytes: int, ext: str = ".jpg") -> str:
    """A file name of exactly ``n_bytes`` UTF-8 bytes in ``script``, ending in ``ext``."""
    chars, body, i = SCRIPTS[script], "", 0
    while len((body + chars[i % len(chars)] + ext).encode()) <= n_bytes:
        body += chars[i % len(chars)]
        i += 1
    name = body + "a" * (n_bytes - len((body + ext).encode())) + ext
    assert len(name.encode()) == n_bytes
    return name


#: Every (script, size) pair, plus a name whose whole 600 bytes are an "extension" (Django's own
#: temporary file appends it: ``.upload.<ext>``).
NAMES = [long_name(s, n) for s in SCRIPTS for n in SIZES] + ["x." + "写" * 199 + "a"]


def _jpeg(color, size=(24, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def sent(name: str, data: bytes) -> io.BytesIO:
    """A file the test client sends under ``name`` whole (a ``SimpleUploadedFile`` would cut it at 255
    characters before sending, as Django cuts every ``UploadedFile`` name)."""
    f = io.BytesIO(data)
    f.name = name
    return f


def _photo(name: str, i: int) -> io.BytesIO:
    return sent(name, _jpeg((i * 9 % 256, 200 - i * 7 % 200, 50)))


def _zip(entries: dict[str, bytes], name: str) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, d in entries.items():
            zf.writestr(n, d)
    return sent(name, buf.getvalue())


def expected(name: str) -> str:
    return original_name(name)


@pytest.fixture(params=["memory", "temporary"])
def upload_mode(request, settings, tmp_path):
    """Each form is tried with files kept in memory and with every file in Django's temporary file."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0 if request.param == "temporary" else 5 * 2**20
    return request.param


def _names_on_disk(settings) -> list[str]:
    root = Path(settings.MEDIA_ROOT)
    return [p.name for p in root.rglob("*")] if root.exists() else []


def _assert_generated_names_only(settings):
    """Every name under MEDIA_ROOT is ASCII and short: generated, never a client's."""
    for name in _names_on_disk(settings):
        assert name.isascii() and len(name) <= 64, name


def _run_import(job_id: int) -> Job:
    from workers.datasets import import_upload

    import_upload.apply(args=[job_id])
    return Job.objects.get(pk=job_id)


# ----- original_name: NFC, control characters, the cut -------------------------------------------


def test_original_name_is_nfc():
    decomposed, composed = "cafe\u0301.jpg", "caf\u00e9.jpg"
    assert decomposed != composed
    assert original_name(decomposed) == original_name(composed) == composed
    assert unicodedata.is_normalized("NFC", original_name("\u1100\u1161\u11a8.png"))  # Hangul jamo compose


def test_a_long_name_keeps_its_start_and_extension_and_marks_the_cut():
    name = "фото" * 100 + ".jpeg"
    cut = original_name(name)
    assert len(cut) == ORIGINAL_NAME_MAX_CHARS and cut.endswith(CUT_MARK + ".jpeg") and name.startswith(cut[:-6])
    assert original_name("x" * 300)[-1] == CUT_MARK and len(original_name("x" * 300)) == ORIGINAL_NAME_MAX_CHARS
    # a "extension" too long to be one is cut as part of the name
    odd = "a" * 250 + ".taken at the lake on a sunny day"
    assert original_name(odd).endswith(CUT_MARK) and len(original_name(odd)) == ORIGINAL_NAME_MAX_CHARS
    assert original_name("short.png") == "short.png" and original_name("a" * 255) == "a" * 255
    assert original_name("abcdef.jpg", max_chars=8) == "abc….jpg"


def test_original_name_replaces_control_characters_and_refuses_a_tiny_limit():
    assert original_name("a\x00b\nc.jpg") == "a_b_c.jpg"
    assert original_name(None) == ""
    with pytest.raises(ValueError, match="max_chars"):
        original_name("x.jpg", max_chars=1)


def test_display_name_prefers_the_name_as_sent_and_takes_the_last_component():
    f = SimpleUploadedFile("ф" * 300 + ".jpg", b"x")
    assert len(f.name) == 255  # Django cut it without a mark
    f.client_name = "dir\\" + "ф" * 300 + ".jpg"
    assert display_name(f) == original_name("ф" * 300 + ".jpg") and display_name(f).endswith(CUT_MARK + ".jpg")
    assert display_name(SimpleUploadedFile("a/b/cafe\u0301.jpg", b"x")) == "caf\u00e9.jpg"


def test_the_temporary_upload_file_has_a_generated_name(settings, tmp_path):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    handler = TemporaryUploadHandler()
    handler.new_file("photo", "x." + "写" * 199 + "a", "image/jpeg", 10, "utf-8")
    handler.receive_data_chunk(b"0123456789", 0)
    f = handler.file_complete(10)
    on_disk = Path(f.temporary_file_path()).name
    assert on_disk.isascii() and on_disk.endswith(".upload") and len(on_disk) < 40
    assert f.client_name == "x." + "写" * 199 + "a"
    f.close()


# ----- every upload form ------------------------------------------------------------------------


pytestmark = pytest.mark.django_db


def test_dataset_photos_and_zip_with_long_names(staff_client, upload_mode, settings):
    ds = Dataset.objects.create(name="Long names", kind="classification")
    photos = [_photo(n, i) for i, n in enumerate(NAMES)]
    r = staff_client.post(f"/datasets/{ds.pk}/", {"photos": photos, "class_name": "写真"})
    assert r.status_code == 302, r.content[-2000:]
    _assert_generated_names_only(settings)
    job = _run_import(Job.objects.filter(kind="datasets.import").latest("id").pk)
    assert job.state == "succeeded" and job.result["added"] == len(NAMES), job.result
    # a classification dataset keeps the class folder in the name, as a zip's paths
    assert set(ds.images.values_list("original_name", flat=True)) == {expected(f"写真/{n}") for n in NAMES}
    page = staff_client.get(f"/datasets/{ds.pk}/").content.decode()
    assert all(f'href="{im.file.url}?download"' in page for im in ds.images.all())
    # a zip named and filled with long names: its entries' names are never written either
    entries = {f"{long_name('cjk', 120, '')}/{n}": _jpeg((i, 3, 90)) for i, n in enumerate(NAMES[:4])}
    entries |= {f"rose/{n}": _jpeg((i, 90, 3)) for i, n in enumerate(NAMES[4:8])}
    r = staff_client.post(f"/datasets/{ds.pk}/", {"archive": _zip(entries, long_name("cyrillic", 600, ".zip"))})
    assert r.status_code == 302, r.content[-2000:]
    _assert_generated_names_only(settings)
    job = _run_import(Job.objects.filter(kind="datasets.import").latest("id").pk)
    assert job.state == "succeeded" and job.result["added"] == 8, job.result
    assert ds.classes.filter(name="rose").exists()


def test_gallery_upload_with_long_names(staff_client, upload_mode, settings):
    from webapp.search.services import gallery_create

    ds = gallery_create(name="G")
    files = [_photo(n, i) for i, n in enumerate(NAMES)] + [_photo("12:30 紅葉.jpg", 99)]
    files.append(_zip({n: _jpeg((i, 40, 40)) for i, n in enumerate(NAMES[:3])}, long_name("emoji", 600, ".zip")))
    r = staff_client.post(f"/search/galleries/{ds.pk}/", {"files": files})
    assert r.status_code == 302, r.content[-2000:]
    _assert_generated_names_only(settings)
    job = _run_import(Job.objects.filter(kind="datasets.import").latest("id").pk)
    assert job.state == "succeeded", job.result
    names = set(ds.images.values_list("original_name", flat=True))
    assert {expected(n) for n in NAMES} | {"12:30 紅葉.jpg"} <= names


def test_annotation_photos_with_long_names(staff_client, upload_mode, settings):
    ds = Dataset.objects.create(name="Boxes", kind="detection")
    r = staff_client.post(f"/annotate/{ds.pk}/upload/", {"photos": [_photo(n, i) for i, n in enumerate(NAMES)]})
    assert r.status_code == 302
    r = staff_client.post(f"/annotate/{ds.pk}/upload/",
                          {"archive": _zip({n: _jpeg((i, 1, 200)) for i, n in enumerate(NAMES[:2])},
                                           long_name("devanagari", 600, ".zip"))})
    assert r.status_code == 302
    _assert_generated_names_only(settings)
    for job in Job.objects.filter(kind="datasets.import").order_by("id"):
        assert _run_import(job.pk).state == "succeeded"
    assert {expected(n) for n in NAMES} <= set(ds.images.values_list("original_name", flat=True))
    csv = sent(long_name("arabic", 600, ".csv"), b"filename,xmin,ymin,xmax,ymax,class\n")
    r = staff_client.post(f"/annotate/{ds.pk}/import/", {"files": [csv]})
    assert r.status_code < 500


def test_enrolment_with_long_names(staff_client, upload_mode, settings):
    from webapp.checkin.models import FaceSample, Member

    member = Member.objects.create(name="Ann")
    r = staff_client.post(f"/members/{member.pk}/", {"photos": [_photo(n, i) for i, n in enumerate(NAMES)]})
    assert r.status_code == 302, r.content[-2000:]
    _assert_generated_names_only(settings)
    assert set(FaceSample.objects.values_list("original_name", flat=True)) == {expected(n) for n in NAMES}


@pytest.mark.parametrize("name", NAMES[::2] + NAMES[1::2][:2] + NAMES[-1:])
def test_single_photo_forms_with_long_names(staff_client, upload_mode, settings, name):
    """Check-in (page and API, with burst frames), search and classify (page and API), detect (page and
    API), predict (page and API), activations and the kernel playground: never a 500, nothing on disk
    named by the client."""
    from webapp.registry.models import ModelVersion
    from webapp.search.services import gallery_create

    gallery = gallery_create(name="G")
    mv = ModelVersion.objects.create(kind="classifier", name="m", version=1, path="x", classes=["a", "b"],
                                     metrics={"layers": ["conv"]})
    forms = [
        ("/checkin/", {"mode": "kiosk", "frames": [_photo(name, 2)]}),
        ("/api/checkins", {"frames": [_photo(name, 3)]}),
        (f"/search/galleries/{gallery.pk}/search/", {"k": 5}),
        (f"/api/galleries/{gallery.pk}/search", {"k": 5}),
        ("/search/classify/", {}),
        ("/api/classify", {}),
        ("/detect/", {"detector": "dlib_hog_face"}),
        ("/api/detect", {"detector": "dlib_hog_face"}),
        (f"/training/models/{mv.pk}/predict/", {}),
        (f"/api/models/{mv.pk}/predict", {}),
        (f"/training/models/{mv.pk}/activations/", {"layer": "conv"}),
        ("/training/playground/", {"kernel": "edge", "padding": "valid", "stride": 1, "pooling": "max"}),
    ]
    for url, data in forms:
        r = staff_client.post(url, {**data, "photo": _photo(name, 1)}, HTTP_X_CSRFTOKEN="x")
        assert r.status_code < 500, (url, r.status_code, r.content[-1500:])
    _assert_generated_names_only(settings)


def test_the_500_page_does_not_promise_that_uploads_were_kept():
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "Nothing you uploaded was lost" not in page and "may not have been kept" in page
