"""The embedded default's Celery broker: kombu's filesystem transport with
messages published atomically.

kombu 5.7's ``filesystem`` channel creates a message file, then locks and
writes it, while a consumer moves and reads files without taking the lock: a
consumer that finds a file between its creation and its write reads 0 bytes,
raises ``JSONDecodeError`` and the worker stops ("Unrecoverable error"), with
that message lost. Seen in a user trial under load (about one crash per 30
jobs on 2 cores); ``tests/webapp/jobs/test_fs_broker.py`` reproduces it. Here a
message is written under a hidden name the consumer skips, then renamed into
place, which POSIX makes atomic within one folder (``rename(2)``).

Selected by ``CELERY_BROKER_TRANSPORT`` in ``webapp/settings/base.py``; the
folders and options are kombu's (``data_folder_in`` etc.).
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    """kombu's filesystem channel whose ``_put`` never shows a partly written message."""

    def _put(self, queue, payload, **kwargs):
        """Write ``payload`` (a kombu message dict) as JSON to a new file in
        ``data_folder_out`` named as kombu names it
        (``<ms>_<uuid>.<queue>.msg``, so consumers keep kombu's order), by way of
        a hidden temporary file in the same folder.

        Raises:
            kombu.exceptions.ChannelError: the folder cannot be written.
        """
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        tmp = os.path.join(self.data_folder_out, f".{name}.tmp")  # '.' first: no queue matches it
        try:
            with open(tmp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(tmp, final)
        except OSError as exc:
            try:
                os.remove(tmp)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    """``filesystem://`` with :class:`Channel`."""

    Channel = Channel
