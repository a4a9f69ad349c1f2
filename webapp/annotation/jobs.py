"""Enqueue annotation jobs (export zip, pre-annotate, detect; photos come in
through ``datasets.services.dataset_upload``). Each only creates the Job row;
the task runs after the transaction commits."""

from __future__ import annotations

from webapp.jobs.services import job_create

EXPORT = "annotation.export"
PREANNOTATE = "annotation.preannotate"
DETECT = "annotation.detect"


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

