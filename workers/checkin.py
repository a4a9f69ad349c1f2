"""Check-in tasks (interactive queue): enrolment embeddings and check-ins."""

from webapp.celery import app
from webapp.checkin import jobs, processing
from webapp.jobs.runner import run_job


@app.task(name=jobs.ENROL.task, bind=True, soft_time_limit=600, time_limit=660)
def enrol(self, job_id: int) -> str:
    return run_job(self, job_id, processing.samples_enrol)


@app.task(name=jobs.CHECKIN.task, bind=True, soft_time_limit=120, time_limit=150)
def checkin(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_check_in)
