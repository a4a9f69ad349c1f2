"""Upload checks shared by every app: size first, then content (decoded with
the one loader, ``vision.images``).

File names: the client's name is only ever data (a database field, a message,
a name inside a staging zip, a download's ``Content-Disposition``); every name
on disk is generated (issue 13). Original names are kept in Unicode NFC and
cut to :data:`ORIGINAL_NAME_MAX_CHARS` (:func:`original_name`).

Stored photos are re-encoded from their decoded pixels (:func:`stored_file`),
so bytes a client appended to or hid in an image (HTML after a PNG's data,
a script in a comment) are never stored or served.
"""

from __future__ import annotations

import io
import tempfile
import unicodedata
import uuid
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from PIL import Image, JpegImagePlugin

from vision.errors import InvalidImageError
from vision.images import LoadedImage, load_image

#: Longest original name kept, in characters (Unicode code points, after NFC).
#: 255 is the longest file name Windows (NTFS) and macOS (APFS) allow, so a
#: name from a disk is kept whole; a longer one (a path inside a zip, a crafted
#: request) is cut by :func:`original_name`. Django itself cuts an uploaded
#: name at 255 characters without a mark, which the upload handlers below avoid.
ORIGINAL_NAME_MAX_CHARS = 255

#: An extension longer than this (characters) is part of the name, not an
#: extension, when a name is cut ("photo.taken at the lake" has none).
EXTENSION_MAX_CHARS = 16

#: The cut mark (U+2026 HORIZONTAL ELLIPSIS).
CUT_MARK = "\u2026"

#: Formats whose pixels are stored re-encoded as JPEG (lossy at the source
#: already); every other accepted format is stored as PNG (lossless).
LOSSY_FORMATS = ("JPEG", "MPO")

#: zlib level of a stored PNG (Pillow's ``compress_level``, 0..9; Pillow's default is 6). Level 1 wrote a
#: 12-megapixel photo about 4x faster than 6 here (0.65 s against 2.7 s) for a file about a quarter
#: larger: a check-in or enrolment request waits for it.
STORED_PNG_COMPRESS_LEVEL = 1

#: Pillow modes of grey sources (``I;16*`` too): stored as one grey channel, which decodes to the same RGB.
GREY_MODES = ("1", "L", "LA", "La", "I", "F")

#: JPEG quality (Pillow's 1..95 scale) of a re-encoded photo whose source
#: quantization tables cannot be reused (a CMYK or YCCK JPEG). Sources with
#: RGB or grey tables keep their own tables and chroma subsampling, so a
#: re-encoded photo keeps the quality and roughly the size it came with.
STORED_JPEG_QUALITY = 92


def original_name(name: str, *, max_chars: int = ORIGINAL_NAME_MAX_CHARS) -> str:
    """A client's file name (or a path inside a zip) as the product keeps it:
    Unicode NFC (a decomposed "café", as macOS writes it, and a composed one are
    the same name), control characters replaced by ``_``, and at most
    ``max_chars`` characters: a longer name keeps its start and its extension
    and marks the cut with ``…`` ("a very lo….jpg").

    Args:
        name: the name as sent; ``None`` or empty gives ``""``.
        max_chars: longest result in characters (code points after NFC), >= 2.
            Default :data:`ORIGINAL_NAME_MAX_CHARS` (255).

    Returns:
        The name, never longer than ``max_chars`` characters; used as data only
        (a database field, a message, ``Content-Disposition``), never as a path.

    Raises:
        ValueError: ``max_chars`` below 2.
    """
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars}")
    name = unicodedata.normalize("NFC", name or "")
    name = "".join("_" if unicodedata.category(c) == "Cc" else c for c in name)
    if len(name) <= max_chars:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or not (0 < len(ext) <= EXTENSION_MAX_CHARS) or not ext.isalnum():
        stem, ext = name, ""
    else:
        ext = "." + ext
    keep = max(0, max_chars - len(CUT_MARK) - len(ext))
    if keep == 0:  # max_chars too small for the extension: keep what fits of the start
        stem, ext, keep = name, "", max_chars - len(CUT_MARK)
    head = stem[:keep].rstrip("\u200d")  # never end on a zero-width joiner (half an emoji sequence)
    return head + CUT_MARK + ext


