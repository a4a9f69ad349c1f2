"""Which queue a task goes to: Celery's own routing table,
``CELERY_TASK_ROUTES`` in ``webapp/settings/base.py`` (the one place), read
here only to record the queue on the Job row for the Jobs page.

Two queues, so that a person waiting never waits behind long work:

* ``interactive``: check-in, enrolment, search, classify, detect, predict,
  activation maps, reading a text line (seconds; a user is waiting);
* ``batch``: training (classifiers, embeddings, text-line readers, detectors), dataset
  import, gallery embedding and index builds, pre-annotation, exports
  (minutes to hours).

Each has its own workers (``scripts/run.sh``; ``worker-interactive`` and
``worker-batch`` in ``docker-compose.yml``). ``CELERY_QUEUE_PREFIX`` prefixes
both names (tests use it so a stray worker never takes their jobs).
"""

from __future__ import annotations

from django.conf import settings


def queue_of(task_name: str) -> str:
    """The queue ``task_name`` is routed to (the default queue if no route names it)."""
    route = settings.CELERY_TASK_ROUTES.get(task_name) or {}
    return route.get("queue") or settings.CELERY_TASK_DEFAULT_QUEUE


def queue_label(queue: str) -> str:
    """``queue`` without the deployment's prefix: ``interactive`` or ``batch``."""
    prefix = settings.CELERY_QUEUE_PREFIX
    return queue[len(prefix):] if prefix and queue.startswith(prefix) else queue
