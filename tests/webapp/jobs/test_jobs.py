import pytest
from django.utils import timezone

from webapp.jobs.kinds import JobType
from webapp.jobs.models import Job
from webapp.jobs.services import ProgressReporter, job_cancel, job_create, job_start, jobs_fail_stale

pytestmark = pytest.mark.django_db


def test_queue_settings_are_safe_for_long_jobs(settings):
    from webapp.celery import app

    app.loader.import_default_modules()
    tasks = [t for name, t in app.tasks.items() if name.startswith("workers.")]
    assert len(tasks) >= 6
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
    for task in tasks:  # every task has a soft limit (a sentence on the Job) under its hard limit
        assert 0 < task.soft_time_limit < task.time_limit, task.name
    if settings.REDIS_URL:
        longest = max(t.time_limit for t in tasks)
        assert app.conf.broker_transport_options["visibility_timeout"] > longest
    else:
        assert app.conf.broker_url.startswith("filesystem://")


def test_same_key_returns_running_job():
    a, created_a = job_create(JobType("x", "t", "x"), key="x:y:1")
    b, created_b = job_create(JobType("x", "t", "x"), key="x:y:1")
    assert created_a and not created_b and a.pk == b.pk


def test_stale_running_job_is_shown_failed(admin_client):
    job, _ = job_create(JobType("checkin.checkin", "t", "Check-in"))
    job_start(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(hours=2))
    data = admin_client.get(f"/api/jobs/{job.pk}").json()
    assert data["state"] == "failed" and data["error_code"] == "worker_lost" and "stopped responding" in data["error"]
    assert jobs_fail_stale(stale_seconds=60) == 0


def test_progress_is_throttled_and_clamped():
    job, _ = job_create(JobType("x", "t", "x"))
    job_start(job_id=job.pk)
    p = ProgressReporter(job.pk)
    p(0.5, "half")
    p(0.9, "ignored: within a second")
    job.refresh_from_db()
    assert job.progress == 0.5 and job.message == "half"
    p(7, "done", force=True)
    job.refresh_from_db()
    assert job.progress == 1.0


def test_a_forced_message_carries_the_latest_fraction_even_when_that_was_throttled():
    """Short epochs: their batches report within a second of the forced
    end-of-epoch message, so without this the bar would never move."""
    job, _ = job_create(JobType("x", "t", "x"))
    job_start(job_id=job.pk)
    p = ProgressReporter(job.pk)
    p(0.1, "epoch 1, batch 1")
    p(0.3, "epoch 2, batch 1")  # throttled
    p(None, "epoch 2 done", force=True)
    job.refresh_from_db()
    assert job.progress == 0.3 and job.message == "epoch 2 done"


def test_cancel_comes_back_to_the_page_it_was_pressed_on_but_never_leaves_the_site(admin_client):
    job, _ = job_create(JobType("x", "t", "x"))
    r = admin_client.post(f"/jobs/{job.pk}/cancel/", {"next": "/training/jobs/7/"})
    assert r.status_code == 302 and r.url == "/training/jobs/7/"
    job2, _ = job_create(JobType("y", "t", "y"))
    r = admin_client.post(f"/jobs/{job2.pk}/cancel/", {"next": "https://evil.example/"})
    assert r.url == f"/jobs/{job2.pk}/"


def test_cancel(admin_client):
    job, _ = job_create(JobType("x", "t", "x"))
    r = admin_client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    job.refresh_from_db()
    assert job.state == "cancelled" and "cancelled" in r.content.decode()
    assert job_start(job_id=job.pk) is None  # a cancelled job never starts
    assert not job_cancel(job=job)


def test_api_shape_and_visibility(client, django_user_model, admin_user):
    owner = django_user_model.objects.create_user("o", password="x")
    other = django_user_model.objects.create_user("p", password="x")
    job, _ = job_create(JobType("checkin.checkin", "t", "Check-in"), user=owner, params={"photo_id": 3})
    client.force_login(owner)
    data = client.get(f"/api/jobs/{job.pk}").json()
    assert set(data) >= {"id", "kind", "state", "progress", "message", "error", "created_at", "started_at",
                         "finished_at", "params", "result"}
    client.force_login(other)
    assert client.get(f"/api/jobs/{job.pk}").status_code == 404
    assert client.get(f"/jobs/{job.pk}/").status_code == 404
    client.force_login(admin_user)
    assert client.get(f"/jobs/{job.pk}/").status_code == 200
    assert "checkin.checkin" in client.get("/jobs/?kind=checkin.checkin").content.decode()


def test_cancel_checker_reads_the_state_at_most_once_a_second(monkeypatch, django_assert_num_queries):
    from webapp.jobs import services

    clock = [1000.0]
    monkeypatch.setattr(services.time, "monotonic", lambda: clock[0])
    job, _ = job_create(JobType("x", "t", "x"))
    job_start(job_id=job.pk)
    should_stop = services.cancel_checker(job.pk)
    with django_assert_num_queries(1):
        assert should_stop() is False  # the first call reads
    job_cancel(job=job)
    clock[0] += 0.5
    with django_assert_num_queries(0):
        assert should_stop() is False  # within the second: the last answer
    clock[0] += 0.5
    with django_assert_num_queries(1):
        assert should_stop() is True
    clock[0] += 5
    with django_assert_num_queries(0):
        assert should_stop() is True  # once cancelled, never read again


