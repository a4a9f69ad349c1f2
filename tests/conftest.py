"""Fixtures shared by the web and worker tests: users, logged-in clients, and
a real Celery worker process on whatever broker and database the run uses
(Redis + PostgreSQL, or the embedded SQLite + filesystem broker)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.shared_data import REPO_ROOT


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user("staff", password="pw-staff-1", is_staff=True)


@pytest.fixture
def kiosk_user(django_user_model):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("kiosk", password="pw-kiosk-1")
    user.groups.add(Group.objects.get_or_create(name="kiosk")[0])
    return user


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture
def kiosk_client(client, kiosk_user):
    client.force_login(kiosk_user)
    return client


def _wait_ready(proc, log_path: Path, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        if "ready." in log_path.read_text():
            return
        time.sleep(0.2)
    raise RuntimeError(f"Celery worker not ready after {timeout}s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real ``celery worker`` subprocess (prefork, 1 child) connected to the
    test database and consuming both of this session's queues (interactive and
    batch; ``webapp.settings.test`` prefixes them). Torn down before the test
    database is dropped."""
    from django.conf import settings
    from django.db import connection

    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="webapp.settings.test",
               WORKER_DB_NAME=str(connection.settings_dict["NAME"]), MEDIA_ROOT=str(settings.MEDIA_ROOT),
               PYTHONPATH=str(REPO_ROOT))
    cmd = [sys.executable, "-m", "celery", "-A", "webapp.celery", "worker", "-P", "prefork", "-c", "1",
           "-Q", f"{settings.INTERACTIVE_QUEUE},{settings.BATCH_QUEUE}", "--without-gossip", "--without-mingle", "--without-heartbeat",
           "-l", "INFO", "-n", f"test-{uuid.uuid4().hex[:6]}@%h"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, log_path)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for_job(job_id: int, timeout: float = 120.0):
    """Poll a Job row until it leaves queued/running; return it."""
    from webapp.jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state not in Job.ACTIVE_STATES:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.state} after {timeout}s: {job.message}")


@pytest.fixture(autouse=True)
def _search_listener_closed():
    """A search in a transactional test opens this process's gallery-change listener
    (``webapp.search.changes``); closed after the test, or its connection would keep
    the test database from being dropped at the end."""
    yield
    from webapp.search import changes

    changes.forget()


@pytest.fixture(scope="session", autouse=True)
def efficientnet_weights():
    """EfficientNet-Lite0's Keras weights, imported once into WEIGHTS_DIR
    (the checkout's var/weights under test settings) and reused by later runs."""
    from webapp.core.backbones import efficientnet_weights_ensure

    return efficientnet_weights_ensure()


@pytest.fixture(scope="session")
def efficientnet_backbone(efficientnet_weights):
    """The loaded EfficientNet-Lite0 backbone (per-process registry cache)."""
    from vision import registry

    return registry.load("efficientnet_lite0")


@pytest.fixture(scope="session")
def efficientnet_lite_backbone(efficientnet_weights):
    """``efficientnet_lite_backbone("lite1")``: the loaded EfficientNet-Lite
    backbone of a variant (``"lite0"``, ``"lite1"`` or ``"lite2"``). Its weights
    were imported once into WEIGHTS_DIR by ``efficientnet_weights`` (the
    checkout's var/weights, reused by later runs); models are cached per process."""
    from vision import registry

    def load(variant: str):
        return registry.load(f"efficientnet_{variant}")

    return load


@pytest.fixture
def cancel_when(monkeypatch):
    """``cancel_when(obj, name, after=n)``: wrap ``obj.name`` so that the
    running job is cancelled (as the Cancel button does) right after its n-th
    call; tasks then read the cancellation at their next check (the 1 s
    throttle of ``cancel_checker`` is turned off)."""
    from webapp.jobs import services as job_services
    from webapp.jobs.models import Job

    monkeypatch.setattr(job_services, "CANCEL_CHECK_INTERVAL", 0.0)
    calls = []

    def install(obj, name: str, after: int = 1):
        original = getattr(obj, name)

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            calls.append(name)
            if len(calls) == after:
                job_services.job_cancel(job=Job.objects.get(state=Job.State.RUNNING))
            return out

        monkeypatch.setattr(obj, name, wrapper)
        return calls

    return install


