"""``GET /api/jobs/<id>?wait=S``: answered when the job ends (LISTEN/NOTIFY on
PostgreSQL, re-reads on SQLite), or after S seconds (issue 18: the kiosk learns
its check-in result as it is stored, not at its next poll)."""

import threading
import time

import pytest
from django.db import connections

from webapp.jobs.kinds import JobType
from webapp.jobs.models import Job
from webapp.jobs.services import job_cancel, job_create, job_start, job_succeed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.embedded]


def _job():
    job, _ = job_create(JobType("x", "t", "x"))
    return job


@pytest.mark.parametrize("wait", ["abc", "0", "-1", "11", "nan"])
def test_a_bad_wait_is_refused_by_field_name(admin_client, wait):
    r = admin_client.get(f"/api/jobs/{_job().pk}?wait={wait}")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid" and "wait" in r.json()["fields"]


def test_an_ended_job_is_answered_at_once(admin_client):
    job = _job()
    job_start(job_id=job.pk)
    job_succeed(job_id=job.pk, result={"x": 1})
    t0 = time.monotonic()
    r = admin_client.get(f"/api/jobs/{job.pk}?wait=5")
    assert r.json()["state"] == "succeeded" and time.monotonic() - t0 < 2


def test_a_job_still_queued_is_answered_after_the_wait_with_its_state(admin_client):
    job = _job()
    t0 = time.monotonic()
    r = admin_client.get(f"/api/jobs/{job.pk}?wait=0.3")
    assert r.status_code == 200 and r.json()["state"] == "queued"
    assert time.monotonic() - t0 >= 0.3


def _later(seconds, action):
    def run():
        time.sleep(seconds)
        try:
            action()
        finally:
            connections.close_all()  # this thread's own connection

    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.parametrize("durable", [True, False])
def test_the_wait_ends_when_another_process_records_the_result(admin_client, durable):
    job = _job()
    job_start(job_id=job.pk)
    t = _later(0.5, lambda: job_succeed(job_id=job.pk, result={"faces": []}, message="Done", durable=durable))
    t0 = time.monotonic()
    r = admin_client.get(f"/api/jobs/{job.pk}?wait=8")
    took = time.monotonic() - t0
    t.join()
    assert r.json()["state"] == "succeeded" and r.json()["result"] == {"faces": []}
    assert 0.4 < took < 4, took  # woken by the end, not by the 8 s bound


def test_a_cancelled_queued_job_ends_the_wait_and_a_deleted_one_is_a_404(admin_client):
    job = _job()
    t = _later(0.3, lambda: job_cancel(job=Job.objects.get(pk=job.pk)))
    r = admin_client.get(f"/api/jobs/{job.pk}?wait=8")
    t.join()
    assert r.json()["state"] == "cancelled"
    other = _job()
    t = _later(0.3, lambda: Job.objects.filter(pk=other.pk).delete())
    r = admin_client.get(f"/api/jobs/{other.pk}?wait=3")
    t.join()
    assert r.status_code == 404


def test_without_wait_the_answer_is_immediate(admin_client):
    job = _job()
    t0 = time.monotonic()
    assert admin_client.get(f"/api/jobs/{job.pk}").json()["state"] == "queued"
    assert time.monotonic() - t0 < 2


def _synchronous_commit():
    with connections["default"].cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        return cur.fetchone()[0]


def test_an_answer_only_result_commits_without_the_disk_flush_and_nothing_else_does():
    """A search's hits (``durable_result=False``) skip the WAL flush for their own
    transaction only: the connection's next statements, and a caller's open
    transaction, stay synchronous."""
    from django.db import transaction

    from webapp.search.jobs import QUERY

    assert QUERY.durable_result is False and JobType("x", "t", "x").durable_result is True
    pg = connections["default"].vendor == "postgresql"  # SQLite commits as it always does
    job = _job()
    job_start(job_id=job.pk)
    assert job_succeed(job_id=job.pk, result={"hits": []}, durable=False)
    assert Job.objects.get(pk=job.pk).state == "succeeded"
    assert not pg or _synchronous_commit() == "on"
    other = _job()
    job_start(job_id=other.pk)
    with transaction.atomic():
        assert job_succeed(job_id=other.pk, result={}, durable=False)
        assert not pg or _synchronous_commit() == "on"  # not relaxed for the caller's whole transaction
    assert Job.objects.get(pk=other.pk).state == "succeeded"
