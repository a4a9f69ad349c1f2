"""The one image loader for every upload, plus small array helpers.

Everything is decided from the bytes, never the file name or Content-Type.
Every failure is an :class:`~vision.errors.InvalidImageError` with a sentence
for the uploader and a code: ``"empty"``, ``"not_image"``,
``"unsupported_format"``, ``"truncated"``, ``"too_large"`` (pixel limit) or
``"too_big_file"`` (byte limit).

Sources: Pillow docs for ``Image.open`` (decompression-bomb guard) and
``ImageOps.exif_transpose`` (EXIF 2.32 tag 0x0112, Orientation).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import BinaryIO, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from vision.errors import InvalidImageError

ImageSource = Union[bytes, bytearray, memoryview, str, os.PathLike, BinaryIO]

#: Largest accepted width * height (50 megapixels): above any phone or DSLR
#: photo in common use, far below Pillow's own bomb limit (~179 megapixels),
#: and ~150 MB once decoded to RGB.
DEFAULT_MAX_PIXELS = 50_000_000

#: Formats we decode. Others Pillow knows (EPS calls Ghostscript, PSD, ICO...)
#: are refused; MPO is how Pillow names the multi-picture JPEGs some cameras write.
SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "TIFF", "WEBP")

#: EXIF 2.32 tag 0x0112 (Orientation) and its values that turn the photo a
#: quarter (``ImageOps.exif_transpose``: TRANSPOSE, ROTATE_270, TRANSVERSE, ROTATE_90).
_EXIF_ORIENTATION = 0x0112
_QUARTER_TURNS = (5, 6, 7, 8)

_PLEASE = "please upload a JPEG, PNG, GIF, BMP, TIFF or WebP picture."
_NOT_IMAGE = "The file is not an image we can read; " + _PLEASE
_DAMAGED = "The image file is truncated or damaged; please upload it again."


@dataclass(frozen=True, eq=False)  # eq=False: == on arrays is ambiguous
class LoadedImage:
    """A decoded upload in the one canonical layout the library works on.

    Attributes:
        pixels: ``(height, width, 3) uint8`` RGB, 0..255, C-contiguous and
            writable; EXIF orientation applied, first frame only, alpha
            composited over white, high-bit-depth data scaled to 8 bits.
        format: Pillow's format name as detected from the bytes, e.g. ``"JPEG"``.
        mode: the original Pillow mode (``"RGB"``, ``"P"``, ``"I;16"``, ``"CMYK"``...).
        size: ``(width, height)`` as stored in the file, before EXIF rotation.
        frames: number of frames (1 unless animated GIF/WebP/APNG or multi-page TIFF).
    """

    pixels: np.ndarray
    format: str
    mode: str
    size: tuple[int, int]
    frames: int

    @property
    def width(self) -> int:
        """Width of ``pixels`` (after EXIF rotation)."""
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        """Height of ``pixels`` (after EXIF rotation)."""
        return int(self.pixels.shape[0])


def load_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None
) -> LoadedImage:
    """Decode an upload into a :class:`LoadedImage`.

    Args:
        source: the file as ``bytes``, a path (``str``/``os.PathLike``) or a
            binary file object (read from position 0 when seekable).
        max_pixels: largest accepted ``width * height``, checked from the
            header before any pixel is decoded. Default :data:`DEFAULT_MAX_PIXELS`.
        max_bytes: largest accepted file size in bytes; ``None`` (default)
            leaves the byte limit to the web layer.

    Returns:
        The canonical ``(height, width, 3) uint8`` RGB array and its metadata.

    Raises:
        InvalidImageError: code ``"empty"``, ``"too_big_file"``, ``"not_image"``,
            ``"unsupported_format"``, ``"too_large"`` or ``"truncated"``.
        FileNotFoundError: ``source`` is a path that does not exist (a storage
            bug, not a bad upload).
        TypeError: ``source`` is none of the accepted types.
    """
    data = _read_bytes(source, max_bytes)
    im = _open_checked(data, max_pixels)
    try:
        frames = int(getattr(im, "n_frames", 1))
        im.seek(0)
        im.load()  # LOAD_TRUNCATED_IMAGES stays False, so short data raises here
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # a later frame
        raise _too_large(im.size, max_pixels) from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, EOFError...
        raise InvalidImageError(_DAMAGED, "truncated") from exc
    fmt, mode, size = im.format, im.mode, im.size
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # unreadable EXIF: the pixels are fine, keep them as stored
        pass
    try:
        pixels = _to_rgb(im)
    except (ValueError, OSError) as exc:
        msg = f"Images of this kind ({fmt}, mode {mode}) are not supported."
        raise InvalidImageError(msg, "unsupported_format") from exc
    return LoadedImage(pixels=pixels, format=fmt, mode=mode, size=size, frames=frames)


def probe_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None
) -> tuple[str, int, int]:
    """Check an upload from its header only (no pixel decoding; fast).

    Args:
        source, max_pixels, max_bytes: as in :func:`load_image`.

    Returns:
        ``(format, width, height)``; width and height as stored, before EXIF
        rotation (like :attr:`LoadedImage.size`); boxes are in the rotated
        frame, which :func:`displayed_size` gives.

    Raises:
        InvalidImageError: as :func:`load_image`, except that ``"truncated"``
            is only detected by a full load.
    """
    im = _open_checked(_read_bytes(source, max_bytes), max_pixels)
    return im.format, im.size[0], im.size[1]


def displayed_size(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int | None = None
) -> tuple[int, int]:
    """Size of a photo as it is displayed, EXIF orientation applied, from
    the header (no pixel decoding for JPEG, TIFF, WebP; Pillow may decode a
    PNG to find an ``eXIf`` chunk stored after the pixels).

    This is the pixel frame boxes are drawn and stored in, and the shape of
    :attr:`LoadedImage.pixels`: orientations 5 to 8 (EXIF 2.32 tag 0x0112,
    transpose, 90° clockwise, transverse, 90° counter-clockwise) swap the
    stored width and height; 1 to 4 and unknown values keep them, as does
    unreadable EXIF (as :func:`load_image` does).

    Args:
        source, max_pixels, max_bytes: as in :func:`load_image`.

    Returns:
        ``(width, height)`` in pixels, equal to :attr:`LoadedImage.width`
        and :attr:`LoadedImage.height` of the same file.

    Raises:
        InvalidImageError: as :func:`probe_image`.
    """
    im = _open_checked(_read_bytes(source, max_bytes), max_pixels)
    width, height = im.size
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # unreadable EXIF: load_image keeps the pixels as stored
        orientation = 1
    return (height, width) if orientation in _QUARTER_TURNS else (width, height)


def image_to_jpeg_bytes(pixels: np.ndarray, quality: int = 90) -> bytes:
    """Encode ``(height, width, 3) uint8`` RGB as baseline JPEG bytes.

    Args:
        pixels: ``(height, width, 3) uint8`` RGB.
        quality: JPEG quality 1..95 (Pillow advises against values above 95).

    Raises:
        ValueError: bad array or quality.
    """
    _check_pixels(pixels)
    if not 1 <= int(quality) <= 95:
        raise ValueError(f"quality must be in 1..95, got {quality}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, "JPEG", quality=int(quality))
    return buf.getvalue()


def crop_box(pixels: np.ndarray, box, margin: float = 0.0) -> np.ndarray:
    """Crop a pixel box, optionally widened, clipped to the image.

    Args:
        pixels: ``(height, width, 3) uint8`` RGB.
        box: pixel ``(xmin, ymin, xmax, ymax)``; max is exclusive.
        margin: fraction of the box width/height added on each side
            (0.2 widens a 100 px box to 140 px). Must be >= 0.

    Returns:
        A copy, ``(h, w, 3) uint8``, with at least one pixel.

    Raises:
        ValueError: bad array, box with xmax <= xmin or ymax <= ymin, negative
            margin, or a box entirely outside the image.
    """
    _check_pixels(pixels)
    xmin, ymin, xmax, ymax = (float(v) for v in box)
    if xmax <= xmin or ymax <= ymin:
        raise ValueError(f"box must be (xmin, ymin, xmax, ymax) with max > min, got {box}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    dx, dy = (xmax - xmin) * margin, (ymax - ymin) * margin
    h, w = pixels.shape[:2]
    x0, y0 = max(0, int(np.floor(xmin - dx))), max(0, int(np.floor(ymin - dy)))
    x1, y1 = min(w, int(np.ceil(xmax + dx))), min(h, int(np.ceil(ymax + dy)))
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box {box} lies outside the {w}x{h} image")
    return pixels[y0:y1, x0:x1].copy()


def thumbnail(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side``, keeping aspect
    ratio; never enlarges. Lanczos resampling (Pillow ``Resampling.LANCZOS``).

    Args:
        pixels: ``(height, width, 3) uint8`` RGB.
        max_side: longest side of the result in pixels, >= 1.

    Returns:
        ``(h, w, 3) uint8`` RGB with ``max(h, w) <= max_side`` (a copy).
    """
    _check_pixels(pixels)
    if int(max_side) < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return pixels.copy()
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    im = Image.fromarray(np.ascontiguousarray(pixels)).resize(size, Image.Resampling.LANCZOS)
    return np.array(im)


