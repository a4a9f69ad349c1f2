"""Box utilities: IoU, clipping, validation and coordinate conversions.

One convention everywhere (see the house guide): a box is pixel
``(xmin, ymin, xmax, ymax)`` in the EXIF-corrected image, ``xmin < xmax`` and
``ymin < ymax``, measured as continuous coordinates of pixel edges, so a box
covering pixels 0..9 is ``(0, 0, 10, 10)`` and its area is
``(xmax - xmin) * (ymax - ymin)``. This is the COCO / TF Object Detection API
convention (the PASCAL VOC devkit's ``+1`` on inclusive integer corners is
not applied). Arrays of boxes are ``(n, 4) float64``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

Box = tuple[float, float, float, float]


def _as_boxes(boxes, name: str = "boxes") -> np.ndarray:
    a = np.asarray(boxes, dtype=np.float64)
    if a.ndim == 1 and a.size == 0:
        a = a.reshape(0, 4)
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{name} must have shape (n, 4), got {a.shape}")
    return a


def boxes_area(boxes) -> np.ndarray:
    """Areas of boxes.

    Args:
        boxes: ``(n, 4)`` pixel ``(xmin, ymin, xmax, ymax)``.

    Returns:
        ``(n,) float64`` areas in square pixels; 0 for empty or inverted boxes.
    """
    b = _as_boxes(boxes)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def boxes_iou(boxes_a, boxes_b) -> np.ndarray:
    """Pairwise intersection over union (Jaccard index) of two sets of boxes.

    IoU = area(A ∩ B) / area(A ∪ B) (Everingham et al. 2010, "The PASCAL
    Visual Object Classes (VOC) Challenge", section 4.4), on continuous
    coordinates.

    Args:
        boxes_a: ``(n, 4)`` pixel ``(xmin, ymin, xmax, ymax)``.
        boxes_b: ``(m, 4)`` same convention.

    Returns:
        ``(n, m) float64`` in 0..1; 0 where the union is empty.

    Raises:
        ValueError: an input is not ``(k, 4)``.
    """
    a, b = _as_boxes(boxes_a, "boxes_a"), _as_boxes(boxes_b, "boxes_b")
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    union = boxes_area(a)[:, None] + boxes_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return out


def box_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """IoU of two single boxes (see :func:`boxes_iou`). Returns a float in 0..1."""
    return float(boxes_iou([box_a], [box_b])[0, 0])


def boxes_clip(boxes, *, width: float, height: float) -> np.ndarray:
    """Clip boxes to the image ``[0, width] x [0, height]``.

    Args:
        boxes: ``(n, 4)`` pixel ``(xmin, ymin, xmax, ymax)``.
        width, height: image size in pixels (> 0).

    Returns:
        ``(n, 4) float64``; a box wholly outside becomes empty (zero area).

    Raises:
        ValueError: non-positive image size or bad shape.
    """
    if not (width > 0 and height > 0):
        raise ValueError("width and height must be positive")
    b = _as_boxes(boxes).copy()
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, width)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, height)
    return b


def boxes_xyxy_to_normalized(boxes, *, width: float, height: float) -> np.ndarray:
    """Pixel ``(xmin, ymin, xmax, ymax)`` -> fractions of the image size.

    The TF Object Detection API stores ``image/object/bbox/*`` this way.

    Args:
        boxes: ``(n, 4)`` pixels.
        width, height: image size in pixels (> 0).

    Returns:
        ``(n, 4) float64`` ``(xmin/W, ymin/H, xmax/W, ymax/H)``, 0..1 for boxes
        inside the image.
    """
    if not (width > 0 and height > 0):
        raise ValueError("width and height must be positive")
    return _as_boxes(boxes) / np.array([width, height, width, height], dtype=np.float64)


def boxes_normalized_to_xyxy(boxes, *, width: float, height: float) -> np.ndarray:
    """Inverse of :func:`boxes_xyxy_to_normalized`: ``(n, 4)`` fractions -> pixels (float64)."""
    if not (width > 0 and height > 0):
        raise ValueError("width and height must be positive")
    return _as_boxes(boxes) * np.array([width, height, width, height], dtype=np.float64)


def boxes_xywh_to_xyxy(boxes) -> np.ndarray:
    """COCO ``[x, y, width, height]`` -> ``(xmin, ymin, xmax, ymax)``; ``(n, 4) float64``."""
    b = _as_boxes(boxes).copy()
    b[:, 2] += b[:, 0]
    b[:, 3] += b[:, 1]
    return b


def boxes_xyxy_to_xywh(boxes) -> np.ndarray:
    """``(xmin, ymin, xmax, ymax)`` -> COCO ``[x, y, width, height]``; ``(n, 4) float64``."""
    b = _as_boxes(boxes).copy()
    b[:, 2] -= b[:, 0]
    b[:, 3] -= b[:, 1]
    return b


@dataclass(frozen=True)
class CheckedBox:
    """A box that passed :func:`box_check`.

    Attributes:
        box: pixel ``(xmin, ymin, xmax, ymax)`` floats inside the image.
        clipped: True when the given box reached outside the image and was cut
            to it (the caller reports this).
    """

    box: Box
    clipped: bool


def box_check(values: Sequence, *, width: float, height: float) -> CheckedBox:
    """Validate one box read from a file or a request, clipping it to the image.

    Args:
        values: four numbers or numeric strings ``(xmin, ymin, xmax, ymax)``, pixels.
        width, height: size of the EXIF-corrected image in pixels.

    Returns:
        The box as floats, clipped to ``[0, width] x [0, height]``.

    Raises:
        ValueError: with a sentence for the user: not four values, a value that
            is not a finite number, an empty box (``xmin >= xmax`` or
            ``ymin >= ymax``), or a box wholly outside the image.
    """
    if len(values) != 4:
        raise ValueError(f"A box needs four numbers (xmin, ymin, xmax, ymax); got {len(values)}.")
    nums = []
    for name, v in zip(("xmin", "ymin", "xmax", "ymax"), values):
        try:
            f = float(v.strip() if isinstance(v, str) else v)
        except (TypeError, ValueError):
            raise ValueError(f"{name} is not a number: {str(v)[:40]!r}.") from None
        if not math.isfinite(f):
            raise ValueError(f"{name} is not a finite number: {str(v)[:40]!r}.")
        nums.append(f)
    xmin, ymin, xmax, ymax = nums
    if xmin >= xmax or ymin >= ymax:
        raise ValueError(f"The box is empty: xmin must be below xmax and ymin below ymax "
                         f"(got {xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}).")
    if xmax <= 0 or ymax <= 0 or xmin >= width or ymin >= height:
        raise ValueError(f"The box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) lies wholly outside the "
                         f"{width:g}×{height:g} photo.")
    clipped = (max(0.0, xmin), max(0.0, ymin), min(float(width), xmax), min(float(height), ymax))
    return CheckedBox(box=clipped, clipped=clipped != (xmin, ymin, xmax, ymax))


def coordinate_text(v: float) -> str:
    """A pixel coordinate for a text file: an integer when whole, else up to two decimals.

    ``coordinate_text(12.0) == "12"``, ``coordinate_text(12.345) == "12.35"``.
    """
    r = round(float(v), 2)
    if r == int(r):
        return str(int(r))
    return f"{r:.2f}".rstrip("0").rstrip(".")
