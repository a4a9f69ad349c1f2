"""Detector evaluation: AP per class, mAP@0.5 (PASCAL VOC) and COCO AP@[.5:.95].

One matching and curve implementation serves two methods (``method=``):

``"voc"`` (default): the PASCAL VOC challenge from 2010 on (Everingham et al.
2010, "The PASCAL Visual Object Classes (VOC) Challenge", section 4.2; the
devkit's ``VOCevaldet.m`` / ``voc_ap(use_07_metric=False)``):

1. Per class, detections of all images are sorted by score, highest first.
2. Each detection is matched to the ground-truth box of that class in its
   image with the highest IoU; IoU ≥ the threshold with that box still
   unmatched makes it a true positive, anything else (lower IoU, or the box
   already taken by a higher-scoring detection: a duplicate) a false positive.
3. Precision is made monotonically decreasing from the right and AP is the
   area under the precision/recall curve at every point where recall changes
   ("all-point interpolation"; the 11-point version of VOC2007 is not used).

``"coco"``: pycocotools' ``COCOeval`` for ``iouType="bbox"``, area range
"all", ``maxDets=100`` (``cocoeval.py``: ``evaluateImg`` and ``accumulate``;
https://cocodataset.org/#detection-eval):

1. Per image and class only the 100 highest-scoring detections count.
2. Each detection, in score order, is matched to the *still unmatched*
   ground-truth box with the highest IoU among those with IoU ≥ the threshold
   (equal IoUs: the later box, as ``evaluateImg`` does); none: a false positive.
3. AP is the mean of the interpolated precision at the 101 recall points
   0, 0.01, ..., 1 (0 beyond the highest recall reached).

Departures from ``COCOeval``: crowd boxes (``iscrowd``) are not supported
(the product's data has none; leave them out of the ground truth), and every
image named in either input is scored, so a detection on an image without
boxes is a false positive (``COCOeval`` drops detections on images outside its
ground-truth file's image list). Equal scores keep
the input order; across images ``"coco"`` orders them by sorted image id
first, as ``accumulate`` does (when the ids are sortable). :func:`coco_ap`
averages over IoU 0.50:0.05:0.95.

mAP is the mean of AP over classes that have at least one ground-truth box.
Boxes are pixel ``(xmin, ymin, xmax, ymax)`` on continuous coordinates (see
``vision.boxes``), as pycocotools' IoU of ``(x, y, w, h)`` boxes (no ``+1``).
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

METHODS = ("voc", "coco")

COCO_IOU_THRESHOLDS = tuple(np.linspace(0.5, 0.95, 10))
"""IoU thresholds 0.50:0.05:0.95 of AP@[.5:.95] (``COCOeval.Params.iouThrs``)."""

COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)
"""Recall points 0:0.01:1 of COCO's interpolated AP (``COCOeval.Params.recThrs``)."""

COCO_MAX_DETECTIONS = 100
"""Detections per image and class that COCO AP counts (``maxDets[-1]``)."""


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
    """AP of one class, with its precision–recall curve.

    Attributes:
        label: class name.
        ap: average precision 0..1 (0 when the class has boxes but no true positive).
        n_ground_truth: ground-truth boxes of this class.
        n_detections: detections of this class that were scored (COCO: at
            most 100 per image).
        n_true_positives: detections matched at the IoU threshold.
        recall, precision, scores: the curve, one value per detection rank
            (highest score first): cumulative recall 0..1, precision 0..1
            (raw, not the interpolated envelope AP uses) and the detection's
            score; ``len == n_detections``.
        best_f1: the highest F1 = 2PR / (P + R) over score thresholds, 0..1.
        best_f1_threshold: the score giving ``best_f1`` (keep detections with
            score ≥ it); ``None`` when no detection is a true positive.
    """

    label: str
    ap: float
    n_ground_truth: int
    n_detections: int
    n_true_positives: int
    recall: tuple[float, ...] = ()
    precision: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()
    best_f1: float = 0.0
    best_f1_threshold: float | None = None


@dataclass(frozen=True)
class DetectionEvaluation:
    """Result of :func:`detection_evaluate`: ``per_class`` (sorted by label),
    ``mean_ap`` (mAP over classes with ground truth; ``nan`` if there are none),
    the ``iou_threshold`` and the ``method`` used."""

    per_class: tuple[ClassAP, ...]
    mean_ap: float
    iou_threshold: float
    method: str = "voc"


