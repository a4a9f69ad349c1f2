"""The Celery app, in a neutral module both sides import: the web process
sends tasks by name through it (``webapp.jobs.services.job_enqueue``) and
never imports ``workers/``; a worker process loads the task modules listed in
``imports``. Start one with
``celery -A webapp.celery worker -Q interactive`` (or ``-Q batch``).

Settings come from Django settings (``CELERY_*``): the routing table
``CELERY_TASK_ROUTES`` (two queues, ``webapp.jobs.routing``), prefetch 1 and
late acknowledgement so a message is only removed once its task has finished,
a Redis visibility timeout longer than the longest task, and soft/hard time
limits on every task.
"""

import os

# The prefork pool already runs one process per core; OpenBLAS threads on top
# of it stall matrix products on small machines (bench/checkin.py: matching
# 100,000 embeddings 8 ms with threads vs 3 ms on one).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from celery import Celery  # noqa: E402
from celery.signals import worker_process_init, worker_ready  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.local")

app = Celery("vision_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
# One task module per app; each task is only ``run_job(self, job_id, <app>.processing.<fn>)``.
app.conf.imports = ("workers.checkin", "workers.datasets", "workers.training", "workers.search", "workers.annotation")


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport expects its folders to exist
    opts = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if opts.get(key):
            os.makedirs(opts[key], exist_ok=True)


@worker_process_init.connect
def _warm_models(**kwargs):
    # Load models in each child after the fork: dlib objects are not fork-safe
    # to share, and the first job should not pay the load time.
    if os.environ.get("WORKER_PRELOAD_MODELS", "1") == "1":
        import django

        django.setup()
        from webapp.core.models_setup import models_preload

        models_preload()


@worker_ready.connect
def _fail_orphaned_jobs(**kwargs):
    # A worker started after a crash: the job its predecessor died running says so now
    # (the heartbeat would take JOB_STALE_SECONDS); the filesystem broker will not redeliver it.
    from webapp.jobs.services import jobs_fail_orphaned

    n = jobs_fail_orphaned()
    if n:
        import logging

        logging.getLogger(__name__).warning("%d job(s) whose worker process died were marked failed", n)
