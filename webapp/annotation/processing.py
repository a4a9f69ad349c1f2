"""Worker-side work for annotation jobs: run a detector (pretrained or trained,
``webapp.annotation.detectors``) on a photo or over a dataset, write a dataset's
export zip. Only the worker calls these (they load models)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

from django.conf import settings
from django.db import transaction

from webapp.annotation.detectors import UnknownDetector, detect, detector_classes
from webapp.annotation.exchange import NothingToExport, dataset_export_zip, export_left_out_text
from webapp.annotation.models import Box, DetectPhoto, ImageState
from webapp.annotation.selectors import StoredBoxes
from webapp.core.uploads import stored_image
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import dataset_class_get_or_create
from webapp.jobs.errors import JobCancelled, JobFailed
from webapp.jobs.runner import job_row
from webapp.jobs.services import cancel_checker


def _classes(detector: str) -> list[str]:
    """The classes ``detector`` finds; a trained one deleted since the job was queued fails the job in words."""
    try:
        return detector_classes(detector)
    except UnknownDetector as err:
        raise JobFailed(err.message, "deleted") from None


def detect_boxes(*, photo: DetectPhoto) -> dict:
    """Boxes of the chosen detector on a Detect-page photo (a trained one keeps each class's
    best-F1 threshold).

    Returns:
        ``{detector, label, width, height, boxes: [{box, label, score}]}`` (``label``: the class a
        one-class detector finds, else ``"object"``).
    """
    classes = _classes(photo.detector)
    img = stored_image(photo.file)
    found = detect(img.pixels, detector=photo.detector)
    return {"detector": photo.detector, "label": classes[0] if len(classes) == 1 else "object",
            "width": img.width, "height": img.height,
            "boxes": [{"box": [round(v, 1) for v in d.box], "label": d.label, "score": round(d.score, 4)} for d in found]}


def preannotate(*, dataset: Dataset, detector: str, min_score: float | None = None,
                skip_annotated: bool = True, user=None,
                progress: Callable[[float, str], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> dict:
    """Propose machine boxes on every readable photo (``accepted=False``
    until an annotator accepts or corrects each) with any detector
    (``webapp.annotation.detectors``: pretrained, or ``trained:<id>``).

    Idempotent: the unaccepted machine boxes of the same detector on a photo
    are replaced. Each class the detector finds (``face``, ``person``, a trained
    detector's classes) joins the label map with the first box it adds, not
    before. Photos already annotated (an accepted box, or "no objects") are
    skipped when ``skip_annotated``. A proposal repeating a box already on
    the photo (same class, ``selectors.DUPLICATE_IOU``: another detector's, or
    one drawn by a person) is left out and counted in ``duplicates``.

    Args:
        min_score: drop boxes scoring lower; ``None``: the detector's own threshold
            (a trained detector: each class's best-F1 threshold).
        should_stop: asked before each photo (``cancel_checker``); when it
            answers True the work stops there.

    Returns:
        ``{photos, boxes, skipped, duplicates, detector}``.

    Raises:
        UnknownDetector: no such detector (a ``ValueError``).
        JobCancelled: ``should_stop`` said so; the boxes of the photos done
            (each photo's in one transaction) are kept, and the result (as
            above, plus ``cancelled: True``) counts them.
    """
    class_names = detector_classes(detector)
    labels = {c.name: c for c in dataset.classes.filter(name__in=class_names)}  # others: with their first box
    images = list(dataset.images.filter(status=DatasetImage.Status.OK).order_by("id"))
    done_ids = set()
    if skip_annotated:
        done_ids = set(Box.objects.filter(image__dataset=dataset, accepted=True).values_list("image_id", flat=True))
        done_ids |= set(ImageState.objects.filter(image__dataset=dataset, no_objects=True).values_list("image_id", flat=True))
    n_boxes = n_photos = skipped = duplicates = 0
    for i, img in enumerate(images):
        if should_stop is not None and should_stop():
            raise JobCancelled(f"Cancelled after {i} of {len(images)} photos; the machine boxes proposed so far "
                               "are kept.", result={"photos": n_photos, "boxes": n_boxes, "skipped": skipped,
                                                    "duplicates": duplicates, "detector": detector, "cancelled": True})
        if img.pk in done_ids:
            skipped += 1
            continue
        pixels = stored_image(img.file).pixels
        found = detect(pixels, detector=detector, min_score=min_score)
        with transaction.atomic():
            Box.objects.filter(image=img, source=Box.Source.MACHINE, detector=detector, accepted=False).delete()
            stored = StoredBoxes([img.pk])
            rows = [(d.label, Box(image=img, xmin=round(d.box[0], 2), ymin=round(d.box[1], 2),
                                  xmax=round(d.box[2], 2), ymax=round(d.box[3], 2), source=Box.Source.MACHINE,
                                  detector=detector, score=d.score, accepted=False, created_by=user, updated_by=user))
                    for d in found if d.box[2] - d.box[0] >= 0.01 and d.box[3] - d.box[1] >= 0.01]
            new = [(name, b) for name, b in rows
                   if name not in labels or not stored.repeats(img.pk, labels[name].pk, b.xyxy)]
            for name, b in new:
                if name not in labels:
                    labels[name] = dataset_class_get_or_create(dataset=dataset, name=name)
                b.label = labels[name]
            Box.objects.bulk_create([b for _, b in new])
        duplicates += len(rows) - len(new)
        n_boxes += len(new)
        n_photos += 1
        if progress:
            progress((i + 1) / len(images), f"Detected on {i + 1} of {len(images)} photos")
    return {"photos": n_photos, "boxes": n_boxes, "skipped": skipped, "duplicates": duplicates, "detector": detector}


# ----- job entry points: (job, progress) -> (result, message), run by workers.annotation -----
def dataset_export(job, progress) -> tuple[dict, str]:
    """Job ``annotation.export``: the dataset's finished photos as a zip under
    ``MEDIA_ROOT/exports/`` (``exchange.dataset_export_zip``); a partial file is removed."""
    dataset = job_row(job, Dataset, "dataset_id", "The dataset was deleted before it was exported.")
    rel = f"exports/{uuid.uuid4().hex}.zip"
    path = Path(settings.MEDIA_ROOT) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        summary = dataset_export_zip(dataset=dataset, path=path, num_shards=int(job.params.get("num_shards", 10)),
                                     progress=progress, should_stop=cancel_checker(job.pk))
    except NothingToExport as err:
        path.unlink(missing_ok=True)
        raise JobFailed(err.message, "no_boxes") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    summary.update(file=rel, bytes=path.stat().st_size, dataset_id=dataset.pk)
    left_out = export_left_out_text(summary["left_out"])
    return summary, (f"{summary['photos']} photos, {summary['boxes']} boxes "
                     f"({summary['train']} train / {summary['val']} validation){f'; {left_out}' if left_out else ''}")


def dataset_preannotate(job, progress) -> tuple[dict, str]:
    """Job ``annotation.preannotate``: :func:`preannotate` with the job's parameters."""
    dataset = job_row(job, Dataset, "dataset_id", "The dataset was deleted before it was pre-annotated.")
    _classes(job.params["detector"])
    result = preannotate(dataset=dataset, detector=job.params["detector"],
                         min_score=job.params.get("min_score"),
                         skip_annotated=job.params.get("skip_annotated", True), user=job.created_by,
                         progress=progress, should_stop=cancel_checker(job.pk))
    dup = result["duplicates"]
    return result, (f"{result['boxes']} machine boxes on {result['photos']} photos"
                    f"{f'; {dup} left out that repeated a box already there' if dup else ''}")


def photo_detect(job, progress) -> tuple[dict, str]:
    """Job ``annotation.detect``: :func:`detect_boxes` on ``params.photo_id``."""
    photo = job_row(job, DetectPhoto, "photo_id", "The photo was deleted before it was processed.")
    result = detect_boxes(photo=photo)
    n = len(result["boxes"])
    return result, f"{n} {result['label']}{'s' if n != 1 else ''} found"
