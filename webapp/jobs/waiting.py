"""Waiting for a job to end without polling it: ``GET /api/jobs/<id>?wait=S``.

A kiosk waits on its check-in: polling every 100 ms costs an HTTP request
and a query each time, and still learns the result up to one interval late.
On PostgreSQL a job's ending write is followed by ``NOTIFY job_ended,
'<id>'`` (PostgreSQL's LISTEN/NOTIFY: delivered when the writing transaction
commits), and the waiting request LISTENs on its own database connection
(psycopg 3's ``Connection.notifies``), so it answers within about a
millisecond of the job's end. Elsewhere (SQLite, the embedded default) the
request re-reads the row every :data:`WAIT_POLL_SECONDS` itself: one HTTP
round trip instead of many. Either way the wait ends after at most
:data:`MAX_WAIT_SECONDS`, and the caller asks again if the job is still
active (a web thread is never held for long)."""

from __future__ import annotations

import time

from django.db import connection

from webapp.jobs.models import Job

CHANNEL = "job_ended"
MAX_WAIT_SECONDS = 10.0
"""Longest wait one request may ask for: gunicorn runs 2 processes x 4 threads
(``scripts/run.sh``), and a waiting request holds one thread."""
WAIT_POLL_SECONDS = 0.05
"""Re-read interval where there is no LISTEN/NOTIFY (SQLite)."""


def job_ended_notify(job_id: int) -> None:
    """Wake whoever waits on job ``job_id`` (call after writing its end: finished, failed,
    cancelled, stopped). PostgreSQL only; a no-op elsewhere, where waiters re-read the row."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, str(job_id)])


def _ended(job_id: int) -> bool:
    row = Job.objects.filter(pk=job_id).values_list("state", "finished_at").first()
    if row is None:
        return True  # deleted: nothing more to wait for
    state, finished_at = row
    return state not in Job.ACTIVE_STATES and not (state == Job.State.CANCELLED and finished_at is None)


def job_wait(job_id: int, timeout: float) -> bool:
    """Block until job ``job_id`` has ended (succeeded, failed, cancelled and
    stopped, or deleted) or ``timeout`` seconds have passed.

    Args:
        job_id: the job.
        timeout: seconds, clipped to ``0..MAX_WAIT_SECONDS``.

    Returns:
        True when the job has ended, False on timeout.
    """
    deadline = time.monotonic() + max(0.0, min(float(timeout), MAX_WAIT_SECONDS))
    if connection.vendor != "postgresql" or connection.in_atomic_block:  # NOTIFY waits for a commit we would block
        while True:
            if _ended(job_id):
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(WAIT_POLL_SECONDS, left))
    connection.ensure_connection()
    conn = connection.connection  # psycopg 3, autocommit as Django keeps it
    conn.execute(f"LISTEN {CHANNEL}")
    try:
        while True:
            if _ended(job_id):  # also covers an end before the LISTEN, which no notification reports
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # any job's end (or 1 s) wakes the loop, which reads this job's row; one that arrived
            # while the row was read is kept by psycopg (>= 3.2) and comes first here, never lost
            for _note in conn.notifies(timeout=min(left, 1.0), stop_after=1):
                pass
    finally:
        conn.execute(f"UNLISTEN {CHANNEL}")
