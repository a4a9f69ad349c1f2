"""Photos sent as ``data:`` URLs (RFC 2397), as a browser canvas gives them
(``canvas.toDataURL()``): turned into an ordinary in-memory upload, so the
same content checks (``webapp.core.uploads.image_upload_check``) apply."""

from __future__ import annotations

import base64
import binascii
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

_DATA_URL = re.compile(r"data:(?P<mime>image/[a-z0-9.+-]+)(?:;[a-z0-9-]+=[^;,]*)*;base64,(?P<data>.*)", re.I | re.S)


def upload_from_data_url(value: str, *, name: str = "camera") -> SimpleUploadedFile:
    """A ``data:image/<type>;base64,<data>`` URL as an upload named ``<name>.<type>``.

    Args:
        value: the URL text; whitespace inside the base64 part is allowed (RFC 2045 line breaks).

    Returns:
        An in-memory upload; its content is not checked here (the caller runs the image checks).

    Raises:
        ValidationError: code ``bad_data_url`` (not a base64 ``data:image/...`` URL, or damaged
            base64) or ``too_big_file`` (over ``MAX_UPLOAD_BYTES`` once decoded), in words.
    """
    m = _DATA_URL.fullmatch((value or "").strip())
    if m is None:
        raise ValidationError("The photo must be a file, or a data URL of the form data:image/png;base64,…",
                              code="bad_data_url")
    b64 = re.sub(r"\s+", "", m["data"])
    if len(b64) * 3 // 4 > settings.MAX_UPLOAD_BYTES:  # refuse before decoding it all
        raise ValidationError(f"The photo is larger than {settings.MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
                              code="too_big_file")
    try:
        data = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("The data URL's base64 text is damaged: the photo could not be read.",
                              code="bad_data_url") from None
    ext = m["mime"].split("/", 1)[1].lower().replace("jpeg", "jpg")
    return SimpleUploadedFile(f"{name}.{ext}", data, content_type=m["mime"].lower())
