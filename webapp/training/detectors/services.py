"""Starting a detector training job (web side): the pre-check in words, the job's parameters
as ``DetectorOptions``, one job per dataset at a time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from vision.training.detector import MIN_BOXES, DetectorOptions
from webapp.datasets.models import Dataset
from webapp.training.detectors.data import MIN_BOX_SIDE, detector_data
from webapp.training.jobs import DETECTOR
from webapp.training.services import dataset_job_start

#: Finished photos a detector job asks for: one to learn from and one to check on.
MIN_PHOTOS = 2
#: ``DetectorOptions`` fields a job's ``options`` may set beyond the form's (the command line and
#: tests choose a smaller network); the seed comes from the dataset's split seed.
DETECTOR_SETTINGS = frozenset(f.name for f in dataclasses.fields(DetectorOptions)) - {"seed"}


@dataclass(frozen=True)
class DetectorCheck:
    """The pre-check of a dataset: ``problems`` stop training, ``warnings`` do not (both in words);
    ``photos``: finished photos; ``boxes``: boxes kept per class."""

    problems: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    photos: int = 0
    boxes: dict = field(default_factory=dict)


def detector_backbones() -> list:
    """Specs (``vision.backbones.SPECS``) of the EfficientNet-Lite backbones whose weights are here:
    the detector's network is built on their stage maps."""
    from vision.backbones import EFFICIENTNET_VARIANTS
    from webapp.core.backbones import backbones_available

    return [s for s in backbones_available() if s.name in EFFICIENTNET_VARIANTS]


def detector_check(*, dataset: Dataset) -> DetectorCheck:
    """What stops a detector from training on ``dataset`` and what it should know first.

    Problems: not a detection dataset; fewer than :data:`MIN_PHOTOS` finished photos (a photo
    is finished once it has an accepted box or is marked "No objects", with no machine box left
    to review); no box at all. Warnings: a class with no boxes (left out), a class with fewer
    than ``MIN_BOXES`` boxes, boxes under ``MIN_BOX_SIDE`` px (left out), photos left out.
    """
    if dataset.kind != Dataset.Kind.DETECTION:
        return DetectorCheck(problems=["A detector learns from a detection dataset: photos with boxes drawn on the "
                                       "annotation screen."])
    data = detector_data(dataset=dataset)
    problems = []
    if len(data.photos) < MIN_PHOTOS:
        problems.append(f"A detector needs at least {MIN_PHOTOS} finished photos, some to learn from and some to check "
                        f"on; this dataset has {len(data.photos)} ({data.not_annotated} not annotated yet, "
                        f"{data.to_review} with machine boxes to review). A photo is finished once it has an accepted "
                        "box or is marked “No objects”, and no machine box is left to review.")
    elif not data.class_names:
        problems.append("The finished photos hold no box"
                        + (f" of at least {MIN_BOX_SIDE:g} px on a side" if data.tiny_boxes else "")
                        + ": draw boxes round the objects first.")
    warnings = data.notes()
    warnings += [f"Class “{n}” has only {k} box{'es' if k != 1 else ''}: a useful detector needs at least {MIN_BOXES} "
                 "(about 50 for good results)." for n, k in data.boxes.items() if k < MIN_BOXES]
    return DetectorCheck(problems=problems, warnings=warnings, photos=len(data.photos), boxes=data.boxes)


def detector_options_from_params(p: dict, seed: int = 0) -> DetectorOptions:
    """A detector job's parameters (:func:`detector_start`) as ``DetectorOptions``.

    Raises:
        ValueError: an unknown setting name or a value out of range (sentence).
    """
    extra = dict(p.get("options") or {})
    unknown = sorted(set(extra) - DETECTOR_SETTINGS)
    if unknown:
        raise ValueError(f"Unknown detector setting{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
    for key in ("backbone", "input_size", "epochs", "fine_tune_epochs"):
        if p.get(key) is not None:
            extra[key] = p[key]
    return DetectorOptions(**extra, seed=seed)


def detector_start(*, dataset: Dataset, user=None, backbone: str | None = None, input_size: int | None = None,
                   epochs: int | None = None, fine_tune_epochs: int | None = None, options: dict | None = None):
    """Queue training a detector on ``dataset``'s finished photos (``training.detector``, batch queue).

    Args:
        backbone, input_size, epochs, fine_tune_epochs: ``DetectorOptions`` fields; ``None``: the default.
        options: further ``DetectorOptions`` fields (:data:`DETECTOR_SETTINGS`), e.g. a smaller network.

    Returns:
        The job (the running one when the same request comes twice).

    Raises:
        ValidationError: the dataset cannot train a detector (code "not_trainable", the
            pre-check's first problem), a setting out of range or unknown (code "invalid"), or a
            detector job already queued or running on it with other settings (code "busy").
        QueueUnavailable: the broker is down (the job is marked failed).
    """
    check = detector_check(dataset=dataset)
    if check.problems:
        raise ValidationError(check.problems[0], code="not_trainable")
    d = DetectorOptions()
    if (backbone or d.backbone) not in {s.name for s in detector_backbones()}:
        raise ValidationError(f"The backbone {backbone!r} cannot train a detector here: choose one of "
                              f"{', '.join(s.name for s in detector_backbones())}.", code="invalid")
    params = {"dataset_id": dataset.pk, "backbone": backbone or d.backbone,
              "input_size": d.input_size if input_size is None else int(input_size),
              "epochs": d.epochs if epochs is None else int(epochs),
              "fine_tune_epochs": d.fine_tune_epochs if fine_tune_epochs is None else int(fine_tune_epochs),
              "options": dict(options or {})}
    return dataset_job_start(DETECTOR, dataset=dataset, params=params, user=user,
                             options_from_params=detector_options_from_params, what="A detector job")
