"""Dataset tasks: import an uploaded zip or a staged folder of photos."""

from __future__ import annotations

import shutil
from pathlib import Path

from webapp.jobs.services import JobFailed, cancel_checker
from workers.base import run_job
from workers.celery import app


@app.task(name="workers.datasets.import_upload", bind=True, soft_time_limit=3600, time_limit=3700)
def import_upload(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.datasets.models import Dataset
        from webapp.datasets.services import dataset_import

        dataset = Dataset.objects.filter(pk=job.params.get("dataset_id")).first()
        staging = Path(job.params["staging"])
        try:
            if dataset is None:
                raise JobFailed("The dataset was deleted before its photos were imported.", "deleted")
            try:
                report = dataset_import(dataset=dataset, source=Path(job.params["path"]),
                                        labels_from_folders=job.params.get("labels_from_folders"), progress=progress,
                                        should_stop=cancel_checker(job.pk))
            except ValueError as err:
                raise JobFailed(str(err), "invalid_archive") from err
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # the photos now live in the dataset
        r = report.as_dict()
        msg = f"{report.added} photo{'s' if report.added != 1 else ''} added"
        if report.duplicates:
            msg += f", {len(report.duplicates)} already there"
        if report.unreadable or report.skipped:
            msg += f", {len(report.unreadable) + len(report.skipped)} not usable (see the list)"
        return r, msg

    return run_job(self, job_id, work)
