"""Head outputs to boxes on the photo: scores, thresholds, per-class non-maximum suppression.

Score of a location and class: ``sqrt(sigmoid(class logit) · sigmoid(centre-ness logit))``
(FCOS §3.3 multiplies them; the square root, from FCOS' later releases, keeps scores on the
class probability's scale so a threshold reads as a probability).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vision.boxes import boxes_iou
from vision.detection.model import locations

SCORE_THRESHOLD = 0.05
"""Lowest score kept before NMS (COCO-style evaluation keeps low scores: AP needs the tail)."""
NMS_IOU = 0.5
"""Boxes of one class overlapping a higher-scoring one by more than this IoU are dropped."""
MAX_DETECTIONS = 100
"""Most boxes returned per photo (COCO's maxDets)."""
PRE_NMS = 1000
"""Highest-scoring candidates looked at per photo before NMS (FCOS' pre_nms_top_n)."""


@dataclass(frozen=True)
class Box:
    """One detection: pixel ``box`` ``(xmin, ymin, xmax, ymax)`` on the photo, ``label`` its class
    index, ``score`` 0..1."""

    box: tuple[float, float, float, float]
    label: int
    score: float


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(n, 4)`` pixel ``xmin, ymin, xmax, ymax``; scores: ``(n,)``.
        iou: boxes overlapping a kept one by more than this are dropped.

    Returns:
        Indices of the kept boxes, highest score first.
    """
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep = []
    while len(order):
        i = order[0]
        keep.append(int(i))
        if len(order) == 1:
            break
        overlap = boxes_iou(boxes[i:i + 1], boxes[order[1:]])[0]
        order = order[1:][overlap <= iou]
    return np.asarray(keep, np.int64)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def decode(output: np.ndarray, num_classes: int, input_size: int, *, width: float, height: float,
           score_threshold: float = SCORE_THRESHOLD, nms_iou: float = NMS_IOU,
           max_detections: int = MAX_DETECTIONS) -> list[Box]:
    """Boxes of one photo from its head output.

    Args:
        output: ``(N, C + 5)`` of one photo (``vision.detection.model``).
        num_classes: C.
        input_size: the square side the photo was resized to.
        width, height: the photo's own size in pixels (boxes are scaled back to it).
        score_threshold, nms_iou, max_detections: see the module constants.

    Returns:
        Up to ``max_detections`` :class:`Box`, highest score first, clipped to the photo.
    """
    pts, strides = locations(input_size)
    out = np.asarray(output, np.float32)
    scores = np.sqrt(_sigmoid(out[:, :num_classes]) * _sigmoid(out[:, num_classes + 4:num_classes + 5]))
    loc, cls = np.nonzero(scores > score_threshold)
    if not len(loc):
        return []
    s = scores[loc, cls]
    top = np.argsort(-s, kind="stable")[:PRE_NMS]
    loc, cls, s = loc[top], cls[top], s[top]
    d = out[loc, num_classes:num_classes + 4] * strides[loc, None]
    p = pts[loc]
    boxes = np.stack([p[:, 0] - d[:, 0], p[:, 1] - d[:, 1], p[:, 0] + d[:, 2], p[:, 1] + d[:, 3]], axis=1)
    boxes = np.clip(boxes, 0, input_size) * np.array([width, height, width, height], np.float32) / input_size
    found = []
    for c in np.unique(cls):
        m = np.nonzero(cls == c)[0]
        for i in nms(boxes[m], s[m], nms_iou):
            b = boxes[m[i]]
            if b[2] > b[0] and b[3] > b[1]:
                found.append(Box(tuple(float(v) for v in b), int(c), float(s[m[i]])))
    found.sort(key=lambda f: -f.score)
    return found[:max_detections]
