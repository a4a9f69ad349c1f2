"""The shape every trainer shares: one call per model kind.

``classifier_train`` (``vision.training.classifier``) is the first; the
detector, text-line OCR and similarity-embedding trainers follow the same
contract, in the manner of Keras' ``Model.fit`` and scikit-learn's estimators:

* plain data in (file paths, label indices, content keys), never rows;
* options as one frozen dataclass whose defaults ARE the product's defaults
  (the web form, the job and ``bench/`` read them from there);
* three callbacks, all optional:

  - ``on_progress(fraction, message, *, force=False)``: ``fraction`` 0..1 of
    the whole call, or ``None`` to keep the last one; ``message`` a sentence
    for people; ``force`` asks the receiver not to throttle (an epoch ended).
    Called after every batch: the receiver throttles (the job writes about
    once a second).
  - ``on_epoch(history, phase)``: after every epoch, the curves so far,
    ``{"loss": [...], "val_loss": [...], ...}`` one float (or None) per
    epoch, and the phase's name in words (``"Training the head"``), so a job
    can store the curves live.
  - ``should_stop() -> bool``: polled after every batch; True ends training
    early, keeping the best weights so far (``result.cancelled``). It may
    raise to abort instead (the job raises when its dataset was deleted).

* a resumable ``work_dir``: checkpoints and backups (Keras
  ``BackupAndRestore``, ``vision.training.fit``) and the history so far
  (``history.json``); a call given the same folder after a crash goes on from
  its last finished epoch. The caller removes it once the result is saved.
* a result dataclass with the :class:`TrainingResult` fields, plus what the
  kind adds, and a ``save(folder)`` that writes the model and its report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol


class ProgressCallback(Protocol):
    def __call__(self, fraction: float | None, message: str, *, force: bool = False) -> None: ...


#: ``on_epoch(history, phase)``: the curves so far (one list per metric) and the phase in words.
EpochCallback = Callable[[dict, str], None]
#: ``should_stop()``: True ends training early, keeping the best weights so far.
StopCallback = Callable[[], bool]


@dataclass(frozen=True, kw_only=True)
class TrainingResult:
    """What every trainer returns (a kind's result adds its own fields).

    Attributes:
        history: per-epoch curves, ``{"loss": [...], "val_loss": [...], ...}``, one float
            (or None) per epoch; a later phase's curves carry its prefix (``fine_tune_loss``).
        best_epoch: 0-based epoch (of the first phase) with the lowest validation loss.
        epochs_run: epochs of the first phase completed (fewer than asked when stopped early or cancelled).
        stopped_early: early stopping fired (``patience`` epochs without a lower validation loss).
        cancelled: ``should_stop`` returned True; the best weights so far were kept.
        seconds: wall time of the call.
    """

    history: dict = field(default_factory=dict)
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    cancelled: bool = False
    seconds: float = 0.0


def _ignore_progress(fraction: float | None, message: str, *, force: bool = False) -> None:
    return None


@dataclass(frozen=True)
class Callbacks:
    """The three callbacks of a training call, with no-op defaults, and the
    adapters ``vision.training.fit.fit`` takes (per-batch and per-epoch).

    Attributes:
        on_progress: see the module docstring.
        on_epoch: see the module docstring.
        should_stop: see the module docstring.
    """

    on_progress: ProgressCallback | None = None
    on_epoch: EpochCallback | None = None
    should_stop: StopCallback | None = None

    def progress(self, fraction: float | None, message: str, *, force: bool = False) -> None:
        (self.on_progress or _ignore_progress)(fraction, message, force=force)

    def stopped(self) -> bool:
        """One poll of ``should_stop`` (False without one)."""
        return bool(self.should_stop and self.should_stop())

    def progress_or_stop(self, fraction: float | None, message: str, stopped: str) -> None:
        """:meth:`progress`, then one poll of ``should_stop`` for work before any model exists
        (features): True raises ``TrainingCancelled(stopped)``.

        Raises:
            vision.errors.TrainingCancelled: ``should_stop`` returned True.
        """
        self.progress(fraction, message)
        if self.stopped():
            from vision.errors import TrainingCancelled

            raise TrainingCancelled(stopped)

    def batches(self, lo: float, hi: float, phase: str) -> Callable[[float, int, int], None]:
        """``fit.fit``'s ``on_batch`` for a phase that covers ``lo..hi`` of the call:
        ``"<phase>: epoch E, batch B"`` (1-based)."""
        def on_batch(fraction: float, epoch: int, batch: int) -> None:
            self.progress(lo + (hi - lo) * fraction, f"{phase}: epoch {epoch + 1}, batch {batch + 1}")
        return on_batch

    def epochs(self, phase: str, *, before: dict | None = None, prefix: str = "",
               work_dir: WorkDir | None = None) -> Callable[[int, dict, dict], None]:
        """``fit.fit``'s ``on_epoch`` for a phase: hands ``on_epoch`` the curves so far
        (an earlier phase's, ``before``, then this phase's with ``prefix``), keeps them in
        ``work_dir`` for a resumed call, then reports ``"<phase>: epoch E done, val_accuracy A"``."""
        def on_epoch(epoch: int, metrics: dict, history: dict) -> None:
            shown = {**(before or {}), **{prefix + k: v for k, v in history.items()}}
            if work_dir is not None:
                work_dir.history_save(shown)
            if self.on_epoch:
                self.on_epoch(shown, phase)
            val = metrics.get("val_accuracy")
            self.progress(None, f"{phase}: epoch {epoch + 1} done, val_accuracy "
                                f"{val if val is None else format(val, '.3f')}", force=True)
        return on_epoch


@dataclass(frozen=True)
class WorkDir:
    """A training call's resumable folder.

    ``<path>/<phase>/`` holds each phase's checkpoints (``vision.training.fit``),
    ``<path>/history.json`` the curves so far (written after every epoch, atomically).
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))
        self.path.mkdir(parents=True, exist_ok=True)

    def phase(self, name: str) -> Path:
        """The folder of one phase (``"head"``, ``"fine_tune"``, ``"train"``)."""
        return self.path / name

    def history(self) -> dict:
        """The curves an interrupted call left (empty when it is new)."""
        try:
            return dict(json.loads((self.path / "history.json").read_text()))
        except (OSError, ValueError):
            return {}

    def history_save(self, history: dict) -> None:
        tmp = self.path / f".history.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(history))
        os.replace(tmp, self.path / "history.json")
