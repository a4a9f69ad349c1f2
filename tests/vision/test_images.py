"""Tests for vision.images: the shared awkward uploads plus small in-memory images."""

from __future__ import annotations

import io
import pickle
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from tests.shared_data import shared_path
from vision.errors import InvalidImageError
from vision.images import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    crop_box,
    displayed_size,
    image_to_jpeg_bytes,
    load_image,
    probe_image,
    thumbnail,
)


def bad_input(name: str):
    return shared_path("bad-inputs", name)


def encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def solid(color, size=(8, 6), mode="RGB") -> Image.Image:
    return Image.new(mode, size, color)


# --- shared bad inputs (../shared/bad-inputs/README.md) -----------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    img = load_image(bad_input(f"I-04_exif_orientation_{orientation}.jpg"))
    px = img.pixels
    assert px.shape == (400, 300, 3) and px.dtype == np.uint8
    assert (img.width, img.height) == (300, 400)
    r, g, b = (int(v) for v in px[30, 30])
    assert r > 180 and b < 80, "top-left should be red"
    r, g, b = (int(v) for v in px[30, 270])
    assert b > 180 and r < 80, "top-right should be blue"
    assert (px[370, 30] > 200).all() and (px[370, 270] > 200).all(), "bottom is light grey"
    stored = (300, 400) if orientation <= 4 else (400, 300)
    assert img.size == stored and img.format == "JPEG"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_displayed_size_applies_exif_orientation(orientation):
    path = bad_input(f"I-04_exif_orientation_{orientation}.jpg")
    assert displayed_size(path) == (300, 400)  # as load_image's pixels, whatever the stored size
    assert probe_image(path)[1:] == ((300, 400) if orientation <= 4 else (400, 300))  # stored


@pytest.mark.parametrize("orientation, expected", [(None, (8, 6)), (1, (8, 6)), (3, (8, 6)), (5, (6, 8)),
                                                   (6, (6, 8)), (8, (6, 8)), (9, (8, 6)), (0, (8, 6))])
