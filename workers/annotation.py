"""Annotation tasks: export zip, pre-annotate a dataset, detect on one
photo. Each takes a job id only. (Photos are imported by
``workers.datasets.import_upload``.)"""

from __future__ import annotations

import uuid
from pathlib import Path

from django.conf import settings

from webapp.jobs.services import JobFailed, cancel_checker
from workers.base import job_row, run_job
from workers.celery import app


@app.task(name="workers.annotation.export", bind=True, soft_time_limit=3600, time_limit=3660)
def export(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.annotation.exchange import NothingToExport, dataset_export_zip, export_left_out_text
        from webapp.datasets.models import Dataset

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

    return run_job(self, job_id, work)


@app.task(name="workers.annotation.preannotate", bind=True, soft_time_limit=3600, time_limit=3660)
def preannotate(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.annotation.processing import dataset_preannotate
        from webapp.datasets.models import Dataset

        dataset = job_row(job, Dataset, "dataset_id", "The dataset was deleted before it was pre-annotated.")
        result = dataset_preannotate(dataset=dataset, detector=job.params["detector"],
                                     min_score=job.params.get("min_score"),
                                     skip_annotated=job.params.get("skip_annotated", True), user=job.created_by,
                                     progress=progress, should_stop=cancel_checker(job.pk))
        dup = result["duplicates"]
        return result, (f"{result['boxes']} machine boxes on {result['photos']} photos"
                        f"{f'; {dup} left out that repeated a box already there' if dup else ''}")

    return run_job(self, job_id, work)


@app.task(name="workers.annotation.detect", bind=True, soft_time_limit=300, time_limit=330)
def detect(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.annotation.models import DetectPhoto
        from webapp.annotation.processing import photo_detect

        photo = job_row(job, DetectPhoto, "photo_id", "The photo was deleted before it was processed.")
        result = photo_detect(photo=photo)
        n = len(result["boxes"])
        return result, f"{n} {result['label']}{'s' if n != 1 else ''} found"

    return run_job(self, job_id, work)

