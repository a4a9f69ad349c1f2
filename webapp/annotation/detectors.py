"""Every detector the product runs, under one id: the pretrained ones of
``vision.detectors`` (``dlib_hog_face``, ``opencv_hog_people``, ...) and trained
detectors, ``trained:<ModelVersion id>`` (``webapp.training.detectors``). The Detect page,
``POST /api/detect``, pre-annotation and ``manage.py evaluate_detectors`` take these ids;
:func:`detect` runs any of them (worker side: it loads models). Listing and checking ids
reads rows only, so the web process may call everything but :func:`detect`."""

from __future__ import annotations

from vision.detectors import DETECTORS, DetectedObject, detect_objects
from webapp.datasets.selectors import datasets_visible
from webapp.registry.models import ModelVersion

TRAINED_PREFIX = "trained:"


class UnknownDetector(ValueError):
    """A detector id that names no detector (or a trained one since deleted); the message says so."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def trained_detectors(*, user=None):
    """Active trained detectors (one per dataset) on datasets ``user`` may open (``None``: all)."""
    qs = ModelVersion.objects.filter(kind=ModelVersion.Kind.DETECTOR, active=True).select_related("dataset")
    return qs if user is None else qs.filter(dataset__in=datasets_visible(user=user))


def trained_detector_id(model_version: ModelVersion) -> str:
    """``trained:<id>``, the detector id of a trained version."""
    return f"{TRAINED_PREFIX}{model_version.pk}"


def trained_detector_label(model_version: ModelVersion) -> str:
    """How a trained detector is offered: its dataset, version and classes."""
    classes = ", ".join(model_version.classes[:5]) + ("…" if len(model_version.classes) > 5 else "")
    return f"Trained on “{model_version.dataset or '(deleted dataset)'}”, v{model_version.version} ({classes})"


def detector_choices(*, user=None) -> list[tuple[str, str]]:
    """``(id, description)`` of every detector ``user`` may run: the pretrained ones, then the
    active trained detectors of the datasets they may open."""
    return [(k, v[1]) for k, v in DETECTORS.items()] + [
        (trained_detector_id(mv), trained_detector_label(mv)) for mv in trained_detectors(user=user).order_by("id")]


def trained_version(detector: str) -> ModelVersion | None:
    """The detector version a ``trained:<id>`` names (active or not); ``None`` for any other id."""
    if not detector.startswith(TRAINED_PREFIX) or not detector[len(TRAINED_PREFIX):].isdigit():
        return None
    return ModelVersion.objects.filter(kind=ModelVersion.Kind.DETECTOR, pk=int(detector[len(TRAINED_PREFIX):])).first()


def detector_label(detector: str) -> str:
    """Words for any detector id (pretrained name or ``trained:<id>``), for pages that name it."""
    if detector in DETECTORS:
        return DETECTORS[detector][1]
    mv = trained_version(detector)
    return trained_detector_label(mv) if mv else f"{detector} (deleted)"


def detector_classes(detector: str) -> list[str]:
    """Class names a detector finds (``["face"]``; a trained one's label map).

    Raises:
        UnknownDetector: no such detector (in words).
    """
    if detector in DETECTORS:
        return [DETECTORS[detector][0]]
    mv = trained_version(detector)
    if mv is None:
        raise UnknownDetector(f"There is no detector “{detector[:60]}”: choose one of {', '.join(DETECTORS)} or "
                              f"{TRAINED_PREFIX}<id> of a trained detector (it may have been deleted).")
    return list(mv.classes)


def detect(image, *, detector: str, min_score: float | None = None, upsample: int = 1) -> list[DetectedObject]:
    """Run any detector on one photo (worker side). A trained one is loaded once per process
    (``vision.catalog.trained_load``).

    Args:
        image: ``(height, width, 3) uint8 RGB``.
        detector: an id of :func:`detector_choices`.
        min_score: drop detections scoring below this. ``None``: the detector's own threshold
            (pretrained: all it returns; trained: each class's best-F1 score threshold on its
            validation photos, ``TrainedDetector.thresholds``, fewer false boxes than recall).
        upsample: the dlib detectors' (``vision.detectors.detect_objects``).

    Returns:
        Detections, highest score first; ``label`` is the class name.

    Raises:
        UnknownDetector: no such detector; WeightsMissingError: a trained detector's file is gone.
    """
    if detector in DETECTORS:
        return detect_objects(image, detector=detector, min_score=min_score, upsample=upsample)
    detector_classes(detector)  # raises for an unknown id
    from vision import catalog
    from vision.training.detector import detect_with

    mv = trained_version(detector)
    model, options, report = catalog.trained_load(ModelVersion.Kind.DETECTOR, mv.pk, mv.path)
    names, thresholds = report["class_names"], report["thresholds"]
    floor = min_score if min_score is not None else min(thresholds.values())
    found = detect_with(model, options.input_size, len(names), [image], score_threshold=max(float(floor), 1e-6))[0]
    return [DetectedObject(tuple(float(v) for v in b.box), names[b.label], float(b.score)) for b in found
            if b.score >= (min_score if min_score is not None else thresholds[names[b.label]])]