def test_displayed_size_matches_loaded_pixels(orientation, expected):
    im = solid((10, 200, 30))  # stored 8 wide x 6 high
    if orientation is None:
        data = encode(im, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation  # 0 and 9 are not orientations: left as stored
        data = encode(im, "JPEG", exif=exif)
    loaded = load_image(data)
    assert displayed_size(data) == expected == (loaded.width, loaded.height)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_displayed_size_with_unreadable_exif_keeps_the_stored_size():
    data = encode(solid((1, 2, 3)), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f")
    loaded = load_image(data)
    assert displayed_size(data) == (8, 6) == (loaded.width, loaded.height)


def test_cmyk_jpeg_becomes_rgb():
    img = load_image(bad_input("I-09_cmyk.jpg"))
    assert img.mode == "CMYK" and img.pixels.shape == (200, 200, 3)
    expected = {(50, 50): (255, 0, 0), (150, 50): (0, 255, 0), (50, 150): (0, 0, 255), (150, 150): (255, 255, 255)}
    for (x, y), rgb in expected.items():
        diff = np.abs(img.pixels[y, x].astype(int) - np.array(rgb))
        assert (diff <= 40).all(), f"({x},{y}) = {img.pixels[y, x]}, expected ~{rgb}"


def test_gray16_is_scaled_not_saturated():
    img = load_image(bad_input("I-02_gray16.png"))
    px = img.pixels
    assert img.mode.startswith("I;16") and px.shape == (64, 128, 3) and px.dtype == np.uint8
    left = px[:, :64].astype(int)
    assert (np.abs(left - 128) <= 1).all()
    ramp = px[0, 64:, 0].astype(int)
    assert ramp[0] <= 1 and ramp[-1] >= 254 and (np.diff(ramp) >= 0).all()
    assert (px == 255).all(axis=2).mean() < 0.05
    assert (px[..., 0] == px[..., 1]).all() and (px[..., 1] == px[..., 2]).all()


def test_palette_transparency_composited_over_white():
    img = load_image(bad_input("I-10_palette_transparent.png"))
    assert img.mode == "P"
    assert tuple(img.pixels[5, 5]) == (255, 255, 255)
    assert tuple(img.pixels[112, 112]) == (20, 40, 160)


def test_truncated_jpeg_is_refused():
    with pytest.raises(InvalidImageError) as err:
        load_image(bad_input("I-07_truncated.jpg"))
    assert err.value.code == "truncated"
    assert "truncated or damaged" in str(err.value)


def test_intact_reference_loads():
    img = load_image(bad_input("I-07_intact_reference.jpg"))
    assert img.pixels.shape == (600, 800, 3) and img.format == "JPEG" and img.frames == 1


@pytest.mark.parametrize("func", [load_image, probe_image, displayed_size])
def test_bomb_refused_from_header_quickly(func):
    start = time.perf_counter()
    with pytest.raises(InvalidImageError) as err:
        func(bad_input("I-08_bomb_20000x20000.png"))
    assert time.perf_counter() - start < 2.0
    assert err.value.code == "too_large"
    assert str(err.value) == (
        "The image is 20000 × 20000 pixels (400.0 megapixels); the limit is 50.0 megapixels."
    )


@pytest.mark.parametrize("func", [load_image, probe_image, displayed_size])
def test_empty_file_refused(func):
    path = bad_input("I-18_empty.jpg")
    with open(path, "rb") as fh:
        for source in (path, str(path), path.read_bytes(), fh, io.BytesIO()):
            with pytest.raises(InvalidImageError) as err:
                func(source)
            assert err.value.code == "empty" and str(err.value) == "The file is empty (0 bytes)."


@pytest.mark.parametrize("func", [load_image, probe_image, displayed_size])
def test_html_named_jpg_refused_as_not_image(func):
    with pytest.raises(InvalidImageError) as err:
        func(bad_input("I-17_html_named.jpg"))
    assert err.value.code == "not_image"
    assert "not an image" in str(err.value) and "JPEG" in str(err.value)


def test_pillow_globals_untouched():
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    for name in ("I-08_bomb_20000x20000.png", "I-07_truncated.jpg"):
        with pytest.raises(InvalidImageError):
            load_image(bad_input(name))
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before
    assert before[1] is False


# --- synthetic images -----------------------------------------------------------


def test_rgba_composited_over_white():
    im = Image.new("RGBA", (3, 1))
    im.putdata([(255, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)])
    img = load_image(encode(im, "PNG"))
    assert img.mode == "RGBA" and img.pixels.shape == (1, 3, 3)
    assert tuple(img.pixels[0, 0]) == (255, 255, 255)
    assert tuple(img.pixels[0, 1]) == (255, 0, 0)
    assert all(abs(int(v) - 127) <= 1 for v in img.pixels[0, 2])


def test_la_composited_over_white():
    im = Image.new("LA", (2, 1))
    im.putdata([(0, 0), (0, 255)])
    img = load_image(encode(im, "PNG"))
    assert img.mode == "LA"
    assert tuple(img.pixels[0, 0]) == (255, 255, 255) and tuple(img.pixels[0, 1]) == (0, 0, 0)


def test_one_bit_image():
    im = Image.new("1", (4, 2), 0)
    im.putpixel((1, 0), 1)
    img = load_image(encode(im, "PNG"))
    assert img.mode == "1" and img.pixels.dtype == np.uint8
    assert tuple(img.pixels[0, 1]) == (255, 255, 255) and tuple(img.pixels[0, 0]) == (0, 0, 0)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_first_frame(fmt):
    frames = [solid((255, 0, 0)), solid((0, 0, 255)), solid((0, 255, 0))]
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **params)
    img = load_image(data)
    assert img.frames == 3 and img.format == fmt
    assert (img.pixels == [255, 0, 0]).all()


def _png_rgb16(a: np.ndarray) -> bytes:
    """Hand-written 48-bit RGB PNG (Pillow cannot write one)."""
    h, w, _ = a.shape
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))  # noqa: E731
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_rgb16_png():
    a = np.zeros((2, 3, 3), np.uint16)
    a[0, 0] = (0xFFFF, 0x8080, 0x0000)
    a[1, 2] = (0x1234, 0xABCD, 0xFF00)
    img = load_image(_png_rgb16(a))
    assert img.pixels.shape == (2, 3, 3) and img.pixels.dtype == np.uint8
    assert tuple(img.pixels[0, 0]) == (255, 128, 0)
    assert tuple(img.pixels[1, 2]) == (0x12, 0xAB, 0xFF)


