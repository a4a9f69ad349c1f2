"""Dataset tasks (batch queue): import an upload into a dataset."""

from webapp.celery import app
from webapp.datasets import jobs, processing
from webapp.jobs.runner import run_job


@app.task(name=jobs.IMPORT.task, bind=True, soft_time_limit=3600, time_limit=3700)
def import_upload(self, job_id: int) -> str:
    return run_job(self, job_id, processing.upload_import)
