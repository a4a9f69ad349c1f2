"""Through a real Celery worker process and a real broker: Redis with
PostgreSQL, and (marked ``embedded``) SQLite with kombu's filesystem broker."""

import pytest

from tests.conftest import wait_for_job
from tests.workers.helpers import check_in, enrol, face_file

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.embedded]


def test_enrol_then_checkin_through_the_worker(celery_worker_process, admin_client):
    from webapp.checkin.models import CheckIn

    member, out = enrol("Obama", [face_file("Barack_Obama", 1), face_file("Barack_Obama", 2)], run=False)
    job = wait_for_job(out.job.pk)
    assert job.state == "succeeded" and job.result["accepted"] == 2, (job.error, job.result)
    assert job.attempts == 1 and job.worker and job.started_at and job.finished_at

    photo, job = check_in(face_file("Barack_Obama", 3), run=False)
    job = wait_for_job(job.pk)
    assert job.state == "succeeded" and job.result["faces"][0]["member_id"] == member.pk
    assert CheckIn.objects.get().member == member
    # the result page and the job API show it
    assert admin_client.get(f"/checkin/{photo.pk}/").status_code == 200
    assert admin_client.get(f"/api/jobs/{job.pk}").json()["state"] == "succeeded"


def test_bad_job_does_not_kill_the_worker(celery_worker_process):
    from webapp.checkin.jobs import CHECKIN
    from webapp.jobs.services import job_create

    bad, _ = job_create(CHECKIN, params={"photo_id": 10**9})  # its photo is gone: the job fails in words
    bad = wait_for_job(bad.pk)
    assert bad.state == "failed" and bad.error_code == "deleted"
    _, good = check_in(face_file("Tony_Blair", 1), run=False)
    assert wait_for_job(good.pk).state == "succeeded"
    assert celery_worker_process.poll() is None
