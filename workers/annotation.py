"""Annotation tasks: export zip and pre-annotation (batch queue); detect on
one photo (interactive queue). Photos are imported by ``workers.datasets``."""

from webapp.annotation import jobs, processing
from webapp.celery import app
from webapp.jobs.runner import run_job


@app.task(name=jobs.EXPORT.task, bind=True, soft_time_limit=3600, time_limit=3660)
def export(self, job_id: int) -> str:
    return run_job(self, job_id, processing.dataset_export)


@app.task(name=jobs.PREANNOTATE.task, bind=True, soft_time_limit=3600, time_limit=3660)
def preannotate(self, job_id: int) -> str:
    return run_job(self, job_id, processing.dataset_preannotate)


@app.task(name=jobs.DETECT.task, bind=True, soft_time_limit=300, time_limit=330)
def detect(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_detect)