def test_gray16_synthetic_and_32bit_modes():
    a16 = np.array([[0, 0x0100, 0x8000, 0xFFFF]], np.uint16)
    assert load_image(encode(Image.fromarray(a16), "PNG")).pixels[0, :, 0].tolist() == [0, 1, 128, 255]
    i32 = Image.fromarray(np.array([[0, 0x8000, 0xFFFF]], np.int32))  # mode "I", 16-bit values
    img = load_image(encode(i32, "TIFF"))
    assert img.mode == "I" and img.pixels[0, :, 0].tolist() == [0, 128, 255]
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    img = load_image(encode(f, "TIFF"))
    assert img.mode == "F" and img.pixels[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("fmt,params", [("BMP", {}), ("WEBP", {"lossless": True}), ("TIFF", {}), ("GIF", {})])
def test_other_formats(fmt, params):
    img = load_image(encode(solid((200, 10, 30)), fmt, **params))
    assert img.format == fmt and img.pixels.shape == (6, 8, 3)
    assert (np.abs(img.pixels.astype(int) - [200, 10, 30]) <= 2).all()


def test_file_object_and_path_sources(tmp_path):
    data = encode(solid((0, 255, 0)), "PNG")
    path = tmp_path / "upload.bin"  # the extension is irrelevant
    path.write_bytes(data)
    fh = io.BytesIO(data)
    fh.read(5)  # already partly read (as a Django upload may be): reread from 0
    with open(path, "rb") as real_file:
        sources = [data, bytearray(data), fh, real_file, path, str(path)]
        for source in sources:
            img = load_image(source)
            assert isinstance(img, LoadedImage) and (img.pixels == [0, 255, 0]).all()
    assert probe_image(path) == ("PNG", 8, 6)


def test_result_is_writable_and_frozen():
    img = load_image(encode(solid((1, 2, 3)), "PNG"))
    assert img.pixels.flags.writeable and img.pixels.flags.c_contiguous
    with pytest.raises(AttributeError):
        img.format = "PNG"  # type: ignore[misc]


def test_pixel_limit_from_header():
    data = encode(solid((0, 0, 0), size=(100, 50)), "PNG")
    assert load_image(data, max_pixels=5000).size == (100, 50)
    with pytest.raises(InvalidImageError) as err:
        load_image(data, max_pixels=4999)
    assert err.value.code == "too_large" and "100 × 50 pixels" in str(err.value)
    assert DEFAULT_MAX_PIXELS == 50_000_000


def test_byte_limit():
    data = encode(solid((0, 0, 0)), "PNG")
    load_image(data, max_bytes=len(data))
    with pytest.raises(InvalidImageError) as err:
        load_image(io.BytesIO(data), max_bytes=len(data) - 1)
    assert err.value.code == "too_big_file"


def test_truncated_synthetic_jpeg_and_garbage():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(InvalidImageError) as err:
        load_image(data[: len(data) // 2])
    assert err.value.code == "truncated"
    with pytest.raises(InvalidImageError) as err:
        load_image(b"<html><body>hello</body></html>")
    assert err.value.code == "not_image"


def test_unsupported_format_refused():
    with pytest.raises(InvalidImageError) as err:
        load_image(encode(solid((0, 0, 0)), "PPM"))
    assert err.value.code == "unsupported_format" and "PPM" in str(err.value)


def test_bad_source_type():
    with pytest.raises(TypeError):
        load_image(123)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load_image(io.StringIO("text"))  # type: ignore[arg-type]


def test_error_survives_pickling():
    err = pickle.loads(pickle.dumps(InvalidImageError("The file is empty (0 bytes).", "empty")))
    assert err.code == "empty" and str(err) == "The file is empty (0 bytes)."


# --- helpers --------------------------------------------------------------------


def _ramp(h=40, w=60) -> np.ndarray:
    px = np.zeros((h, w, 3), np.uint8)
    px[..., 0] = np.arange(w)[None, :]
    px[..., 1] = np.arange(h)[:, None]
    return px


def test_crop_box_inside_and_margin():
    px = _ramp()
    crop = crop_box(px, (10, 5, 20, 25))
    assert crop.shape == (20, 10, 3) and crop[0, 0, 0] == 10 and crop[0, 0, 1] == 5
    wide = crop_box(px, (10, 5, 20, 25), margin=0.5)  # +5 px in x, +10 px in y each side
    assert wide.shape == (35, 20, 3) and wide[0, 0, 0] == 5 and wide[0, 0, 1] == 0  # clipped at top
    crop[:] = 0
    assert px[5, 10, 0] == 10, "crop is a copy"


def test_crop_box_clipped_and_invalid():
    px = _ramp()
    assert crop_box(px, (-10, -10, 5, 5)).shape == (5, 5, 3)
    assert crop_box(px, (50, 30, 100, 100)).shape == (10, 10, 3)
    for box in [(100, 100, 120, 120), (10, 10, 5, 20)]:
        with pytest.raises(ValueError):
            crop_box(px, box)
    with pytest.raises(ValueError):
        crop_box(px, (0, 0, 5, 5), margin=-0.1)
    with pytest.raises(ValueError):
        crop_box(px[..., 0], (0, 0, 5, 5))


def test_thumbnail_shape():
    px = _ramp(40, 60)
    small = thumbnail(px, 30)
    assert small.shape == (20, 30, 3) and small.dtype == np.uint8
    assert thumbnail(px, 100).shape == (40, 60, 3), "never enlarges"
    assert thumbnail(np.zeros((1000, 2, 3), np.uint8), 10).shape == (10, 1, 3)
    with pytest.raises(ValueError):
        thumbnail(px, 0)


def test_image_to_jpeg_bytes_roundtrip():
    px = np.full((16, 24, 3), (200, 100, 50), np.uint8)
    data = image_to_jpeg_bytes(px, quality=95)
    assert data[:3] == b"\xff\xd8\xff"
    back = load_image(data).pixels
    assert back.shape == px.shape and (np.abs(back.astype(int) - px) <= 3).all()
    with pytest.raises(ValueError):
        image_to_jpeg_bytes(px, quality=0)
    with pytest.raises(ValueError):
        image_to_jpeg_bytes(px.astype(np.float32))


def test_pillow_bomb_limit_named_when_max_pixels_is_higher():
    with pytest.raises(InvalidImageError) as err:
        load_image(bad_input("I-08_bomb_20000x20000.png"), max_pixels=10**10)
    limit = 2 * Image.MAX_IMAGE_PIXELS / 1e6
    assert err.value.code == "too_large"
    assert str(err.value) == f"The image is 20000 × 20000 pixels (400.0 megapixels); the limit is {limit:.1f} megapixels."


# --- the shared-data helper itself ----------------------------------------------


def test_shared_path_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="shared test data not found"):
        shared_path("no-such-folder", "x.png")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="shared test data not found"):
        shared_path("no-such-folder", "x.png")
