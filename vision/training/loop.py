"""The epoch loop of trainers that keep the epoch with the best *validation score* rather
than the lowest validation loss (a detector's mAP, a reader's full-line accuracy): Keras'
``fit`` monitors one logged number, these need a whole-set evaluation after every epoch.

One loop, shared: batches from the caller, ``train_on_batch``, an evaluation per epoch, the
best epoch's weights kept, early stopping after ``patience`` epochs without progress, a
resumable folder (``last`` and ``best`` weights and the curves after every epoch), and
cancelling through ``Callbacks.should_stop`` keeping the best so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vision.training.recipe import Callbacks, WorkDir


@dataclass(frozen=True)
class LoopResult:
    """``history`` (curves, one value per epoch), the 0-based ``best_epoch`` (-1: none finished),
    and whether the loop ``stopped_early`` or was ``cancelled``."""

    history: dict
    best_epoch: int
    stopped_early: bool
    cancelled: bool


def _best_so_far(history: dict, epochs: int, score: Callable[[dict, int], tuple]) -> int:
    """The last of the first ``epochs`` epochs whose score beat every earlier one (-1: none)."""
    last, best = -1, None
    for e in range(epochs):
        if best is None or score(history, e) > best:
            last, best = e, score(history, e)
    return last


def scored_epochs(model, *, epochs: int, steps: int, batch: Callable[[int, int, np.random.Generator], tuple],
                  evaluate: Callable[[], dict], score: Callable[[dict, int], tuple], work_dir: Path,
                  patience: int, seed: int, callbacks: Callbacks, phase: str, span: tuple[float, float] = (0.0, 1.0),
                  history: dict | None = None, prefix: str = "", before: dict | None = None,
                  progress_since: Callable[[dict, int], int] | None = None,
                  done_when: Callable[[dict], bool] | None = None,
                  describe: Callable[[dict], str] | None = None) -> LoopResult:
    """Train ``model`` epoch by epoch, keeping the best-scoring epoch's weights in it.

    Args:
        model: a compiled ``keras.Model``; its ``train_on_batch`` metrics are averaged per epoch.
        epochs: the most epochs (a resumed loop counts those already run); steps: batches per epoch.
        batch: ``(epoch, step, rng) -> (x, y)``; ``rng`` is seeded by ``(seed, epoch)``, so a resumed
            epoch sees the same batches.
        evaluate: after every epoch, ``-> {name: float}`` validation figures (stored as curves).
        score: ``(history, epoch) -> comparable``; higher is better (the kept epoch).
        work_dir: this phase's folder (``last.weights.h5``, ``best.weights.h5``); the curves go to the
            parent :class:`WorkDir`'s ``history.json``.
        patience: epochs without progress before stopping early.
        callbacks: progress, curves and stop polling (``vision.training.recipe``).
        phase: words for the progress message (``"Training the head"``).
        span: the fraction of the whole call this loop covers, for progress.
        history: curves of an interrupted run of this loop (resumed when its weights are there).
        prefix: prepended to this loop's curve names (``"fine_tune_"``); before: an earlier phase's
            curves, handed on with these.
        progress_since: ``(history, epochs) -> last epoch that made progress``; default: the last
            that beat every earlier score.
        done_when: ``(metrics) -> True`` stops at once (nothing better can come, e.g. 100 %).
        describe: ``(metrics) -> words`` for the end-of-epoch message.

    Returns:
        :class:`LoopResult`; ``model`` holds the best epoch's weights.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    store = WorkDir(work_dir.parent)
    last, best_path = work_dir / "last.weights.h5", work_dir / "best.weights.h5"
    history = {k[len(prefix):]: v for k, v in (history or {}).items() if k.startswith(prefix)} if prefix else dict(history or {})
    done = len(history.get("loss", []))
    if done and last.exists() and best_path.exists():
        if model.optimizer is not None and not model.optimizer.built:  # so its saved state loads too
            model.optimizer.build(model.trainable_variables)
        model.load_weights(last)
    else:
        history, done = {}, 0
    since = progress_since or (lambda h, n: _best_so_far(h, n, score))
    best_epoch = max(range(done), key=lambda e: score(history, e)) if done else -1
    cancelled = stopped_early = False
    lo, hi = span
    for epoch in range(done, epochs):
        rng = np.random.default_rng([seed, epoch])
        sums: dict[str, float] = {}
        for step in range(steps):
            x, y = batch(epoch, step, rng)
            model.reset_metrics()
            logs = model.train_on_batch(x, y, return_dict=True)
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            callbacks.progress(lo + (hi - lo) * (epoch + (step + 1) / steps) / epochs,
                               f"{phase}: epoch {epoch + 1}, batch {step + 1} of {steps}")
            if callbacks.stopped():
                cancelled = True
                break
        if cancelled:
            break
        metrics = {k: v / steps for k, v in sums.items()} | evaluate()
        for k, v in metrics.items():
            history.setdefault(k, []).append(float(v))
        model.save_weights(last)
        if best_epoch < 0 or score(history, epoch) > score(history, best_epoch):
            best_epoch = epoch
            model.save_weights(best_path)
        shown = {**(before or {}), **{prefix + k: v for k, v in history.items()}}
        store.history_save(shown)
        if callbacks.on_epoch:
            callbacks.on_epoch(shown, phase)
        callbacks.progress(None, f"{phase}: epoch {epoch + 1} done" + (f", {describe(metrics)}" if describe else ""),
                           force=True)
        if epoch - since(history, epoch + 1) >= patience or (done_when and done_when(metrics)):
            stopped_early = True
            break
    if best_epoch < 0:  # cancelled in the first epoch: what it has, unchecked
        model.save_weights(best_path)
    model.load_weights(best_path)
    return LoopResult(history=history, best_epoch=best_epoch, stopped_early=stopped_early, cancelled=cancelled)