def display_name(f) -> str:
    """The client's file name of an upload: its last component (either slash),
    as :func:`original_name` keeps it (NFC, at most 255 characters). For
    messages and the ``original_name`` of stored rows; never a path.

    Args:
        f: an uploaded file; its ``client_name`` (set by this module's upload
            handlers: the name as sent, before Django cuts it to 255
            characters) is preferred to ``name``.
    """
    raw = getattr(f, "client_name", None) or getattr(f, "name", "") or ""
    return original_name(raw.replace("\\", "/").rsplit("/", 1)[-1]) or "upload"


def image_upload_check(f) -> tuple[LoadedImage, bytes]:
    """Read an uploaded file and decode it.

    Returns:
        ``(loaded, raw_bytes)``.

    Raises:
        ValidationError: with a sentence that names the file: empty, too big,
        not an image, damaged, too many pixels.
    """
    name = display_name(f)
    size = getattr(f, "size", None)
    limit = settings.MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise ValidationError(f"“{name}” is {size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB.", code="too_big_file")
    f.seek(0)
    data = f.read(limit + 1)
    if len(data) > limit:
        raise ValidationError(f"“{name}” is larger than the {limit / 2**20:g} MB limit.", code="too_big_file")
    try:
        loaded = load_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    except InvalidImageError as err:
        raise ValidationError(f"“{name}”: {err.message}", code=err.code) from err
    return loaded, data


def stored_bytes(loaded: LoadedImage, data: bytes) -> tuple[bytes, str]:
    """The bytes a photo is stored as: re-encoded from its decoded pixels, never
    the upload itself, so anything appended to or hidden in the file (HTML after
    a PNG's image data, metadata, later frames) is dropped, and so are EXIF
    tags (GPS position included): the orientation is already applied to the
    pixels, so the stored photo is upright with no Orientation tag.

    JPEG (and MPO) sources are stored as baseline JPEG with the source's own
    quantization tables and chroma subsampling where Pillow can reuse them (as
    its ``quality="keep"`` does), else at :data:`STORED_JPEG_QUALITY`; a grey
    JPEG stays grey. Every other format is stored as PNG of the pixels: first
    frame only, transparency composited over white, 8 bits per channel (what
    ``vision.images.load_image`` gives every model), one channel for a grey
    source (:data:`GREY_MODES`).

    Args:
        loaded: the upload decoded by :func:`image_upload_check` or
            ``vision.images.load_image``: ``pixels`` ``(H, W, 3) uint8`` RGB.
        data: the upload's bytes (read for the JPEG tables only).

    Returns:
        ``(bytes, extension)``; extension ``"jpg"`` or ``"png"``, no dot. Time: a
        few ms for a kiosk photo; for 12 megapixels about 0.1 s as JPEG, up to
        ~1.5 s as PNG (noisy pixels compress slowly).

    Raises:
        Nothing for a photo ``load_image`` decoded; Pillow's ``TypeError`` for
        pixels of another dtype (a caller's bug).
    """
    pixels = loaded.pixels
    buf = io.BytesIO()
    if loaded.format not in LOSSY_FORMATS:
        grey = loaded.mode in GREY_MODES or loaded.mode.startswith("I;16")
        image = Image.fromarray(np.ascontiguousarray(pixels[..., 0]) if grey else pixels)
        image.save(buf, "PNG", compress_level=STORED_PNG_COMPRESS_LEVEL)
        return buf.getvalue(), "png"
    options: dict = {"quality": STORED_JPEG_QUALITY}
    image = Image.fromarray(pixels)
    try:
        source = Image.open(io.BytesIO(data))
        tables = getattr(source, "quantization", None)
        if source.mode == "L" and tables and np.array_equal(pixels[..., 0], pixels[..., 2]):
            image, options = Image.fromarray(np.ascontiguousarray(pixels[..., 0])), {"qtables": tables}
        elif source.mode == "RGB" and tables and len(tables) >= 2:
            options = {"qtables": tables, "subsampling": max(0, JpegImagePlugin.get_sampling(source))}
    except Exception:  # a header Pillow decoded once already; keep the fixed quality if anything differs
        pass
    try:
        image.save(buf, "JPEG", **options)
    except (ValueError, OSError):  # tables Pillow cannot write back
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=STORED_JPEG_QUALITY)
    return buf.getvalue(), "jpg"


