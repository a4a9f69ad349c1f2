"""Photo bytes for an export: the original file when a detection tool will
decode it to the same pixels the boxes refer to, else a re-encoded JPEG."""

from __future__ import annotations

import io

from PIL import Image

from vision.images import image_to_jpeg_bytes, load_image

EXIF_ORIENTATION = 0x0112


def photo_for_export(data: bytes, *, max_pixels: int) -> tuple[bytes, str]:
    """Bytes and format (``"jpeg"``/``"png"``) of a photo for a detection export.

    Boxes are in the EXIF-corrected photo, but TensorFlow's decoders (and many
    tools) ignore the EXIF orientation, and read only JPEG and PNG. So a JPEG
    or PNG in RGB or grey without an orientation tag is kept byte for byte;
    anything else (rotated by EXIF, CMYK, 16-bit, palette, WebP, BMP, TIFF...)
    is decoded with ``vision.images.load_image`` and re-encoded as JPEG
    (quality 95).

    Raises:
        InvalidImageError: the bytes are not a readable image.
    """
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt, mode = im.format, im.mode
            orientation = im.getexif().get(EXIF_ORIENTATION, 1)
    except Exception:
        fmt, mode, orientation = None, None, None
    if fmt in ("JPEG", "PNG") and mode in ("RGB", "L") and orientation in (None, 1):
        return data, fmt.lower()
    return image_to_jpeg_bytes(load_image(data, max_pixels=max_pixels).pixels, quality=95), "jpeg"
