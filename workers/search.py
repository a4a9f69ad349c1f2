"""Search-by-image tasks: embed a gallery and build its index (batch queue);
answer a search and classify a photo (interactive queue)."""

from webapp.celery import app
from webapp.jobs.runner import run_job
from webapp.search import jobs, processing


@app.task(name=jobs.EMBED.task, bind=True, soft_time_limit=3600, time_limit=3660)
def embed(self, job_id: int) -> str:
    return run_job(self, job_id, processing.gallery_embed)


@app.task(name=jobs.BUILD_INDEX.task, bind=True, soft_time_limit=3600, time_limit=3660)
def build_index(self, job_id: int) -> str:
    return run_job(self, job_id, processing.search_index_build)


@app.task(name=jobs.QUERY.task, bind=True, soft_time_limit=60, time_limit=90)
def query(self, job_id: int) -> str:
    return run_job(self, job_id, processing.search_answer)


@app.task(name=jobs.CLASSIFY.task, bind=True, soft_time_limit=60, time_limit=90)
def classify(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_classify)