def stored_file(loaded: LoadedImage, data: bytes) -> ContentFile:
    """A photo to store: :func:`stored_bytes` under a random name (32 hex
    digits) with the stored format's extension; never the client's name."""
    content, ext = stored_bytes(loaded, data)
    return ContentFile(content, name=f"{uuid.uuid4().hex}.{ext}")


def upload_stage_zip(path: Path, members: Iterable[tuple[str, object]]) -> Path:
    """Write uploaded files into one uncompressed zip at ``path`` for an import
    job to read: their names (any length, any script) live inside the
    archive, never on disk, where a name over 255 bytes (a 200-character CJK
    name is ~600 bytes in UTF-8) fails with ``OSError: File name too long``.

    Args:
        path: the zip to write (its folder must exist).
        members: ``(name inside the zip, uploaded file)`` pairs; names use
            ``/`` between folders; each file is read with ``chunks()``.

    Returns:
        ``path``.

    Raises:
        OSError: the disk is full or the folder is missing.
    """
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for arcname, f in members:
            with zf.open(arcname, "w") as out:  # non-ASCII names get the zip's UTF-8 flag
                for chunk in f.chunks():
                    out.write(chunk)
    return path


def stored_image(field_file) -> LoadedImage:
    """Decode a photo already stored in media (a ``FileField`` value) the way
    uploads are decoded: EXIF orientation applied, RGB, at most
    ``MAX_IMAGE_PIXELS``.

    Returns:
        ``LoadedImage``: ``pixels`` ``(H, W, 3) uint8`` RGB, ``width``, ``height`` in pixels.

    Raises:
        InvalidImageError: the stored bytes no longer decode (sentence for the user).
        OSError: the file is missing from storage.
    """
    with field_file.open("rb") as fh:
        return load_image(fh.read(), max_pixels=settings.MAX_IMAGE_PIXELS)


# --- upload handlers (settings.FILE_UPLOAD_HANDLERS) ----------------------------------------------


class _TemporaryUpload(TemporaryUploadedFile):
    """Django's ``TemporaryUploadedFile`` whose temporary file is named
    ``tmpXXXXXXXX.upload``: Django's own appends the client's extension
    (``.upload.<ext>``), and an "extension" of 200 CJK characters is a name
    too long for the disk."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.NamedTemporaryFile(suffix=".upload", dir=settings.FILE_UPLOAD_TEMP_DIR)
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class MemoryUploadHandler(MemoryFileUploadHandler):
    """Django's in-memory handler (files up to ``FILE_UPLOAD_MAX_MEMORY_SIZE``)
    that also keeps the name as sent in ``client_name`` (Django cuts ``name``
    at 255 characters without a mark)."""

    def file_complete(self, file_size):
        f = super().file_complete(file_size)
        if f is not None:
            f.client_name = self.file_name
        return f


class TemporaryUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler (larger files) with a generated name on
    disk (:class:`_TemporaryUpload`) and the name as sent in ``client_name``."""

    def new_file(self, *args, **kwargs):
        super(TemporaryFileUploadHandler, self).new_file(*args, **kwargs)
        self.file = _TemporaryUpload(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)

    def file_complete(self, file_size):
        f = super().file_complete(file_size)
        if f is not None:
            f.client_name = self.file_name
        return f
