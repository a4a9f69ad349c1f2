"""Two queues: a person waiting never waits behind long work (webapp/jobs/routing.py).

The routing table covers every job kind; the web process never imports
``workers/``; and, with two real worker processes as ``make run`` starts them
(one per queue), a check-in posted while a classifier trains finishes while
the training is still running."""

import re
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import wait_for_job
from tests.shared_data import REPO_ROOT
from tests.workers.helpers import check_in, face_file


def test_every_declared_job_kind_is_routed_to_one_of_the_two_queues(settings):
    from webapp.jobs.kinds import declared
    from webapp.jobs.routing import queue_label, queue_of

    kinds = declared()
    assert len(kinds) >= 13
    routes = settings.CELERY_TASK_ROUTES
    for kind, jt in kinds.items():
        # explicitly: a kind missing here would silently fall to the default queue
        assert jt.task in routes, f"{jt.task} ({kind}) has no route in CELERY_TASK_ROUTES"
        assert routes[jt.task]["queue"] in (settings.INTERACTIVE_QUEUE, settings.BATCH_QUEUE), jt.task
        assert queue_label(queue_of(jt.task)) in ("interactive", "batch")
    assert set(routes) == {jt.task for jt in kinds.values()}  # and no route for a task nobody declares
    interactive = {k for k, jt in kinds.items() if routes[jt.task]["queue"] == settings.INTERACTIVE_QUEUE}
    assert {"checkin.checkin", "checkin.enrol", "search.query", "search.classify"} <= interactive
    assert not {"training.classifier", "datasets.import", "search.embed", "search.build_index"} & interactive
    assert settings.CELERY_TASK_DEFAULT_QUEUE == settings.BATCH_QUEUE  # never the interactive one by accident


def test_the_celery_app_declares_a_task_for_every_route():
    from django.conf import settings

    from webapp.celery import app

    app.loader.import_default_modules()
    assert set(settings.CELERY_TASK_ROUTES) <= set(app.tasks)


def test_the_web_process_never_imports_workers():
    pattern = re.compile(r"^\s*(from\s+workers(\.|\s)|import\s+workers\b)", re.M)
    found = [f"{p.relative_to(REPO_ROOT)}" for p in (REPO_ROOT / "webapp").rglob("*.py") if pattern.search(p.read_text())]
    assert found == []
    # and at run time: the URL configuration, every view and the Celery app, without a worker module
    code = ("import django, os, sys; os.environ['DJANGO_SETTINGS_MODULE']='webapp.settings.test'; django.setup();"
            "import webapp.urls, webapp.celery; from django.urls import get_resolver; get_resolver().url_patterns;"
            "print(sorted(m for m in sys.modules if m == 'workers' or m.startswith('workers.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def _generated_dataset(n_per_class: int = 6):
    """A classification dataset of ``2 * n_per_class`` generated 64 px photos (two classes), imported
    through the product's service (synchronous)."""
    import shutil
    import tempfile
    from pathlib import Path

    from PIL import Image

    from webapp.datasets.models import Dataset
    from webapp.datasets.services import dataset_import

    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp())
    for c, base in (("dark", 40), ("light", 200)):
        (tmp / c).mkdir()
        for i in range(n_per_class):
            px = np.clip(base + rng.normal(0, 30, (64, 64, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(px).save(tmp / c / f"{i}.png")
    ds = Dataset.objects.create(name="Generated", kind="classification")
    dataset_import(dataset=ds, source=tmp)
    shutil.rmtree(tmp)
    return ds


def _wait_state(job_id: int, states: tuple, timeout: float):
    from webapp.jobs.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.state in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.state} after {timeout} s: {job.message} {job.error}")


@pytest.mark.worker
@pytest.mark.embedded
@pytest.mark.django_db(transaction=True)
def test_a_checkin_posted_while_a_classifier_trains_finishes_before_the_training(celery_queue_workers):
    from webapp.jobs.models import Job
    from webapp.jobs.services import job_cancel
    from webapp.training.services import training_start

    t0 = time.monotonic()
    # the interactive worker's child loads dlib and the search backbone after "ready.": once, at start
    _, warm = check_in(face_file("Tony_Blair", 1), run=False)
    assert wait_for_job(warm.pk, timeout=90).state == Job.State.SUCCEEDED
    # long enough to still run when the check-in is done: the seed's CNN at 48 px, 500 epochs, no early stop
    training = training_start(dataset=_generated_dataset(), model_kind="scratch", epochs=500, image_size=48,
                              patience=500)
    training = _wait_state(training.pk, (Job.State.RUNNING,), timeout=30)
    assert training.queue.endswith("batch") and celery_queue_workers.ran(training) == "batch"

    print(f"\n[timeline] warm-up + training start {time.monotonic() - t0:.1f} s")
    posted = time.monotonic()
    _, checkin = check_in(face_file("Barack_Obama", 3), run=False)
    checkin = wait_for_job(checkin.pk, timeout=60)
    took = time.monotonic() - posted
    training.refresh_from_db()
    try:
        # nobody is enrolled: a stranger, logged (any check-in result counts, a photo without a face too)
        assert checkin.state == Job.State.SUCCEEDED or checkin.error_code == "no_face", (checkin.error, checkin.traceback)
        assert checkin.queue.endswith("interactive") and celery_queue_workers.ran(checkin) == "interactive"
        assert training.state == Job.State.RUNNING, f"the training job ended first: {training.state} {training.message}"
        print(f"check-in done in {took:.2f} s ({checkin.run_seconds:.2f} s in the worker) while training "
              f"ran: {training.message}")
    finally:
        job_cancel(job=training)
        # let the batch worker record what it kept, so that its warm shutdown is quick
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and Job.objects.get(pk=training.pk).stopping:
            time.sleep(0.1)
        print(f"[timeline] cancel recorded at {time.monotonic() - t0:.1f} s: {Job.objects.get(pk=training.pk).message}")


@pytest.mark.django_db(transaction=True)
def test_a_pool_child_past_its_memory_limit_is_replaced(celery_queue_workers):
    """``CELERY_WORKER_MAX_MEMORY_PER_CHILD`` (``WORKER_MAX_MEMORY_MB``) reaches the worker: the batch
    worker of the fixture runs with a 1 MB limit, so each task ends in a fresh child."""
    from webapp.jobs.services import job_create
    from webapp.search.jobs import EMBED

    pids = []
    for _ in range(2):
        job, _ = job_create(EMBED, params={"dataset_id": 10**9, "backbone": "efficientnet_lite0"})
        job = wait_for_job(job.pk, timeout=60)
        assert job.state == "failed" and job.error_code == "deleted", job.error
        assert celery_queue_workers.ran(job) in ("batch", None)  # None: that child is already gone
        pids.append(int(job.worker.rsplit(":", 1)[1]))
    assert pids[0] != pids[1]
