"""The task boundary. Every Celery task is one line,
``run_job(self, job_id, <app>.processing.<entity>_<action>)``: ``run_job``
loads the Job by id, marks it running, calls the processing function
``(job, progress) -> (result, message)``, catches everything, and records the
outcome in words on the Job row. Processing functions load their rows with
:func:`job_row`."""

from __future__ import annotations

import logging
import traceback
from typing import Callable

from celery.exceptions import SoftTimeLimitExceeded

from vision.errors import VisionError
from webapp.jobs.errors import JobCancelled, JobFailed
from webapp.jobs.kinds import DECLARED
from webapp.jobs.models import Job
from webapp.jobs.services import ProgressReporter, job_cancel_record, job_fail, job_start, job_stopped, job_succeed

log = logging.getLogger(__name__)


def run_job(task, job_id: int, work: Callable[[Job, ProgressReporter], tuple[dict, str]]) -> str:
    """Run ``work(job, progress) -> (result, message)`` for job ``job_id``.

    Returns the final state. A task that saw its job cancelled and stopped
    (``JobCancelled``) leaves it cancelled, with its message and partial
    result recorded; a job cancelled while its task ran shows "Cancelling…"
    (``Job.stopping``) until the task has returned or raised, whatever way. Expected failures (``JobFailed``,
    ``VisionError``, the soft time limit) fail the job with their sentence;
    anything else fails it with a generic sentence and the traceback, and is
    re-raised so Celery logs it. The worker process survives either way.
    """
    # Celery's Django fix-up closes stale DB connections around each task.
    job = job_start(job_id=job_id, task_id=getattr(task.request, "id", "") or "")
    if job is None:
        log.info("job %s skipped: finished, cancelled or deleted", job_id)
        return "skipped"
    progress = ProgressReporter(job_id)
    state = None
    try:
        state = _run(job, job_id, work, progress)
        return state
    finally:  # cancelled while it ran: "Cancelling…" ends only here, once the task has stopped
        if state != Job.State.SUCCEEDED:  # a recorded success was not cancelled: nothing to end
            job_stopped(job_id=job_id)


def _run(job: Job, job_id: int, work, progress) -> str:
    try:
        result, message = work(job, progress)
    except JobCancelled as err:
        job_cancel_record(job_id=job_id, message=err.message, result=err.result)
        return Job.State.CANCELLED
    except JobFailed as err:
        job_fail(job_id=job_id, error=err.message, code=err.code, result=err.result)
        return Job.State.FAILED
    except VisionError as err:
        job_fail(job_id=job_id, error=err.message, code=err.code)
        return Job.State.FAILED
    except SoftTimeLimitExceeded:
        job_fail(job_id=job_id, error="The job took longer than its time limit and was stopped.", code="time_limit")
        return Job.State.FAILED
    except Exception as exc:
        job_fail(job_id=job_id, error="An unexpected error stopped this job; an operator can see the details.",
                 code="internal", traceback=traceback.format_exc())
        raise exc
    kind = DECLARED.get(job.kind)  # declared by the time its work ran: the work's app imports its jobs.py
    if job_succeed(job_id=job_id, result=result, message=message, durable=kind is None or kind.durable_result):
        return Job.State.SUCCEEDED
    return Job.objects.filter(pk=job_id).values_list("state", flat=True).first() or "deleted"


def job_row(job: Job, model, param: str, gone: str):
    """The ``model`` row whose id is ``job.params[param]``.

    Raises:
        JobFailed: code ``deleted`` with the sentence ``gone`` when the row no longer exists
            (deleted between queueing and running).
    """
    row = model.objects.filter(pk=job.params.get(param)).first()
    if row is None:
        raise JobFailed(gone, "deleted")
    return row
