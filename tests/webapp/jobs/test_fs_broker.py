"""The embedded default's broker (``webapp.jobs.fs_broker``): a message is never
seen half written, so a busy worker does not read an empty file and stop."""

import json
import multiprocessing
import time
from queue import Empty

import pytest
from kombu import Connection

from webapp.jobs import fs_broker

pytestmark = pytest.mark.embedded


def _channel(folder, transport="webapp.jobs.fs_broker:Transport"):
    return Connection(transport=transport, transport_options={
        "data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}).default_channel


def _read_during_write(monkeypatch, module, producer, consumer):
    """Publish one message with ``consumer`` reading the queue after the file is
    created and before it is written (a producer descheduled there, as on a loaded machine)."""
    seen = []
    real = module.str_to_bytes

    def write_later(text):
        try:
            seen.append(consumer._get("q"))
        except Empty:
            seen.append("nothing")
        return real(text)

    monkeypatch.setattr(module, "str_to_bytes", write_later)
    producer._put("q", {"body": "check-in 1"})
    monkeypatch.setattr(module, "str_to_bytes", real)
    return seen


def test_a_message_is_invisible_until_it_is_completely_written(tmp_path, monkeypatch):
    producer, consumer = _channel(tmp_path), _channel(tmp_path)
    assert _read_during_write(monkeypatch, fs_broker, producer, consumer) == ["nothing"]
    assert consumer._get("q") == {"body": "check-in 1"}
    assert consumer._size("q") == 0 and not list(tmp_path.iterdir())  # no temporary file left behind


def test_kombus_own_filesystem_channel_still_reads_a_half_written_message(tmp_path, monkeypatch):
    """Why ``webapp.jobs.fs_broker`` exists. If this fails, kombu has fixed its
    ``_put``: the settings can go back to its ``filesystem`` transport."""
    from kombu.transport import filesystem

    producer, consumer = _channel(tmp_path, "filesystem"), _channel(tmp_path, "filesystem")
    with pytest.raises(json.JSONDecodeError):
        _read_during_write(monkeypatch, filesystem, producer, consumer)


def _publish(folder, n):
    real = fs_broker.str_to_bytes
    fs_broker.str_to_bytes = lambda text: (time.sleep(0.002), real(text))[1]  # slow writes widen the window
    channel = _channel(folder)
    for i in range(n):
        channel._put("q", {"i": i, "pad": "x" * 2000})


def test_every_message_arrives_whole_from_another_process(tmp_path):
    n = 150
    writer = multiprocessing.get_context("fork").Process(target=_publish, args=(tmp_path, n))
    writer.start()
    consumer, got = _channel(tmp_path), []
    deadline = time.monotonic() + 60
    while len(got) < n and time.monotonic() < deadline:
        try:
            got.append(consumer._get("q")["i"])  # a half-written file would raise JSONDecodeError here
        except Empty:
            time.sleep(0.001)
    writer.join(10)
    assert writer.exitcode == 0 and sorted(got) == list(range(n))


def test_the_embedded_default_publishes_through_it(settings):
    from webapp.celery import app

    with app.connection_for_write() as conn:
        assert isinstance(conn.transport, fs_broker.Transport) == (not settings.REDIS_URL)
