"""Upload checks shared by every app: size first, then content (decoded with
the one loader, ``vision.images``); stored names are random, never the
client's file name."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

from vision.errors import InvalidImageError
from vision.images import LoadedImage, load_image

EXTENSIONS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "GIF": "gif", "BMP": "bmp", "TIFF": "tif", "WEBP": "webp"}


def display_name(f) -> str:
    """The client's file name, reduced to its last component, for messages only."""
    return (getattr(f, "name", "") or "upload").replace("\\", "/").rsplit("/", 1)[-1][:120]


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


def stored_file(loaded: LoadedImage, data: bytes) -> ContentFile:
    """The upload's bytes under a random name whose extension comes from the
    detected format."""
    return ContentFile(data, name=f"{uuid.uuid4().hex}.{EXTENSIONS.get(loaded.format, 'img')}")


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
