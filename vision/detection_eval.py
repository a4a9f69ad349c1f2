"""Detector evaluation: average precision at IoU ≥ 0.5 per class, and mAP@0.5.

Method of the PASCAL VOC challenge from 2010 on (Everingham et al. 2010, "The
PASCAL Visual Object Classes (VOC) Challenge", section 4.2, and the devkit's
``VOCevaldet.m`` / ``voc_ap(use_07_metric=False)``):

1. Per class, detections of all images are sorted by score, highest first.
2. Each detection is matched to the unmatched ground-truth box of that class
   in its image with the highest IoU; IoU ≥ ``iou_threshold`` (0.5) makes it
   a true positive, anything else (lower IoU, or a box already taken by a
   higher-scoring detection: a duplicate) a false positive.
3. Precision is made monotonically decreasing from the right and AP is the
   area under the precision/recall curve at every point where recall changes
   ("all-point interpolation"; the 11-point version of VOC2007 is not used).

mAP is the mean of AP over classes that have at least one ground-truth box.
Boxes are pixel ``(xmin, ymin, xmax, ymax)`` (see ``vision.boxes``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

import numpy as np

from vision.boxes import boxes_iou

DEFAULT_IOU_THRESHOLD = 0.5
"""IoU a detection needs with a ground-truth box to count as found (PASCAL VOC;
higher is stricter about localisation)."""


@dataclass(frozen=True)
class GroundTruth:
    """One annotated box: ``image`` (any hashable id), ``box`` pixels, ``label`` class name."""

    image: Hashable
    box: Sequence[float]
    label: str


@dataclass(frozen=True)
class Detection:
    """One detector output: as :class:`GroundTruth` plus ``score`` (higher is surer)."""

    image: Hashable
    box: Sequence[float]
    label: str
    score: float


@dataclass(frozen=True)
class ClassAP:
    """AP of one class.

    Attributes:
        label: class name.
        ap: average precision 0..1 (0 when the class has boxes but no true positive).
        n_ground_truth: ground-truth boxes of this class.
        n_detections: detections of this class.
        n_true_positives: detections matched at the IoU threshold.
    """

    label: str
    ap: float
    n_ground_truth: int
    n_detections: int
    n_true_positives: int


@dataclass(frozen=True)
class DetectionEvaluation:
    """Result of :func:`detection_evaluate`: ``per_class`` (sorted by label),
    ``mean_ap`` (mAP over classes with ground truth; ``nan`` if there are none)
    and the ``iou_threshold`` used."""

    per_class: tuple[ClassAP, ...]
    mean_ap: float
    iou_threshold: float


def average_precision(recall: Sequence[float], precision: Sequence[float]) -> float:
    """Area under a precision/recall curve with all-point interpolation.

    Args:
        recall: ``(n,)`` cumulative recall, non-decreasing, 0..1.
        precision: ``(n,)`` precision at the same ranks, 0..1.

    Returns:
        AP in 0..1 (``voc_ap`` of the VOC2010+ devkit).
    """
    r = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    p = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    if r.shape != p.shape:
        raise ValueError("recall and precision must have the same length")
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope, decreasing
    idx = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[idx + 1] - r[idx]) * p[idx + 1]))


def detection_evaluate(ground_truth: Iterable[GroundTruth], detections: Iterable[Detection], *,
                       iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> DetectionEvaluation:
    """AP per class and mAP, PASCAL VOC style (see the module docstring).

    Args:
        ground_truth: every annotated box of the evaluated images.
        detections: every detection on those images (detections on images
            without ground truth count as false positives).
        iou_threshold: 0 < t ≤ 1; default 0.5 (mAP@0.5).

    Returns:
        A :class:`DetectionEvaluation`. Classes that only appear in
        ``detections`` are listed with AP 0 and ``n_ground_truth`` 0 but do
        not enter the mean.

    Raises:
        ValueError: ``iou_threshold`` outside (0, 1].
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError("iou_threshold must be in (0, 1]")
    gt_by = defaultdict(lambda: defaultdict(list))  # label -> image -> [box]
    for g in ground_truth:
        gt_by[g.label][g.image].append(tuple(g.box))
    det_by = defaultdict(list)
    for d in detections:
        det_by[d.label].append(d)
    per_class = []
    for label in sorted(set(gt_by) | set(det_by)):
        images = gt_by.get(label, {})
        n_gt = sum(len(v) for v in images.values())
        dets = sorted(det_by.get(label, []), key=lambda d: -float(d.score))
        taken = {img: np.zeros(len(boxes), dtype=bool) for img, boxes in images.items()}
        tp = np.zeros(len(dets))
        for i, d in enumerate(dets):
            boxes = images.get(d.image)
            if not boxes:
                continue
            ious = boxes_iou([d.box], boxes)[0]
            j = int(np.argmax(ious))
            if ious[j] >= iou_threshold and not taken[d.image][j]:
                taken[d.image][j] = True
                tp[i] = 1
        if n_gt and len(dets):
            ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
            ap = average_precision(ctp / n_gt, ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps))
        else:
            ap = 0.0
        per_class.append(ClassAP(label=label, ap=ap, n_ground_truth=n_gt, n_detections=len(dets),
                                 n_true_positives=int(tp.sum())))
    scored = [c.ap for c in per_class if c.n_ground_truth]
    return DetectionEvaluation(per_class=tuple(per_class), mean_ap=float(np.mean(scored)) if scored else float("nan"),
                               iou_threshold=float(iou_threshold))
