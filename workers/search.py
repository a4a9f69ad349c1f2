"""Search-by-image tasks: embed a gallery, build an index, answer a search,
classify a photo (ImageNet). Each takes a job id only."""

from __future__ import annotations

from webapp.jobs.services import cancel_checker
from workers.base import run_job
from workers.celery import app


def preload() -> None:
    """Load the default search backbone once in this worker process, if its
    weights are imported (a missing file fails the first job with the sentence instead)."""
    from django.conf import settings

    from vision import registry
    from vision.errors import WeightsMissingError

    try:
        registry.load(settings.SEARCH_BACKBONE)
    except WeightsMissingError:
        pass


@app.task(name="workers.search.embed", bind=True, soft_time_limit=3600, time_limit=3660)
def embed(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.search.processing import gallery_embed

        r = gallery_embed(dataset_id=job.params["dataset_id"], backbone_name=job.params["backbone"], progress=progress,
                          should_stop=cancel_checker(job.pk))
        bad = len(r["unreadable"])
        return r, f"Embedded {r['embedded']} photos" + (f"; {bad} unreadable, skipped" if bad else "")

    return run_job(self, job_id, work)


@app.task(name="workers.search.build_index", bind=True, soft_time_limit=3600, time_limit=3660)
def build_index(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.search.processing import search_index_build

        r = search_index_build(params=job.params, progress=progress, job=job, should_stop=cancel_checker(job.pk))
        return r, f"Index v{r['version']} ({r['kind']}) over {r['n_vectors']} photos"

    return run_job(self, job_id, work)


@app.task(name="workers.search.query", bind=True, soft_time_limit=60, time_limit=90)
def query(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.search.processing import search_run_process

        r = search_run_process(run_id=job.params["search_run_id"])
        return r, f"{len(r['hits'])} similar photos"

    return run_job(self, job_id, work)


@app.task(name="workers.search.classify", bind=True, soft_time_limit=60, time_limit=90)
def classify(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.search.processing import classify_process

        r = classify_process(query_photo_id=job.params["query_photo_id"], backbone_name=job.params["backbone"])
        top = r["top5"][0]
        return r, f"{top['name']} ({top['probability'] * 100:.0f} %)"

    return run_job(self, job_id, work)
