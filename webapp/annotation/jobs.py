"""Annotation job kinds, and enqueueing them (export zip, pre-annotate,
detect; photos come in through ``datasets.services.dataset_upload``). Each
only creates the Job row; the task runs after the transaction commits."""

from __future__ import annotations

from webapp.jobs.kinds import job_type
from webapp.jobs.services import job_create

EXPORT = job_type("annotation", "export", "Detection export")
PREANNOTATE = job_type("annotation", "preannotate", "Pre-annotation")
DETECT = job_type("annotation", "detect", "Detect")


def export_enqueue(*, dataset, user, num_shards: int = 10):
    return job_create(EXPORT, key=EXPORT.key("dataset", dataset.pk),
                      params={"dataset_id": dataset.pk, "num_shards": int(num_shards)}, user=user)


def preannotate_enqueue(*, dataset, user, detector: str, min_score: float | None = None, skip_annotated: bool = True):
    """``min_score`` ``None``: the detector's own threshold (``processing.preannotate``)."""
    return job_create(PREANNOTATE, key=PREANNOTATE.key("dataset", dataset.pk),
                      params={"dataset_id": dataset.pk, "detector": detector,
                              "min_score": None if min_score is None else float(min_score),
                              "skip_annotated": bool(skip_annotated)}, user=user)


def detect_enqueue(*, photo, user):
    return job_create(DETECT, key=DETECT.key("photo", photo.pk), params={"photo_id": photo.pk}, user=user)
