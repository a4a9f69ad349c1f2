"""Issue 13: stored photos are re-encoded from their pixels (nothing a client
appended or hid is stored or served), keep their orientation and quality, and
downloads of a photo carry its original name (RFC 5987 ``filename*``)."""

from __future__ import annotations

import io
from urllib.parse import quote

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from vision.images import load_image
from webapp.core.media_access import download_name
from webapp.core.uploads import STORED_JPEG_QUALITY, stored_bytes
from webapp.jobs.models import Job

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"


def _png_with_html() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue() + HTML, pixels


def _jpeg(pixels: np.ndarray, *, quality: int = 80, orientation: int | None = None, mode: str = "RGB") -> bytes:
    im = Image.fromarray(pixels)
    if mode == "L":
        im = im.convert("L")
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, exif=exif.tobytes())
    return buf.getvalue()


def _smooth(h: int = 120, w: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], axis=2).astype(np.uint8)


# ----- stored_bytes: what is kept -------------------------------------------------------------


def test_html_after_a_png_is_not_stored_and_the_pixels_are_kept_exactly():
    data, pixels = _png_with_html()
    assert b"<script" in data
    stored, ext = stored_bytes(load_image(data), data)
    assert ext == "png" and b"<script" not in stored and b"<html" not in stored
    assert np.array_equal(load_image(stored).pixels, pixels)


def test_a_jpeg_keeps_its_tables_and_size_and_is_stored_upright_without_exif():
    pixels = _smooth()
    data = _jpeg(pixels, quality=70, orientation=6)  # stored sideways; shown turned 90° clockwise
    loaded = load_image(data)
    assert (loaded.width, loaded.height) == (120, 160)
    stored, ext = stored_bytes(loaded, data)
    again = Image.open(io.BytesIO(stored))
    assert ext == "jpg" and again.size == (120, 160) and again.getexif().get(0x0112) is None
    assert again.quantization == Image.open(io.BytesIO(data)).quantization  # the source's own quality
    assert len(stored) < 1.3 * len(data)
    diff = np.abs(load_image(stored).pixels.astype(int) - loaded.pixels.astype(int))
    assert diff.mean() < 2.0


def test_a_grey_jpeg_stays_grey_and_other_formats_become_png():
    data = _jpeg(_smooth(), mode="L")
    stored, ext = stored_bytes(load_image(data), data)
    assert ext == "jpg" and Image.open(io.BytesIO(stored)).mode == "L"
    buf = io.BytesIO()
    Image.fromarray(_smooth()).save(buf, "GIF")
    stored, ext = stored_bytes(load_image(buf.getvalue()), buf.getvalue())
    assert ext == "png" and Image.open(io.BytesIO(stored)).format == "PNG"
    buf = io.BytesIO()
    Image.fromarray((_smooth()[..., 0].astype(np.uint16) * 257)).save(buf, "PNG")  # 16-bit grey
    stored, ext = stored_bytes(load_image(buf.getvalue()), buf.getvalue())
    assert ext == "png" and Image.open(io.BytesIO(stored)).mode == "L"
    assert np.array_equal(load_image(stored).pixels, load_image(buf.getvalue()).pixels)


def test_a_cmyk_jpeg_is_stored_at_the_fixed_quality():
    buf = io.BytesIO()
    Image.fromarray(_smooth()).convert("CMYK").save(buf, "JPEG", quality=90)
    stored, ext = stored_bytes(load_image(buf.getvalue()), buf.getvalue())
    again = Image.open(io.BytesIO(stored))
    assert ext == "jpg" and again.mode == "RGB" and STORED_JPEG_QUALITY == 92


def test_download_name_follows_the_stored_format():
    assert download_name("party.gif", "ab12.png") == "party.png"
    assert download_name("photo.JPEG", "ab12.jpg") == "photo.JPEG"
    assert download_name("daisy/1.jpg", "ab12.jpg") == "1.jpg"
    assert download_name("no extension", "ab12.png") == "no extension.png"


# ----- through the pages: stored, served, downloaded -----------------------------------------

def _run_import():
    from workers.datasets import import_upload

    job = Job.objects.filter(kind="datasets.import").latest("id")
    import_upload.apply(args=[job.pk])
    return Job.objects.get(pk=job.pk)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _served(client, url: str) -> tuple[bytes, object]:
    r = client.get(url)
    assert r.status_code == 200
    return b"".join(r.streaming_content), r


