"""Reads of Job rows, in the one JSON shape every page and API uses."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Case, Count, IntegerField, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from webapp.jobs.kinds import declared
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
    qs = _with_queue_facts(Job.objects.select_related("created_by"))
    if not (user.is_staff or user.groups.filter(name="operators").exists()):
        qs = qs.filter(created_by=user)
    return qs


def _with_queue_facts(qs: QuerySet[Job]) -> QuerySet[Job]:
    """Annotate ``queue_ahead``, in the same query (no query per row): for a queued job the number
    of queued jobs of any user before it in its queue (earlier ``(queued_at, id)``), ``None`` for a
    job not queued."""
    since = Coalesce("queued_at", "created_at")
    ahead = (Job.objects.order_by().filter(state=Job.State.QUEUED, queue=OuterRef("queue"))
             .annotate(since=since)
             .filter(Q(since__lt=OuterRef("since")) | Q(since=OuterRef("since"), pk__lt=OuterRef("pk")))
             .values("queue").annotate(n=Count("pk")).values("n"))
    return qs.annotate(
        since=since,
        queue_ahead=Case(When(state=Job.State.QUEUED, then=Coalesce(Subquery(ahead, output_field=IntegerField()), 0)),
                         default=None, output_field=IntegerField()),
    )


def job_queue_position(job: Job) -> int | None:
    """Where a queued job stands in its queue: 1 for the next one taken, ``None`` when it is not queued.

    Reads the ``queue_ahead`` annotation of :func:`job_list` and :func:`job_get`; a job loaded
    elsewhere (a photo's job) costs one query, and only while it is queued."""
    if job.state != Job.State.QUEUED:
        return None
    ahead = getattr(job, "queue_ahead", None)
    if ahead is None:
        ahead = _with_queue_facts(Job.objects.filter(pk=job.pk)).values_list("queue_ahead", flat=True).first()
        if ahead is None:  # deleted meanwhile or no longer queued
            return None
    return ahead + 1


def job_kind_choices(kinds) -> list[tuple[str, str]]:
    """``(kind, label)`` for the Jobs page filter: every declared kind and any other of ``kinds``, by label."""
    labels = {kind: jt.label for kind, jt in declared().items()}
    labels.update({k: k for k in kinds if k not in labels})
    return sorted(labels.items(), key=lambda kv: (kv[1].lower(), kv[0]))


def job_get(*, user, job_id: int) -> Job | None:
    """One job, polled often by pages: only this job is checked for a dead worker."""
    job = _visible(user).filter(pk=job_id).first()
    if job is not None and (job.state == Job.State.RUNNING or job.stopping) and jobs_fail_stale(
            stale_seconds=settings.JOB_STALE_SECONDS, job_ids=[job.pk]):
        job.refresh_from_db()  # now failed: queue_ahead (None for a running job) stays right
    return job


def job_to_dict(job: Job) -> dict:
    """The JSON shape of ``/api/jobs/<id>``.

    ``queue`` is the queue's name without the deployment's prefix (``interactive`` or ``batch``),
    ``worker`` the ``<host>:<pid>`` that ran it last (empty before it started), ``queue_position``
    1 for the next job its queue's workers take (``None`` unless queued), ``kind_label`` the kind in words,
    ``stopping`` True from a running job's cancel until its task has stopped (``state`` is already
    ``cancelled``; ``state_label`` says "Cancelling…"), ``retryable`` whether Retry may queue it again, ``eta_seconds`` the time left of a running job
    from its own pace (``Job.eta_seconds``; None when not running or too early to tell).
    """
    iso = lambda t: t.isoformat() if t else None  # noqa: E731
    eta = job.eta_seconds()
    eta = None if eta is None else round(eta, 1)
    return {
        "id": job.pk, "kind": job.kind, "kind_label": job.kind_label, "state": job.state,
        "state_label": job.state_label, "stopping": job.stopping, "retryable": job.retryable,
        "progress": round(job.progress, 4),
        "queue": job.queue_name, "worker": job.worker, "queue_position": job_queue_position(job),
        "message": job.message, "error": job.error, "error_code": job.error_code,
        "created_at": iso(job.created_at), "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        "queue_seconds": job.queue_seconds, "run_seconds": job.run_seconds, "eta_seconds": eta,
        "params": {k: v for k, v in job.params.items() if k not in PRIVATE_PARAMS},
        "result": job.result, "attempts": job.attempts, "restarts": job.restarts,
    }
