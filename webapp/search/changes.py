"""Knowing, without a query, that no gallery has changed since the last search.

Each search needs its gallery's *marks* (``processing._gallery_marks``: the
active index version, the newest embedding id, the newest tombstone id) to
take in the photos embedded and deleted since the index was built. Reading
them is one round trip per search, about a third of what the product path
adds to FAISS at a million photos (issue 14, ``bench/search.py``).

On PostgreSQL, triggers (migration ``search.0003``) send ``NOTIFY
gallery_changed`` from every statement that writes embeddings, tombstones or
model versions; the notification is delivered when that transaction commits.
Each worker thread keeps one listening connection of its own and the marks
it last read per gallery. Before a search it drains the notifications that
arrived (a non-blocking read of its socket: no round trip) and forgets every
cached mark if there was any; it reads a gallery's marks only when it holds
none.

What that guarantees, and what it does not: PostgreSQL delivers a
notification to listeners asynchronously, just after the writing transaction
commits (normally well under a millisecond; longer on a loaded machine), and
a listening connection killed by the server is noticed at the next search.
So a search sees every change whose notification has arrived; a change
committed within that delivery time before a search is seen by the next
search, as a change committed while a search runs always was. Such a search
may return a photo deleted a moment before: the results page drops every
photo deleted since the search (``selectors.hits_with_images``), so it is
never shown. Reading the marks on every search (the SQLite path) closes that
window at about 0.6 ms per search on PostgreSQL (``bench/search.py``).

Elsewhere, or where it cannot listen, every search reads the marks as before:
on SQLite (no NOTIFY), inside a transaction (the caller's own uncommitted
changes notify nobody: tests, shells), and when the listening connection
failed (it is opened again at the next search).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from django.db import connection

log = logging.getLogger(__name__)

CHANNEL = "gallery_changed"


class _Listener(threading.local):
    """One thread's listening connection and the marks it trusts."""

    conn = None
    pid = 0
    marks: dict

    def __init__(self):
        self.marks = {}

    def ready(self) -> bool:
        """A listening connection of this process, opened when needed; False when it cannot be."""
        if self.conn is not None and self.pid == os.getpid():
            return True
        self.conn, self.marks = None, {}  # one from a parent process is its parent's: never used nor closed here
        try:
            conn = connection.get_new_connection(connection.get_connection_params())
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
        except Exception as err:  # noqa: BLE001 - no listening: every search reads its marks, as without
            log.warning("gallery change notifications unavailable (%s); each search reads its marks", err)
            return False
        self.conn, self.pid = conn, os.getpid()
        return True

    def changed(self) -> bool:
        """Whether any notification arrived since the last call (reads what the socket holds, never waits).

        Raises:
            psycopg.OperationalError: the connection broke.
        """
        from psycopg import OperationalError, pq

        pg = self.conn.pgconn
        # a terminated backend's last message is read without an error; the second read meets the
        # closed socket and raises (measured with pg_terminate_backend): one more recv, microseconds
        pg.consume_input()
        pg.consume_input()
        if pg.status != pq.ConnStatus.OK:
            raise OperationalError("the listening connection was closed by the server")
        seen = False
        while pg.notifies() is not None:
            seen = True
        return seen

    def drop(self) -> None:
        conn, self.conn, self.marks = self.conn, None, {}
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - already broken
            pass


_listener = _Listener()


def marks_for(key: tuple, read: Callable[[], tuple]) -> tuple:
    """The marks of gallery ``key`` (``(dataset id, backbone)``): ``(index version id | None,
    index path, newest embedding id, newest tombstone id)``, cached while no gallery has
    changed since they were read, else ``read()`` (see the module docstring).

    Args:
        key: what the marks belong to.
        read: one query that reads them (``processing._gallery_marks``).
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block or not _listener.ready():
        return read()
    try:
        if _listener.changed():
            _listener.marks = {}
    except Exception as err:  # noqa: BLE001 - a broken listener: read, and listen again next time
        log.warning("gallery change listener lost (%s); listening again", err)
        _listener.drop()
        return read()
    marks = _listener.marks.get(key)
    if marks is None:  # read after draining: a change committed meanwhile notifies the next search
        marks = _listener.marks[key] = read()
    return marks


def forget() -> None:
    """Close this thread's listening connection and forget its marks (tests; a worker's end)."""
    if _listener.conn is not None and _listener.pid == os.getpid():
        _listener.drop()
    _listener.conn, _listener.marks = None, {}
