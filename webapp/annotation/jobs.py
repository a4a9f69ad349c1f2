"""Enqueue annotation jobs (export zip, pre-annotate, detect, zip of photos).
Each only creates the Job row; the task runs after the transaction commits."""

from __future__ import annotations

from webapp.jobs.services import job_create

EXPORT = "annotation.export"
PREANNOTATE = "annotation.preannotate"
DETECT = "annotation.detect"
IMPORT_PHOTOS = "annotation.import_photos"


def export_enqueue(*, dataset, user, num_shards: int = 10):
    return job_create(kind=EXPORT, task_name="workers.annotation.export", key=f"{EXPORT}:dataset:{dataset.pk}",
                      params={"dataset_id": dataset.pk, "num_shards": int(num_shards)}, user=user)


def preannotate_enqueue(*, dataset, user, detector: str, min_score: float, skip_annotated: bool = True):
    return job_create(kind=PREANNOTATE, task_name="workers.annotation.preannotate",
                      key=f"{PREANNOTATE}:dataset:{dataset.pk}",
                      params={"dataset_id": dataset.pk, "detector": detector, "min_score": float(min_score),
                              "skip_annotated": bool(skip_annotated)}, user=user)


def detect_enqueue(*, photo, user):
    return job_create(kind=DETECT, task_name="workers.annotation.detect", key=f"{DETECT}:photo:{photo.pk}",
                      params={"photo_id": photo.pk}, user=user)


def import_photos_enqueue(*, dataset, user, zip_name: str, display_name: str):
    return job_create(kind=IMPORT_PHOTOS, task_name="workers.annotation.import_photos",
                      params={"dataset_id": dataset.pk, "zip": zip_name, "name": display_name}, user=user)
