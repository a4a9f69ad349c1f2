"""Score a detector (pretrained, or ``trained:<id>``: ``webapp.annotation.detectors``)
against boxes (a dataset's, or an ``annotations.csv`` with its photos) with AP@0.5
per class and mAP (``vision.detection_eval``, the code training's validation mAP
uses). Runs detectors, so only the worker or the command line call it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from vision.detection_eval import Detection, DetectionEvaluation, GroundTruth, detection_evaluate
from vision.detection_io.csv_format import annotations_csv_read
from vision.detectors import DETECTORS
from vision.images import displayed_size, load_image
from webapp.annotation.detectors import detect, detector_classes


@dataclass(frozen=True)
class EvaluationRun:
    detector: str
    n_images: int
    evaluation: DetectionEvaluation
    seconds_per_image: float


def evaluate_detector(*, detector: str, photos: Iterable[tuple[str, Callable[[], bytes]]],
                      ground_truth: list[GroundTruth], upsample: int = 1) -> EvaluationRun:
    """Run ``detector`` on every photo and score it on the ground-truth boxes
    of the classes it detects (other classes are left out). A trained detector
    keeps every box down to ``vision.detection.decode.SCORE_THRESHOLD``, as its
    validation mAP during training did (AP needs the low scores' tail).

    Args:
        detector: a pretrained detector's name or ``trained:<id>``.
        photos: ``(image id, read bytes)`` pairs; every photo counts, with or
            without boxes of that class (a detection on a photo without one
            is a false positive).
        ground_truth: boxes whose ``image`` matches the photo ids.
    """
    from vision.detection.decode import SCORE_THRESHOLD

    labels = set(detector_classes(detector))
    gt = [g for g in ground_truth if g.label in labels]
    min_score = None if detector in DETECTORS else SCORE_THRESHOLD
    dets, n, spent = [], 0, 0.0
    for image_id, read in photos:
        pixels = load_image(read()).pixels
        t0 = time.perf_counter()
        found = detect(pixels, detector=detector, min_score=min_score, upsample=upsample)
        spent += time.perf_counter() - t0
        dets += [Detection(image_id, d.box, d.label, d.score) for d in found]
        n += 1
    return EvaluationRun(detector, n, detection_evaluate(gt, dets), spent / max(1, n))


def csv_ground_truth(*, csv_path: Path, prefix: str = "") -> tuple[list[tuple[str, Callable[[], bytes]]], list[GroundTruth]]:
    """Photos (every image file under ``csv_path``'s folder whose relative
    name starts with ``prefix``) and the CSV's boxes on them.

    The CSV's boxes are pixel ``(xmin, ymin, xmax, ymax)`` in the photo as
    displayed (EXIF orientation applied, the frame detectors see through
    ``load_image``); each is checked and clipped against that size.

    Returns:
        ``([(relative name, read bytes)], [GroundTruth])``.

    Raises:
        InvalidImageError: a photo under the folder is not a readable image.
    """
    root = csv_path.parent
    names = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.relative_to(root).as_posix().startswith(prefix))
    # boxes are in the displayed (EXIF-rotated) frame, as the photos load
    sizes = {name: displayed_size(root / name) for name in names}
    result = annotations_csv_read(csv_path.read_bytes(), sizes=sizes)
    gt = [GroundTruth(img.filename, b.box, b.label) for img in result.images for b in img.boxes]
    photos = [(name, (lambda p=root / name: p.read_bytes())) for name in names]
    return photos, gt


def dataset_ground_truth(*, dataset) -> tuple[list, list[GroundTruth]]:
    """Readable photos of a detection dataset and its accepted boxes."""
    from webapp.annotation.models import Box
    from webapp.datasets.models import DatasetImage

    images = list(dataset.images.filter(status=DatasetImage.Status.OK).order_by("id"))
    gt = [GroundTruth(b.image_id, b.xyxy, b.label.name)
          for b in Box.objects.filter(image__dataset=dataset, accepted=True).select_related("label")]

    def reader(img):
        def read():
            with img.file.open("rb") as fh:
                return fh.read()
        return read

    return [(img.pk, reader(img)) for img in images], gt
