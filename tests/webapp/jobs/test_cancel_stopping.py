"""A job cancelled while its task runs shows "Cancelling…" and no Retry until
the task has stopped (issue 13: a cancelled training showed "Cancelled" and
Retry while it was still saving the best model)."""

from types import SimpleNamespace

import pytest

from webapp.jobs.errors import JobCancelled
from webapp.jobs.kinds import JobType
from webapp.jobs.models import Job
from webapp.jobs.runner import run_job
from webapp.jobs.selectors import job_to_dict
from webapp.jobs.services import (
    ProgressReporter,
    job_cancel,
    job_create,
    job_retry,
    job_start,
    jobs_fail_orphaned,
    jobs_fail_stale,
)
from webapp.training.jobs import CLASSIFIER

pytestmark = pytest.mark.django_db
TASK = SimpleNamespace(request=SimpleNamespace(id="t-1"))


def _training_job(staff_user):
    job, _ = job_create(CLASSIFIER, user=staff_user,
                        params={"dataset_id": 0, "model_kind": "transfer", "epochs": 40, "image_size": 448})
    return job


def test_a_cancelled_training_shows_cancelling_without_retry_until_its_task_has_saved(staff_client, staff_user):
    job = _training_job(staff_user)
    seen = {}

    def work(job, progress):
        """The task: Cancel is pressed mid-training; the pages are read while it is still saving."""
        assert job_cancel(job=job)
        progress(0.7, "Training the head: epoch 9, batch 2")  # a late progress write: alive, message kept
        seen["api"] = staff_client.get(f"/api/jobs/{job.pk}").json()
        seen["training"] = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
        seen["job"] = staff_client.get(f"/jobs/{job.pk}/").content.decode()
        seen["retried"] = job_retry(job=Job.objects.get(pk=job.pk))
        raise JobCancelled("Cancelled; the best model so far was saved (v1)", result={"model_version_id": 1})

    assert run_job(TASK, job.pk, work) == "cancelled"
    api = seen["api"]
    assert api["state"] == "cancelled" and api["stopping"] is True and api["retryable"] is False
    assert api["state_label"] == "Cancelling…" and api["message"] == "Cancelling… (saving the best model)"
    assert api["finished_at"] is None and seen["retried"] is False
    for page in (seen["training"], seen["job"]):
        assert "Cancelling… (saving the best model)" in page and "/retry/" not in page
    job.refresh_from_db()  # the task has stopped: now cancelled, with what it kept, and Retry
    assert job.state == "cancelled" and not job.stopping and job.retryable and job.finished_at is not None
    assert job.message == "Cancelled; the best model so far was saved (v1)"
    page = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "/retry/" in page and "Cancelling" not in page


def test_a_task_that_ends_without_noticing_the_cancel_still_finishes_it(staff_user):
    job = _training_job(staff_user)

    def work(job, progress):
        job_cancel(job=job)
        return {"done": True}, "Done"  # never polled should_stop

    run_job(TASK, job.pk, work)
    job.refresh_from_db()
    assert job.state == "cancelled" and job.finished_at is not None and job.message == "Cancelled"
    assert job.retryable


def test_a_queued_job_is_cancelled_at_once():
    job, _ = job_create(JobType("x", "t", "x"))
    assert job_cancel(job=job)
    job.refresh_from_db()
    assert not job.stopping and job.finished_at is not None and job.retryable and job.state_label == "Cancelled"
    assert job_to_dict(job)["stopping"] is False


def test_a_worker_that_dies_while_stopping_does_not_leave_it_cancelling_for_ever(settings):
    from django.utils import timezone

    job, _ = job_create(JobType("x", "t", "x"))
    job_start(job_id=job.pk)
    job_cancel(job=job)
    ProgressReporter(job.pk)(0.5, "still saving", force=True)
    job.refresh_from_db()
    assert job.stopping and job.message.startswith("Cancelling…")  # the heartbeat moved, the message did not
    Job.objects.filter(pk=job.pk).update(worker="gone-host:999999")
    assert jobs_fail_orphaned(hostname="other-host") == 0
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=2))
    assert jobs_fail_stale(stale_seconds=3600) == 1
    job.refresh_from_db()
    assert job.state == "cancelled" and not job.stopping and job.retryable and "worker stopped" in job.message