def test_a_task_that_stops_on_cancel_leaves_the_job_cancelled_with_what_it_kept():
    from types import SimpleNamespace

    from webapp.jobs.errors import JobCancelled
    from webapp.jobs.runner import run_job

    job, _ = job_create(JobType("x", "t", "x"))

    def work(job, progress):
        job_cancel(job=job)  # the Cancel button, while the task runs
        raise JobCancelled("Cancelled after 3 of 9 photos; those are kept.", result={"done": 3, "cancelled": True})

    assert run_job(SimpleNamespace(request=SimpleNamespace(id="t-1")), job.pk, work) == "cancelled"
    job.refresh_from_db()
    assert job.state == "cancelled" and job.message == "Cancelled after 3 of 9 photos; those are kept."
    assert job.result == {"done": 3, "cancelled": True} and not job.error and job.finished_at is not None


def test_job_cancelled_survives_pickling():
    import pickle

    from webapp.jobs.errors import JobCancelled

    err = pickle.loads(pickle.dumps(JobCancelled("Stopped.", {"done": 1})))
    assert err.message == "Stopped." and err.result == {"done": 1}


def test_job_page_shows_parameters_as_json_and_has_a_message_to_update(admin_client):
    import json
    import re
    from html import unescape

    job, _ = job_create(JobType("x", "t", "x"), params={"dataset_id": 3, "augment": False, "name": None})
    html = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    # the script fills the bar and this message while the job runs, so it is there even when empty
    assert 'data-field="message"' in html and 'data-field="progress"' in html
    shown = json.loads(unescape(re.search(r'<pre class="wrap">(.*?)</pre>', html, re.S).group(1)))
    assert shown["params"] == {"dataset_id": 3, "augment": False, "name": None}  # JSON, not Python's repr
    # one date/time format on every page (webapp/formats), not "Nov. 30, 2026, 12:23 a.m."
    assert f"<dd>{timezone.localtime(job.created_at):%Y-%m-%d %H:%M:%S}" in html
    # scripts write times in the same zone as the server's pages (Vision.fmtTime reads it here)
    assert f'<body data-time-zone="{timezone.get_current_timezone_name()}">' in html
    listing = admin_client.get("/jobs/").content.decode()
    assert "now</td>" in listing and "0 minutes" not in listing  # a job created just now


def test_a_retried_job_waits_in_queue_from_its_retry_not_its_creation(admin_client):
    from webapp.jobs.services import job_retry

    job, _ = job_create(JobType("x", "t", "x"))
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timezone.timedelta(hours=2),
                                         state=Job.State.FAILED, error="worker lost", error_code="worker_lost")
    job.refresh_from_db()
    assert job_retry(job=job)
    job_start(job_id=job.pk)
    job.refresh_from_db()
    assert 0 <= job.queue_seconds < 60  # not the two hours since it was first created


def test_a_restarted_worker_fails_the_jobs_its_dead_predecessor_was_running():
    import os
    import socket
    import subprocess

    from webapp.jobs.services import jobs_fail_orphaned

    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process any more
    host = socket.gethostname()
    dead, alive, elsewhere = (job_create(JobType("x", "t", "x"))[0] for _ in range(3))
    for job, worker in ((dead, f"{host}:{gone.pid}"), (alive, f"{host}:{os.getpid()}"), (elsewhere, "other-host:1")):
        job_start(job_id=job.pk)
        Job.objects.filter(pk=job.pk).update(worker=worker)
    assert jobs_fail_orphaned() == 1
    states = {j.pk: (j.state, j.error_code) for j in Job.objects.all()}
    assert states[dead.pk] == ("failed", "worker_lost")
    assert states[alive.pk] == ("running", "") and states[elsewhere.pk] == ("running", "")


def _routed_jobs(user=None):
    """Jobs of two declared kinds, one per queue (``webapp.settings.test`` prefixes the queue names)."""
    from webapp.jobs.kinds import declared

    kinds = declared()
    return kinds["training.classifier"], kinds["checkin.checkin"]