def _celery_worker_start(*, queues: list[str], name: str, log_path: Path, env: dict) -> subprocess.Popen:
    """One real ``celery worker`` subprocess (prefork, 1 child) on the test database, consuming
    ``queues`` only, as node ``<name>@<host>``; ``env`` is added to the test environment."""
    from django.conf import settings
    from django.db import connection

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="webapp.settings.test",
               WORKER_DB_NAME=str(connection.settings_dict["NAME"]), MEDIA_ROOT=str(settings.MEDIA_ROOT),
               PYTHONPATH=str(REPO_ROOT), **env)
    cmd = [sys.executable, "-m", "celery", "-A", "webapp.celery", "worker", "-P", "prefork", "-c", "1",
           "-Q", ",".join(queues), "--without-gossip", "--without-mingle", "--without-heartbeat",
           "-l", "INFO", "-n", f"{name}@%h"]
    with open(log_path, "w") as log:
        return subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _celery_workers_stop(procs, timeout: float = 20.0) -> None:
    """Warm shutdown of every worker at once (TERM: a running task may finish); killed after ``timeout`` s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class QueueWorkers:
    """The two workers of :func:`celery_queue_workers`: ``procs`` by queue label
    (``"interactive"``, ``"batch"``) and :meth:`ran` to tell which one ran a job."""

    def __init__(self, procs: dict[str, subprocess.Popen], logs: dict[str, Path]):
        self.procs, self.logs = procs, logs

    def pool_pids(self, label: str) -> set[int]:
        """The pids of the pool children of the ``label`` worker (``Job.worker`` is ``<host>:<child pid>``)."""
        pid = self.procs[label].pid
        try:
            return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
        except OSError:
            return set()

    def ran(self, job) -> str | None:
        """``"interactive"`` or ``"batch"``: which of the two ran ``job`` (``None``: neither)."""
        pid = int(job.worker.rsplit(":", 1)[1]) if job.worker else None
        return next((label for label in self.procs if pid in self.pool_pids(label)), None)


@pytest.fixture(scope="module")
def celery_queue_workers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two real worker processes, as ``make run`` starts them: one consuming only the
    interactive queue, one only the batch queue (``WORKER_PRELOAD_MODELS=0``), concurrency 1
    each, on the test database. Yields a :class:`QueueWorkers`.

    Their queues are their own (the session's prefix + ``split-``): while the fixture lives the
    routes (``CELERY_TASK_ROUTES``, which ``Job.queue`` records, and the Celery app's router,
    which sends) point there, so the session's ``celery_worker_process``, which consumes both
    of the session's queues, never takes their jobs and a test sees which worker ran what."""
    from django.conf import settings
    from django.test.utils import override_settings

    from webapp.celery import app
    from webapp.jobs.routing import queue_label

    prefix = f"{settings.CELERY_QUEUE_PREFIX}split-"
    queues = {"interactive": prefix + "interactive", "batch": prefix + "batch"}
    routes = {task: {"queue": prefix + queue_label(route["queue"])} for task, route in settings.CELERY_TASK_ROUTES.items()}
    folder = tmp_path_factory.mktemp("queue-workers")
    logs = {label: folder / f"worker-{label}.log" for label in queues}
    procs = {}
    overrides = override_settings(CELERY_QUEUE_PREFIX=prefix, INTERACTIVE_QUEUE=queues["interactive"],
                                  BATCH_QUEUE=queues["batch"], CELERY_TASK_DEFAULT_QUEUE=queues["batch"],
                                  CELERY_TASK_ROUTES=routes)
    saved = app.conf.task_routes, app.conf.task_default_queue

    def route(task_routes, default_queue):
        app.conf.task_routes, app.conf.task_default_queue = task_routes, default_queue
        app.amqp.flush_routes()
        app.amqp.__dict__.pop("router", None)  # a cached Router holds the old table

    try:
        for label, queue in queues.items():
            extra = {"CELERY_QUEUE_PREFIX": prefix, "WORKER_PRELOAD_MODELS": "1" if label == "interactive" else "0"}
            if label == "batch":  # a 1 MB limit: its child is replaced after every task (test_queues checks it)
                extra["WORKER_MAX_MEMORY_MB"] = "1"
            procs[label] = _celery_worker_start(queues=[queue], name=f"{label}-{uuid.uuid4().hex[:6]}",
                                                log_path=logs[label], env=extra)
        for label, proc in procs.items():
            _wait_ready(proc, logs[label])
        with overrides:
            route(routes, queues["batch"])
            try:
                yield QueueWorkers(procs, logs)
            finally:
                route(*saved)
    finally:
        _celery_workers_stop(list(procs.values()))
        if settings.REDIS_URL:  # kombu's bindings of these two queues, which no one will use again
            import redis

            r = redis.Redis.from_url(settings.REDIS_URL)
            keys = list(r.scan_iter(match=f"*{prefix}*"))
            if keys:
                r.delete(*keys)
