"""Writes to Job rows: create and enqueue (web side), state changes and
progress (worker side). The web process enqueues by task *name*, so it never
imports the worker's ML code."""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback as tb
import uuid
from typing import Callable

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from webapp.jobs.errors import QueueUnavailable
from webapp.jobs.kinds import JobType
from webapp.jobs.models import Job
from webapp.jobs.routing import queue_of
from webapp.jobs.waiting import CHANNEL as WAIT_CHANNEL
from webapp.jobs.waiting import job_ended_notify

log = logging.getLogger(__name__)
PROGRESS_MIN_INTERVAL = 1.0  # seconds between progress writes
CANCEL_CHECK_INTERVAL = 1.0  # seconds between two reads of a running job's state by cancel_checker


def job_create(job_type: JobType, *, params: dict | None = None, key: str = "", user=None) -> tuple[Job, bool]:
    """Create a queued job of ``job_type`` and enqueue it when the surrounding transaction commits.

    A job with the same non-empty ``key`` already queued or running is
    returned instead (``created`` False). The job records the queue its task
    is routed to (``CELERY_TASK_ROUTES``), for the Jobs page.

    Raises:
        QueueUnavailable: the broker is down (the job is marked failed first).
    """
    if key:
        existing = Job.objects.filter(key=key, state__in=Job.ACTIVE_STATES).first()
        if existing:
            return existing, False
    now = timezone.now()
    job = Job.objects.create(
        kind=job_type.kind, key=key, task_name=job_type.task, queue=queue_of(job_type.task), params=params or {},
        created_by=user if getattr(user, "is_authenticated", False) else None,
        message="Waiting for a worker…", queued_at=now, celery_task_id=str(uuid.uuid4()),
    )
    transaction.on_commit(lambda: job_enqueue(job=job))
    return job, True


def job_enqueue(*, job: Job) -> None:
    """Send the job's task (its only argument is the job id) to the broker
    under the task id already stored on the row (``celery_task_id``, set when
    the job is created or queued again): no write after the send, one round
    trip less on every interactive job. Celery's routing table picks the queue."""
    from webapp.celery import app

    try:
        app.send_task(job.task_name, args=[job.pk], task_id=job.celery_task_id or None, retry=True,
                            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.3, "interval_max": 1})
    except Exception as exc:  # kombu raises several connection error types
        log.exception("could not enqueue job %s", job.pk)
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.FAILED, error=QueueUnavailable().message, error_code="queue_unavailable", message="Failed",
            traceback="".join(tb.format_exception(exc)), finished_at=timezone.now(),
        )
        job_ended_notify(job.pk)
        raise QueueUnavailable() from exc


#: What the job page says when a job was picked up again (issue 13: "after a worker's pool process
#: dies, the retried job's page says that it was restarted and why").
RESTART_REASON = ("The process running it on {worker} stopped before it finished (killed, out of memory, or the "
                  "machine restarted), so the broker delivered it again: attempt {attempt} started from the beginning.")


def job_start(*, job_id: int, task_id: str = "") -> Job | None:
    """Mark a job running for this worker; ``None`` if it must not run
    (finished, cancelled, or deleted). A job found ``running`` was
    redelivered after its worker died: the tasks are idempotent, so it runs again."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state not in Job.ACTIVE_STATES:
            return None
        now = timezone.now()
        restarted = job.state == Job.State.RUNNING  # redelivered: the process running it died (acks_late)
        if restarted:
            job.restarts = [*job.restarts, {
                "at": now.isoformat(), "worker": job.worker,
                "reason": RESTART_REASON.format(worker=job.worker or "a worker", attempt=job.attempts + 1)}]
        job.state = Job.State.RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.attempts += 1
        job.worker = f"{socket.gethostname()}:{os.getpid()}"
        job.celery_task_id = task_id or job.celery_task_id
        job.message = "Restarted" if restarted else "Started"
        job.save()
    return job


class ProgressReporter:
    """Writes ``progress`` (0..1) and a message at most once a second
    (``force`` writes now). ``None`` for the fraction means the latest one
    offered, even by a call that was not written: short epochs report their
    batches within a second of the forced end-of-epoch write, and the bar
    must still move."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self._last = 0.0
        self._fraction: float | None = None

    def __call__(self, fraction: float | None, message: str = "", *, force: bool = False) -> None:
        if fraction is not None:
            self._fraction = max(0.0, min(1.0, float(fraction)))
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_MIN_INTERVAL:
            return
        self._last = now
        fields = {"heartbeat_at": timezone.now()}
        if self._fraction is not None:
            fields["progress"] = self._fraction
        if message:
            fields["message"] = message[:500]
        if not Job.objects.filter(pk=self.job_id, state=Job.State.RUNNING).update(**fields):
            # cancelled and still stopping: alive, but its message stays "Cancelling…"
            Job.objects.filter(pk=self.job_id, state=Job.State.CANCELLED, finished_at__isnull=True).update(
                heartbeat_at=fields["heartbeat_at"])


