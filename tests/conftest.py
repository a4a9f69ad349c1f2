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


@pytest.fixture(scope="session", autouse=True)
def efficientnet_weights():
    """EfficientNet-Lite0's Keras weights, imported once into WEIGHTS_DIR
    (the checkout's var/weights under test settings) and reused by later runs."""
    from webapp.search.backbones import efficientnet_weights_ensure

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
