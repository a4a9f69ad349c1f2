"""Photo → square network input, with augmentation that moves the boxes with the pixels.

Training views (seeded by the caller's ``numpy`` generator): a random crop keeping 50–100 %
of each side, or a zoom-out onto a mean-grey canvas up to 1.6× (small objects for the fine
level: SSD's "zoom out", Liu et al. 2016 §3.6); a horizontal flip; brightness, contrast and
saturation jitter of ±20 %. Boxes are clipped to the crop; a box keeping less than
:data:`MIN_VISIBLE` of its area is dropped, and one narrower than :data:`MIN_SIDE` px after
resizing too. Photos are resized to the square side without keeping the aspect ratio
(SSD's choice; the boxes are scaled the same way and back again by ``decode``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageEnhance

MIN_VISIBLE = 0.4
"""Fraction of a box's area a crop must keep for the box to stay a target."""
MIN_SIDE = 2.0
"""Boxes thinner than this many input pixels after resizing are dropped."""
CANVAS = (124, 116, 104)
"""Zoom-out canvas colour: the ImageNet mean, so the padding looks like "nothing"."""


def resize_boxes(boxes: np.ndarray, *, width: float, height: float, side: int) -> np.ndarray:
    """Pixel boxes on a ``width × height`` photo → boxes on its ``side × side`` resize, float32."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return b * np.array([side / width, side / height, side / width, side / height], np.float32)


def to_input(image: np.ndarray, side: int) -> np.ndarray:
    """``(h, w, 3) uint8 RGB`` → ``(side, side, 3) float32`` 0..255 (bilinear, aspect not kept)."""
    im = Image.fromarray(image)
    if im.size != (side, side):
        im = im.resize((side, side), Image.Resampling.BILINEAR)
    return np.asarray(im, np.float32)


def _keep(boxes: np.ndarray, clipped: np.ndarray) -> np.ndarray:
    area = lambda b: np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return area(clipped) >= MIN_VISIBLE * np.maximum(area(boxes), 1e-6)


def augmented(image: np.ndarray, boxes: np.ndarray, labels: np.ndarray, side: int,
              rng: np.random.Generator, *, flip: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented training view.

    Args:
        image: ``(h, w, 3) uint8 RGB``.
        boxes: ``(k, 4)`` pixel ``xmin, ymin, xmax, ymax`` on ``image``; labels: ``(k,) int``.
        side: the square input side.
        rng: the seeded generator that draws every choice.
        flip: force the horizontal flip on or off; None draws it (p = 0.5).

    Returns:
        ``(pixels (side, side, 3) float32 0..255, boxes (k', 4) float32 on the input, labels (k',))``.
    """
    h, w = image.shape[:2]
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int64).reshape(-1)
    im = Image.fromarray(image)
    u = rng.random()
    if u < 0.5:  # crop
        cw, ch = w * rng.uniform(0.5, 1.0), h * rng.uniform(0.5, 1.0)
        x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
        im = im.crop((round(x0), round(y0), round(x0 + cw), round(y0 + ch)))
        x0, y0 = round(x0), round(y0)
        clipped = np.stack([np.clip(boxes[:, 0] - x0, 0, im.width), np.clip(boxes[:, 1] - y0, 0, im.height),
                            np.clip(boxes[:, 2] - x0, 0, im.width), np.clip(boxes[:, 3] - y0, 0, im.height)], 1)
        keep = _keep(boxes - np.array([x0, y0, x0, y0], np.float32), clipped)
        boxes, labels = clipped[keep], labels[keep]
    elif u < 0.8:  # zoom out
        k = rng.uniform(1.0, 1.6)
        canvas = Image.new("RGB", (round(w * k), round(h * k)), CANVAS)
        x0, y0 = round(rng.uniform(0, canvas.width - w)), round(rng.uniform(0, canvas.height - h))
        canvas.paste(im, (x0, y0))
        im = canvas
        boxes = boxes + np.array([x0, y0, x0, y0], np.float32)
    boxes = resize_boxes(boxes, width=im.width, height=im.height, side=side)
    im = im.resize((side, side), Image.Resampling.BILINEAR)
    if flip if flip is not None else rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        boxes = np.stack([side - boxes[:, 2], boxes[:, 1], side - boxes[:, 0], boxes[:, 3]], 1)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        im = enhance(im).enhance(rng.uniform(0.8, 1.2))
    big = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) >= MIN_SIDE
    return np.asarray(im, np.float32), boxes[big].reshape(-1, 4), labels[big]


def flipped(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mirror image and its boxes (no other change): ``(h, w, 3) uint8``, ``(k, 4)`` pixels."""
    w = image.shape[1]
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return image[:, ::-1].copy(), np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], 1)
