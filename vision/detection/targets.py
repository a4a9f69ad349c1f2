"""Which output locations answer for which box: FCOS' assignment (Tian et al. 2019, §3.1–3.2),
with centre sampling (FCOS' "center sampling" improvement, radius 1.5 strides) and one
fallback so that no box goes unlearned.

A location is positive for a box when its centre lies inside the box and within
:data:`CENTER_RADIUS` strides of the box's centre, and the box's size (its longest side
distance from the location) falls in the location's level range
(``vision.detection.model.levels``). Where several boxes claim a location, the smallest
wins. A box no location claims (smaller than a cell, or thin) gets the one cell of its level
nearest its centre.
"""

from __future__ import annotations

import numpy as np

from vision.detection.model import levels, locations

CENTER_RADIUS = 1.5
"""Positives lie within this many strides of a box's centre (FCOS center sampling)."""


def target_width(num_classes: int) -> int:
    """Columns of a target row: ``C`` one-hot classes, 4 side distances (stride units),
    the centre-ness target and the positive mask."""
    return num_classes + 6


def encode(boxes: np.ndarray, labels: np.ndarray, num_classes: int, input_size: int) -> np.ndarray:
    """Training targets of one photo.

    Args:
        boxes: ``(k, 4) float`` pixel ``xmin, ymin, xmax, ymax`` in the *resized* input
            (``0..input_size``); k may be 0 (a photo with no objects: every location negative).
        labels: ``(k,) int`` class indices ``0..num_classes-1``.
        num_classes: C.
        input_size: the square input side.

    Returns:
        ``(N, C + 6) float32``: per location (``model.locations`` order) the one-hot class
        (all zero for background), ``l, t, r, b`` divided by the stride, the centre-ness
        target ``sqrt(min(l,r)/max(l,r) · min(t,b)/max(t,b))`` (1 for a fallback cell), and 1 for a
        positive location.
    """
    pts, strides = locations(input_size)
    n = len(pts)
    out = np.zeros((n, target_width(num_classes)), np.float32)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    labels = np.asarray(labels, np.int64).reshape(-1)
    if not len(boxes):
        return out
    lo = np.concatenate([np.full(lv.size * lv.size, lv.lo, np.float32) for lv in levels(input_size)])
    hi = np.concatenate([np.full(lv.size * lv.size, lv.hi, np.float32) for lv in levels(input_size)])
    x, y = pts[:, :1], pts[:, 1:]
    l, t = x - boxes[None, :, 0], y - boxes[None, :, 1]
    r, b = boxes[None, :, 2] - x, boxes[None, :, 3] - y
    dist = np.stack([l, t, r, b], axis=-1)  # (n, k, 4)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    rad = CENTER_RADIUS * strides[:, None]
    near = (np.abs(x - cx[None]) < rad) & (np.abs(y - cy[None]) < rad)
    inside = dist.min(axis=-1) > 0
    longest = dist.max(axis=-1)
    ok = inside & near & (longest > lo[:, None]) & (longest <= hi[:, None])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    cost = np.where(ok, area[None, :], np.inf)
    # fallback: a box nothing claims takes its level's cell nearest its centre
    for j in np.nonzero(~ok.any(axis=0))[0]:
        size = max(boxes[j, 2] - boxes[j, 0], boxes[j, 3] - boxes[j, 1]) / 2
        lv_start = 0
        for lv in levels(input_size):
            if lv.lo < size <= lv.hi or lv.hi == float("inf"):
                cell = (min(int(cy[j] // lv.stride), lv.size - 1) * lv.size + min(int(cx[j] // lv.stride), lv.size - 1))
                i = lv_start + cell
                if np.isinf(cost[i]).all():  # never take a cell another box holds
                    cost[i, j] = area[j]
                break
            lv_start += lv.size * lv.size
    best = cost.argmin(axis=1)
    pos = np.isfinite(cost[np.arange(n), best])
    idx = np.nonzero(pos)[0]
    j = best[idx]
    d = dist[idx, j]
    out[idx, labels[j]] = 1.0
    out[idx, num_classes:num_classes + 4] = d / strides[idx, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ctr = np.sqrt(np.clip(np.minimum(d[:, 0], d[:, 2]) / np.maximum(d[:, 0], d[:, 2]), 0, 1)
                      * np.clip(np.minimum(d[:, 1], d[:, 3]) / np.maximum(d[:, 1], d[:, 3]), 0, 1))
    ctr = np.where(d.min(axis=1) > 0, np.nan_to_num(ctr), 1.0)
    out[idx, num_classes + 4] = ctr
    out[idx, num_classes + 5] = 1.0
    return out