@dataclass(frozen=True)
class CocoAP:
    """Result of :func:`coco_ap`; every AP is 0..1 (``nan`` without ground truth).

    Attributes:
        ap: AP@[.5:.95], mean over IoU 0.50:0.05:0.95 then over classes with
            ground truth (COCO's primary metric, ``stats[0]``).
        ap50: AP@0.5 (``stats[1]``).
        ap75: AP@0.75 (``stats[2]``).
        per_class: COCO-style :class:`ClassAP` at IoU 0.5, sorted by label.
        per_class_ap: ``(label, AP@[.5:.95])`` in the same order.
    """

    ap: float
    ap50: float
    ap75: float
    per_class: tuple[ClassAP, ...]
    per_class_ap: tuple[tuple[str, float], ...]


def average_precision(recall: Sequence[float], precision: Sequence[float], *, method: str = "voc") -> float:
    """Area under a precision/recall curve, interpolated.

    Args:
        recall: ``(n,)`` cumulative recall, non-decreasing, 0..1.
        precision: ``(n,)`` precision at the same ranks, 0..1.
        method: ``"voc"``: all-point interpolation (``voc_ap`` of the VOC2010+
            devkit); ``"coco"``: mean precision envelope at the 101 recall
            points 0:0.01:1 (``COCOeval.accumulate``).

    Returns:
        AP in 0..1.

    Raises:
        ValueError: lengths differ, or an unknown ``method``.
    """
    r, p = np.asarray(recall, dtype=np.float64), np.asarray(precision, dtype=np.float64)
    if r.shape != p.shape:
        raise ValueError("recall and precision must have the same length")
    if method == "coco":
        if not r.size:
            return 0.0
        p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope, decreasing
        idx = np.searchsorted(r, COCO_RECALL_POINTS, side="left")
        return float(np.mean(np.where(idx < r.size, p[np.minimum(idx, r.size - 1)], 0.0)))
    _check_method(method)
    r = np.concatenate([[0.0], r, [1.0]])
    p = np.maximum.accumulate(np.concatenate([[0.0], p, [0.0]])[::-1])[::-1]
    idx = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[idx + 1] - r[idx]) * p[idx + 1]))