@pytest.mark.django_db
def test_png_with_html_is_neither_stored_nor_served_anywhere(staff_client, media):
    """Gallery (dataset import), check-in, detect and enrolment all store the re-encoded photo."""
    from webapp.annotation.models import DetectPhoto
    from webapp.checkin.models import CheckInPhoto, FaceSample, Member
    from webapp.search.services import gallery_create

    data, pixels = _png_with_html()
    gallery = gallery_create(name="G")
    r = staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": [SimpleUploadedFile("cat.png", data)]})
    assert r.status_code == 302 and _run_import().state == "succeeded"
    member = Member.objects.create(name="Ann")
    assert staff_client.post(f"/members/{member.pk}/", {"photos": [SimpleUploadedFile("a.png", data)]}).status_code == 302
    assert staff_client.post("/checkin/", {"photo": SimpleUploadedFile("c.png", data), "mode": "kiosk"}).status_code == 302
    assert staff_client.post("/detect/", {"photo": SimpleUploadedFile("d.png", data),
                                          "detector": "dlib_hog_face"}).status_code == 302
    files = [gallery.images.get().file, FaceSample.objects.get().photo, CheckInPhoto.objects.get().photo,
             DetectPhoto.objects.get().file]
    for f in files:
        body, r = _served(staff_client, f.url)
        assert b"<script" not in body and f.name.endswith(".png"), f.name
        assert np.array_equal(load_image(body).pixels, pixels)
        assert r["X-Content-Type-Options"] == "nosniff" and "sandbox" in r["Content-Security-Policy"]


@pytest.mark.django_db
def test_downloads_carry_the_original_name_in_nfc(staff_client, media):
    from webapp.checkin.models import FaceSample, Member
    from webapp.search.services import gallery_create

    gallery = gallery_create(name="G")
    decomposed = "cafe\u0301 写真.jpg"
    photos = [SimpleUploadedFile(decomposed, _jpeg(_smooth())),
              SimpleUploadedFile("caf\u00e9 写真.jpg", _jpeg(_smooth()[::-1].copy())),
              SimpleUploadedFile("party.gif", b""), SimpleUploadedFile("plain name.jpg", _jpeg(_smooth(60, 80)))]
    buf = io.BytesIO()
    Image.fromarray(_smooth()).save(buf, "GIF")
    photos[2] = SimpleUploadedFile("party.gif", buf.getvalue())
    assert staff_client.post(f"/search/galleries/{gallery.pk}/", {"files": photos}).status_code == 302
    assert _run_import().state == "succeeded"
    # the two spellings are one name: the second is kept apart as a name already taken in this upload
    names = sorted(gallery.images.values_list("original_name", flat=True))
    assert names == sorted(["caf\u00e9 写真.jpg", "00001/caf\u00e9 写真.jpg", "party.gif", "plain name.jpg"])
    expected = {"caf\u00e9 写真.jpg": "attachment; filename*=utf-8''" + quote("caf\u00e9 写真.jpg"),
                "party.gif": "attachment; filename=\"party.png\"",
                "plain name.jpg": "attachment; filename=\"plain name.jpg\""}
    page = staff_client.get(f"/search/galleries/{gallery.pk}/").content.decode()
    for img in gallery.images.all():
        assert f'href="{img.file.url}?download"' in page  # the name under each photo downloads it
        _, r = _served(staff_client, img.file.url + "?download")
        assert r["Content-Disposition"] == expected[img.original_name.rsplit("/", 1)[-1]]
        _, r = _served(staff_client, img.file.url)  # shown in a page: no attachment
        assert not r.get("Content-Disposition", "").startswith("attachment")
    member = Member.objects.create(name="Ann")
    staff_client.post(f"/members/{member.pk}/", {"photos": [SimpleUploadedFile("Zoe\u0308.jpg", _jpeg(_smooth()))]})
    sample = FaceSample.objects.get()
    assert sample.original_name == "Zo\u00eb.jpg"
    assert f'href="{sample.photo.url}?download"' in staff_client.get(f"/members/{member.pk}/").content.decode()
    _, r = _served(staff_client, sample.photo.url + "?download")
    assert r["Content-Disposition"] == "attachment; filename*=utf-8''Zo%C3%AB.jpg"