def job_succeed(*, job_id: int, result: dict, message: str = "Done", durable: bool = True) -> bool:
    """Record a running job's result and wake whoever waits on it (``webapp.jobs.waiting``);
    False when it was no longer running (cancelled or deleted meanwhile).

    On PostgreSQL the update and its ``NOTIFY`` are one statement (a data-modifying
    ``WITH``): one round trip on the path of every check-in and search, which a person
    waits on; the ORM's update and a separate notify took two and the query building.

    Args:
        durable: False for a job kind whose result is only an answer to be read at once
            (``JobType.durable_result``): on PostgreSQL this one transaction commits
            without waiting for its WAL to reach the disk (``synchronous_commit = off``,
            set for this transaction only; ignored inside a caller's transaction). Still
            atomic and consistent; a database
            crash within about three ``wal_writer_delay`` (0.6 s by default) can lose it
            (PostgreSQL manual, "Asynchronous Commit"). Saves the disk flush: about
            0.25 ms of a search on this machine (``bench/search.py``).
    """
    now = timezone.now()
    fields = {"state": Job.State.SUCCEEDED, "progress": 1.0, "result": result, "message": message[:500],
              "finished_at": now, "heartbeat_at": now, "error": "", "error_code": ""}
    if connection.vendor != "postgresql":  # nobody LISTENs there: waiters re-read the row
        return bool(Job.objects.filter(pk=job_id, state=Job.State.RUNNING).update(**fields))
    opts = Job._meta
    sets = ", ".join(f"{connection.ops.quote_name(opts.get_field(f).column)} = %s" for f in fields)
    values = [opts.get_field(f).get_db_prep_save(v, connection) for f, v in fields.items()]
    # set_config(..., true) lasts until this statement's own transaction commits; the CTE must be
    # referenced in the main SELECT, or PostgreSQL never evaluates it
    # inside a caller's transaction the setting would last to its commit and cover its other writes
    durable = durable or connection.in_atomic_block
    relaxed = "" if durable else "cfg AS (SELECT set_config('synchronous_commit', 'off', true)), "
    sql = (f"WITH {relaxed}done AS (UPDATE {connection.ops.quote_name(opts.db_table)} SET {sets} "
           f"WHERE id = %s AND state = %s RETURNING id) SELECT pg_notify(%s, id::text) FROM done{'' if durable else ', cfg'}")
    with connection.cursor() as cur:
        cur.execute(sql, [*values, job_id, Job.State.RUNNING, WAIT_CHANNEL])
        return cur.fetchone() is not None


def job_fail(*, job_id: int, error: str, code: str = "error", traceback: str = "", result: dict | None = None) -> None:
    fields = dict(state=Job.State.FAILED, error=error, error_code=code[:50], traceback=traceback,
                  message="Failed", finished_at=timezone.now(), heartbeat_at=timezone.now())
    if result is not None:
        fields["result"] = result
    if Job.objects.filter(pk=job_id, state__in=Job.ACTIVE_STATES).update(**fields):
        job_ended_notify(job_id)


def job_cancel(*, job: Job) -> bool:
    """Cancel a queued or running job. A queued one is finished at once; a
    running one is ``cancelled`` with no ``finished_at`` (``Job.stopping``,
    its kind's "Cancelling…" sentence) until its task, which sees the state
    at its next check, has stopped and recorded what it kept
    (:func:`job_cancel_record`, :func:`job_stopped`). Returns False if it had
    already finished."""
    from webapp.jobs.kinds import JobType, declared

    now = timezone.now()
    if Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
            state=Job.State.CANCELLED, message="Cancelled", finished_at=now):
        job_ended_notify(job.pk)
        return True
    stopping = (declared().get(job.kind) or JobType("", "", "")).stopping
    return bool(Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
        state=Job.State.CANCELLED, message=stopping[:500], finished_at=None, heartbeat_at=now))