def detection_evaluate(ground_truth: Iterable[GroundTruth], detections: Iterable[Detection], *,
                       iou_threshold: float = DEFAULT_IOU_THRESHOLD, method: str = "voc") -> DetectionEvaluation:
    """AP per class and mAP at one IoU threshold (see the module docstring).

    Args:
        ground_truth: every annotated box of the evaluated images.
        detections: every detection on those images (detections on images
            without ground truth count as false positives).
        iou_threshold: 0 < t ≤ 1; default 0.5 (mAP@0.5).
        method: ``"voc"`` (PASCAL VOC, default) or ``"coco"`` (``COCOeval`` at
            this one threshold).

    Returns:
        A :class:`DetectionEvaluation`. Classes that only appear in
        ``detections`` are listed with AP 0 and ``n_ground_truth`` 0 but do
        not enter the mean.

    Raises:
        ValueError: ``iou_threshold`` outside (0, 1], or an unknown ``method``.
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError("iou_threshold must be in (0, 1]")
    per_class = tuple(_class_ap(label, n_gt, scores, tp[0], method)
                      for label, n_gt, scores, tp in _match_all(ground_truth, detections, (iou_threshold,), method))
    return DetectionEvaluation(per_class=per_class, mean_ap=_mean([c.ap for c in per_class if c.n_ground_truth]),
                               iou_threshold=float(iou_threshold), method=method)


def coco_ap(ground_truth: Iterable[GroundTruth], detections: Iterable[Detection]) -> CocoAP:
    """COCO AP@[.5:.95], AP@0.5 and AP@0.75 (``COCOeval.summarize``'s first three).

    Args:
        ground_truth: every annotated box of the evaluated images (no crowd boxes).
        detections: every detection on those images; the 100 highest-scoring
            per image and class count.

    Returns:
        A :class:`CocoAP`.
    """
    classes = _match_all(ground_truth, detections, COCO_IOU_THRESHOLDS, "coco")
    rows = [[_class_ap(label, n_gt, scores, row, "coco") for row in tp] for label, n_gt, scores, tp in classes]
    scored = [[c.ap for c in r] for r in rows if r[0].n_ground_truth]  # (classes with boxes, thresholds)
    return CocoAP(ap=_mean([np.mean(r) for r in scored]), ap50=_mean([r[0] for r in scored]),
                  ap75=_mean([r[5] for r in scored]), per_class=tuple(r[0] for r in rows),
                  per_class_ap=tuple((r[0].label, float(np.mean([c.ap for c in r]))) for r in rows))


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")


def _mean(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _match_image(ious: np.ndarray, thresholds: Sequence[float], method: str) -> np.ndarray:
    """True positives ``(n_thresholds, n_dets) bool`` of one image and class;
    ``ious`` is ``(n_dets, n_gt)`` with detections in score order."""
    tp = np.zeros((len(thresholds), ious.shape[0]), dtype=bool)
    if not ious.shape[1]:
        return tp
    for k, t in enumerate(thresholds):
        taken = np.zeros(ious.shape[1], dtype=bool)
        for i, row in enumerate(ious):
            if method == "voc":  # best box overall; taken -> duplicate
                j = int(np.argmax(row))
                hit = row[j] >= t and not taken[j]
            else:  # best untaken box; ties -> the later one; t capped as COCOeval does
                free = np.where(taken, -1.0, row)
                j = free.size - 1 - int(np.argmax(free[::-1]))
                hit = free[j] >= min(t, 1 - 1e-10)
            if hit:
                taken[j] = tp[k, i] = True
    return tp


def _match_all(ground_truth, detections, thresholds, method):
    """Per class sorted by label: ``(label, n_gt, scores (n,), tp (n_thresholds, n) bool)``
    with detections in score order (ties: see the module docstring)."""
    _check_method(method)
    gt_by = defaultdict(lambda: defaultdict(list))  # label -> image -> [box]
    for g in ground_truth:
        gt_by[g.label][g.image].append(tuple(g.box))
    det_by = defaultdict(lambda: defaultdict(list))  # label -> image -> [(-score, input index, box)]
    for n, d in enumerate(detections):
        det_by[d.label][d.image].append((-float(d.score), n, tuple(d.box)))
    try:  # COCOeval.accumulate concatenates images in sorted id order: ties across images follow it
        image_rank = {im: r for r, im in enumerate(sorted({im for v in det_by.values() for im in v}))}
    except TypeError:
        image_rank = {}
    out = []
    for label in sorted(set(gt_by) | set(det_by)):
        images = gt_by.get(label, {})
        keys, tps = [], []
        for image, dets in det_by.get(label, {}).items():
            dets = sorted(dets, key=lambda x: x[:2])[:COCO_MAX_DETECTIONS if method == "coco" else None]
            boxes = images.get(image, [])
            ious = boxes_iou([x[2] for x in dets], boxes) if boxes else np.zeros((len(dets), 0))
            keys += [(x[0], image_rank.get(image, 0) if method == "coco" else 0, x[1]) for x in dets]
            tps.append(_match_image(ious, thresholds, method))
        keys = np.array(keys, dtype=np.float64).reshape(-1, 3)  # (-score, image rank, input index)
        order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
        tp = np.concatenate(tps, axis=1)[:, order] if tps else np.zeros((len(thresholds), 0), dtype=bool)
        out.append((label, sum(len(v) for v in images.values()), -keys[order, 0], tp))
    return out


def _class_ap(label: str, n_gt: int, scores: np.ndarray, tp: np.ndarray, method: str) -> ClassAP:
    """:class:`ClassAP` from one threshold's true positives ``(n,) bool`` in score order."""
    ctp = np.cumsum(tp, dtype=np.float64)
    recall = ctp / max(n_gt, 1)
    precision = ctp / np.arange(1, tp.size + 1)
    ap = average_precision(recall, precision, method=method) if n_gt and tp.size else 0.0
    best_f1, threshold = 0.0, None
    if tp.any() and n_gt:
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
        f1[:-1][scores[1:] == scores[:-1]] = -1  # a threshold cannot split equal scores
        k = int(np.argmax(f1))
        best_f1, threshold = float(f1[k]), float(scores[k])
    return ClassAP(label=label, ap=ap, n_ground_truth=n_gt, n_detections=int(tp.size),
                   n_true_positives=int(tp.sum()), recall=tuple(recall.tolist()), precision=tuple(precision.tolist()),
                   scores=tuple(scores.tolist()), best_f1=best_f1, best_f1_threshold=threshold)