# --- internals ---------------------------------------------------------------


def _read_bytes(source: ImageSource, max_bytes: int | None) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            data = fh.read(-1 if max_bytes is None else max_bytes + 1)
    elif hasattr(source, "read"):
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)  # as Pillow does: Django may have read the upload already
        data = source.read(-1 if max_bytes is None else max_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("file objects must be opened in binary mode")
    else:
        raise TypeError(f"source must be bytes, a path or a binary file, not {type(source).__name__}")
    if not data:
        raise InvalidImageError("The file is empty (0 bytes).", "empty")
    if max_bytes is not None and len(data) > max_bytes:
        msg = f"The file is larger than the limit of {max_bytes / 1e6:.1f} MB."
        raise InvalidImageError(msg, "too_big_file")
    return bytes(data)


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    """Identify the format and check the declared size; decodes no pixels."""
    try:
        im = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard fired (its warning only raises under `-W error`) before
        # telling us the size; its limit then applies whatever max_pixels says.
        pil_limit = Image.MAX_IMAGE_PIXELS * (2 if isinstance(exc, Image.DecompressionBombError) else 1)
        raise _too_large(_declared_size(data), min(max_pixels, pil_limit)) from None
    except UnidentifiedImageError:
        raise InvalidImageError(_NOT_IMAGE, "not_image") from None
    except Exception as exc:  # a recognised header that fails to parse
        raise InvalidImageError(_DAMAGED, "truncated") from exc
    if im.format not in SUPPORTED_FORMATS:
        raise InvalidImageError(f"{im.format} images are not supported; {_PLEASE}", "unsupported_format")
    if im.size[0] * im.size[1] > max_pixels:
        raise _too_large(im.size, max_pixels)
    return im


def _declared_size(data: bytes) -> tuple[int, int] | None:
    """Header size via the registered format openers, which (unlike
    ``Image.open``) skip the bomb check; only used to word the error."""
    for fmt in SUPPORTED_FORMATS:
        factory, accept = Image.OPEN.get(fmt, (None, None))
        verdict = True if accept is None else accept(data[:16])
        if factory is None or not verdict or isinstance(verdict, str):  # str: a warning
            continue
        try:
            return factory(io.BytesIO(data), "").size
        except Exception:
            continue
    return None


def _too_large(size: tuple[int, int] | None, max_pixels: int) -> InvalidImageError:
    limit = f"the limit is {max_pixels / 1e6:.1f} megapixels"
    if size is None:
        return InvalidImageError(f"The image has too many pixels; {limit}.", "too_large")
    w, h = size
    msg = f"The image is {w} × {h} pixels ({w * h / 1e6:.1f} megapixels); {limit}."
    return InvalidImageError(msg, "too_large")


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> ``(H, W, 3) uint8`` RGB (writable copy)."""
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        gray = _gray_to_uint8(np.asarray(im), im.mode)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        # Plain convert("RGB") drops alpha, so transparent areas would turn black.
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im.convert("RGBA"))
    return np.array(im.convert("RGB"))  # CMYK (incl. Adobe inverted), P, L, 1, YCbCr...


def _gray_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """High-bit-depth grey -> uint8; a plain convert("L") clips to white."""
    if mode.startswith("I;16"):
        return (a.astype(np.uint16) >> 8).astype(np.uint8)
    a = np.nan_to_num(a.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if mode == "I" and lo >= 0 and hi <= 65535:  # 16-bit data widened to int32
        return (a.astype(np.int64) >> 8).astype(np.uint8)
    if mode == "F" and lo >= 0 and hi <= 1.0:  # float data in 0..1
        return np.round(a * 255).astype(np.uint8)
    if lo >= 0 and hi <= 255:
        return np.round(a).astype(np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)  # stretch others


def _check_pixels(pixels: np.ndarray) -> None:
    if not (isinstance(pixels, np.ndarray) and pixels.ndim == 3 and pixels.shape[2] == 3
            and pixels.dtype == np.uint8 and pixels.shape[0] and pixels.shape[1]):
        got = getattr(pixels, "shape", type(pixels).__name__), getattr(pixels, "dtype", "")
        raise ValueError(f"pixels must be a non-empty (height, width, 3) uint8 RGB array, got {got}")