def cancel_checker(job_id: int) -> Callable[[], bool]:
    """A ``should_stop()`` for a task to call between batches: True once job
    ``job_id`` is cancelled (:func:`job_cancel`).

    The first call reads the job's state; later calls read it again at most
    once every :data:`CANCEL_CHECK_INTERVAL` seconds (1 s) and answer from
    the last read in between, so a loop can ask after every photo. Once
    True, it stays True without reading again. The task then stops and
    raises :class:`JobCancelled` with what it kept.
    """
    state = {"read_at": None, "cancelled": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if not state["cancelled"] and (state["read_at"] is None or now - state["read_at"] >= CANCEL_CHECK_INTERVAL):
            state["read_at"] = now
            state["cancelled"] = Job.objects.filter(pk=job_id, state=Job.State.CANCELLED).exists()
        return state["cancelled"]

    return should_stop


def job_cancel_record(*, job_id: int, message: str, result: dict | None = None) -> None:
    """Record on a cancelled job how far its task got (``message``) and what
    it kept (``result``); the job stays cancelled. Does nothing to a job in
    any other state (e.g. queued again by :func:`job_retry` meanwhile)."""
    now = timezone.now()
    fields = {"message": message[:500], "heartbeat_at": now, "finished_at": now}
    if result is not None:
        fields["result"] = result
    if Job.objects.filter(pk=job_id, state=Job.State.CANCELLED).update(**fields):
        job_ended_notify(job_id)


def job_stopped(*, job_id: int) -> None:
    """The task of job ``job_id`` has returned or raised: a job cancelled
    while it ran and still :attr:`~Job.stopping` (its task finished without
    :func:`job_cancel_record`) is finished now; any other job is left as is."""
    now = timezone.now()
    if Job.objects.filter(pk=job_id, state=Job.State.CANCELLED, finished_at__isnull=True).update(
            message="Cancelled", finished_at=now, heartbeat_at=now):
        job_ended_notify(job_id)


def job_retry(*, job: Job) -> bool:
    """Queue a failed or cancelled job again under the same id. Tasks are
    idempotent and keep what they saved (a training run resumes from its last
    finished epoch). Returns False for a job that is still active, still
    stopping after a cancel (``Job.stopping``: its task has not stopped yet) or succeeded.

    Raises:
        QueueUnavailable: the broker is down.
    """
    task_id = str(uuid.uuid4())  # a new delivery: the old task id may still be known to the broker as revoked
    n = Job.objects.filter(Q(state=Job.State.FAILED) | Q(state=Job.State.CANCELLED, finished_at__isnull=False),
                           pk=job.pk).update(
        state=Job.State.QUEUED, error="", error_code="", traceback="", queued_at=timezone.now(), started_at=None,
        finished_at=None, heartbeat_at=None, message="Queued again; waiting for a worker…", celery_task_id=task_id)
    if n:
        job.celery_task_id = task_id
        transaction.on_commit(lambda: job_enqueue(job=job))
    return bool(n)


def jobs_fail_stale(*, stale_seconds: int, job_ids=None) -> int:
    """Mark ``running`` jobs whose heartbeat is older than ``stale_seconds``
    as failed: their worker died (killed, out of memory, machine restarted).
    ``job_ids`` limits the sweep to those jobs. Returns how many were marked."""
    cutoff = timezone.now() - timezone.timedelta(seconds=stale_seconds)
    qs = Job.objects.filter(Q(state=Job.State.RUNNING) | Q(state=Job.State.CANCELLED, finished_at__isnull=True),
                            heartbeat_at__lt=cutoff)
    if job_ids is not None:
        qs = qs.filter(pk__in=job_ids)
    return _mark_worker_lost(qs)


def _mark_worker_lost(qs) -> int:
    """Running jobs of ``qs`` failed, and jobs stopping after a cancel finished as cancelled
    (their worker will not record it any more). Returns how many rows were changed."""
    now = timezone.now()
    stopped = qs.filter(state=Job.State.CANCELLED, finished_at__isnull=True).update(
        finished_at=now, message="Cancelled; the worker stopped before it had finished (nothing more was saved).")
    return stopped + qs.filter(state=Job.State.RUNNING).update(
        state=Job.State.FAILED, error_code="worker_lost", finished_at=timezone.now(),
        error="The worker running this job stopped responding (it crashed or was restarted). Please try again.",
        message="Failed",
    )


def jobs_fail_orphaned(*, hostname: str | None = None) -> int:
    """Mark ``running`` jobs whose worker process on this machine no longer exists as failed.

    A worker started again after a crash (``scripts/run.sh``, a container restart) calls this
    when it is ready: the job its dead predecessor was running shows "failed, try again" at
    once, not after ``JOB_STALE_SECONDS`` without a heartbeat. ``Job.worker`` is
    ``"<hostname>:<pid>"`` (``job_start``); jobs of other machines are left to the heartbeat.
    Returns how many were marked.
    """
    host = hostname or socket.gethostname()
    dead = []
    alive = Q(state=Job.State.RUNNING) | Q(state=Job.State.CANCELLED, finished_at__isnull=True)
    for pk, worker in Job.objects.filter(alive, worker__startswith=f"{host}:").values_list("pk", "worker"):
        try:
            os.kill(int(worker.rsplit(":", 1)[1]), 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            dead.append(pk)
        except (ValueError, PermissionError):  # not a pid, or another user's live process
            pass
    return _mark_worker_lost(Job.objects.filter(alive, pk__in=dead)) if dead else 0
