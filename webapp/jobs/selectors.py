"""Reads of Job rows, in the one JSON shape every page and API uses."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from webapp.jobs.models import Job
from webapp.jobs.services import jobs_fail_stale

PRIVATE_PARAMS = ("path", "paths", "staging", "out")  # server-side file paths: not for clients


def job_list(*, user, kind: str = "", state: str = "") -> QuerySet[Job]:
    """Jobs visible to ``user`` (staff and the ``operators`` group see all,
    others their own), newest first. Jobs whose worker died are marked failed first."""
    jobs_fail_stale(stale_seconds=settings.JOB_STALE_SECONDS)
    qs = _visible(user)
    if kind:
        qs = qs.filter(kind=kind)
    if state:
        qs = qs.filter(state=state)
    return qs


def _visible(user):
    qs = Job.objects.select_related("created_by")
    if not (user.is_staff or user.groups.filter(name="operators").exists()):
        qs = qs.filter(created_by=user)
    return qs


def job_get(*, user, job_id: int) -> Job | None:
    """One job, polled often by pages: only this job is checked for a dead worker."""
    job = _visible(user).filter(pk=job_id).first()
    if job is not None and job.state == Job.State.RUNNING and jobs_fail_stale(
            stale_seconds=settings.JOB_STALE_SECONDS, job_ids=[job.pk]):
        job.refresh_from_db()
    return job


def job_to_dict(job: Job) -> dict:
    """The JSON shape of ``/api/jobs/<id>``."""
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    return {
        "id": job.pk, "kind": job.kind, "state": job.state, "progress": round(job.progress, 4),
        "message": job.message, "error": job.error, "error_code": job.error_code,
        "created_at": iso(job.created_at), "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        "queue_seconds": job.queue_seconds, "run_seconds": job.run_seconds,
        "params": {k: v for k, v in job.params.items() if k not in PRIVATE_PARAMS},
        "result": job.result, "attempts": job.attempts,
    }