def test_queued_jobs_know_their_place_in_their_own_queue(admin_client, settings):
    from webapp.jobs.selectors import job_to_dict

    train, checkin = _routed_jobs()
    running, _ = job_create(train)
    b1, _ = job_create(train)
    i1, _ = job_create(checkin)
    b2, _ = job_create(train)
    b3, _ = job_create(train)
    job_start(job_id=running.pk)
    # same queued_at: the earlier id is ahead
    Job.objects.filter(pk__in=[b2.pk, b3.pk]).update(queued_at=timezone.now())
    assert Job.objects.get(pk=b1.pk).queue == settings.BATCH_QUEUE != "batch"  # the prefix is stored

    api = {j.pk: admin_client.get(f"/api/jobs/{j.pk}").json() for j in (running, b1, i1, b2, b3)}
    assert [api[j.pk]["queue_position"] for j in (b1, b2, b3)] == [1, 2, 3]
    assert api[i1.pk]["queue_position"] == 1 and api[i1.pk]["queue"] == "interactive"
    assert api[running.pk]["queue_position"] is None and api[running.pk]["queue"] == "batch"
    assert api[running.pk]["worker"] and ":" in api[running.pk]["worker"] and api[b1.pk]["worker"] == ""
    assert api[b1.pk]["kind_label"] == "Classifier training" and api[i1.pk]["kind_label"] == "Check-in"
    # a job loaded without the selector's annotation gets the same answer
    assert job_to_dict(Job.objects.get(pk=b3.pk))["queue_position"] == 3

    # the one ahead is taken or cancelled: everyone behind moves up
    job_cancel(job=Job.objects.get(pk=b1.pk))
    assert admin_client.get(f"/api/jobs/{b3.pk}").json()["queue_position"] == 2

    html = admin_client.get("/jobs/").content.decode()
    assert "1st in the batch queue" in html and "2nd in the batch queue" in html
    assert "1st in the interactive queue" in html and settings.CELERY_QUEUE_PREFIX not in html
    running.refresh_from_db()
    assert running.worker in html  # where the running one runs
    assert ">Classifier training</td>" in html and 'title="training.classifier"' in html
    detail = admin_client.get(f"/jobs/{b3.pk}/").content.decode()
    assert "2nd in the batch queue" in detail and 'data-field="queue_position"' in detail
    assert "Classifier training" in detail
    detail = admin_client.get(f"/jobs/{running.pk}/").content.decode()
    assert running.worker in detail and "<dt>Queue</dt>" in detail


def test_a_retried_job_goes_to_the_back_of_its_queue(admin_client):
    from webapp.jobs.services import job_retry

    train, _ = _routed_jobs()
    first, _ = job_create(train)
    second, _ = job_create(train)
    job_cancel(job=first)
    assert job_retry(job=first)
    assert admin_client.get(f"/api/jobs/{second.pk}").json()["queue_position"] == 1
    assert admin_client.get(f"/api/jobs/{first.pk}").json()["queue_position"] == 2


def test_the_jobs_page_computes_queue_places_in_one_query_whatever_the_number_of_jobs(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    train, checkin = _routed_jobs()

    def queries_for_listing():
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client.get("/jobs/").status_code == 200
        return len(ctx.captured_queries)

    job_create(train), job_create(checkin)
    few = queries_for_listing()
    for _ in range(12):
        job_create(train), job_create(checkin)
    assert queries_for_listing() == few
    assert "12th in the batch queue" in admin_client.get("/jobs/").content.decode()


def test_the_kind_filter_shows_each_kind_in_words(admin_client):
    train, _ = _routed_jobs()
    job_create(train)
    job_create(JobType("legacy.kind", "t", "old"))  # a kind no app declares any more: shown as it is
    html = admin_client.get("/jobs/?kind=training.classifier").content.decode()
    assert '<option value="training.classifier" selected>Classifier training</option>' in html
    assert '<option value="checkin.checkin" >Check-in</option>' in html
    assert '<option value="legacy.kind" >legacy.kind</option>' in html
    assert ">legacy.kind</td>" not in html  # filtered out


def test_the_home_page_table_shows_queues_too(admin_client):
    train, _ = _routed_jobs()
    job_create(train)
    html = admin_client.get("/").content.decode()
    assert "1st in the batch queue" in html and "Classifier training" in html


def test_a_job_picked_up_again_after_its_worker_died_says_so(admin_client):
    job, _ = job_create(JobType("checkin.checkin", "t", "Check-in"))
    job_start(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(worker="host-a:4242")  # then that process died; the broker redelivers
    again = job_start(job_id=job.pk)
    assert again.attempts == 2 and again.message == "Restarted" and len(again.restarts) == 1
    assert "host-a:4242" in again.restarts[0]["reason"] and "attempt 2" in again.restarts[0]["reason"]
    assert admin_client.get(f"/api/jobs/{job.pk}").json()["restarts"][0]["worker"] == "host-a:4242"
    page = admin_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Restarted 1 time." in page and "host-a:4242 stopped before it finished" in page
    # a first start is not a restart
    fresh, _ = job_create(JobType("checkin.checkin", "t", "Check-in"), key="other")
    assert job_start(job_id=fresh.pk).restarts == []


def test_the_task_is_sent_under_the_id_stored_at_creation_and_a_retry_gets_a_new_one(monkeypatch,
                                                                                   django_capture_on_commit_callbacks):
    """No write after the send (one round trip less per check-in, issue 18); a retry is a new delivery."""
    from webapp.celery import app
    from webapp.jobs.services import job_retry

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kw: sent.append(kw["task_id"]))
    with django_capture_on_commit_callbacks(execute=True):
        job, _ = job_create(JobType("x", "t", "x"))
    job.refresh_from_db()
    assert sent == [job.celery_task_id] and len(job.celery_task_id) == 36
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        assert job_retry(job=job)
    first = sent[0]
    job.refresh_from_db()
    assert sent[1] == job.celery_task_id != first
