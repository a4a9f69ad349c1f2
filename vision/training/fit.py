"""Training with progress, early stopping, a best checkpoint, cancellation
and resume (seed section 4: ``EarlyStopping`` and ``ModelCheckpoint``; Keras
``BackupAndRestore`` so a job restarted after its worker died goes on from
its last finished epoch)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class FitResult:
    """What training produced.

    Attributes:
        history: per-epoch lists for ``loss, accuracy, val_loss, val_accuracy``.
        best_epoch: 0-based epoch with the lowest ``val_loss``.
        epochs_run: epochs completed (fewer than asked when stopped early or cancelled).
        stopped_early: early stopping fired (``patience`` epochs without improvement).
        cancelled: ``should_stop`` returned True.
    """

    history: dict = field(default_factory=dict)
    best_epoch: int = 0
    epochs_run: int = 0
    stopped_early: bool = False
    cancelled: bool = False


def _progress_callback(on_batch, on_epoch, should_stop, steps_per_epoch, epochs, history):
    import keras

    class Progress(keras.callbacks.Callback):
        """Reports batch progress and per-epoch metrics; stops on request."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if on_batch:
                on_batch((self.epoch + (batch + 1) / max(1, steps_per_epoch)) / epochs, self.epoch, batch)
            if should_stop and should_stop():
                self.model.stop_training = True
                self.cancelled = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            for k in METRICS:
                seq = history.setdefault(k, [])
                del seq[epoch:]  # a resumed run rewrites the epochs it repeats
                seq.append(float(logs[k]) if k in logs else None)
            if on_epoch:
                on_epoch(epoch, {k: history[k][-1] for k in METRICS}, history)
            if should_stop and should_stop():
                self.model.stop_training = True
                self.cancelled = True

    cb = Progress()
    cb.cancelled = False
    return cb


def fit(model, train_ds, val_ds, *, epochs: int, learning_rate: float = 1e-3, patience: int = 5,
        work_dir: Path, steps_per_epoch: int, on_batch: Callable | None = None, on_epoch: Callable | None = None,
        should_stop: Callable[[], bool] | None = None, history: dict | None = None) -> FitResult:
    """Compile with Adam + sparse categorical cross-entropy and train.

    Args:
        model: outputs ``(b, n_classes)`` probabilities.
        train_ds, val_ds: ``tf.data`` datasets of ``(x, int labels)`` batches.
        epochs: maximum epochs, 1..500.
        learning_rate: Adam's (seed: 1e-3).
        patience: epochs without a lower ``val_loss`` before stopping early.
        work_dir: holds ``best.keras`` (lowest val_loss) and ``backup/``
            (BackupAndRestore state for resuming; removed after a full run).
        steps_per_epoch: batches per epoch, for the progress fraction.
        on_batch: ``(fraction 0..1 of the whole run, epoch, batch)`` after each batch.
        on_epoch: ``(epoch, metrics dict, full history)`` after each epoch.
        should_stop: polled after every batch; True cancels (the model keeps
            the best weights seen so far).
        history: the history of an earlier interrupted run, continued in place.

    Returns:
        ``FitResult``; ``model`` holds the weights of the best epoch.
    """
    import keras

    if not 1 <= epochs <= 500:
        raise ValueError("epochs must be between 1 and 500")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    history = history if history is not None else {}
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    progress = _progress_callback(on_batch, on_epoch, should_stop, steps_per_epoch, epochs, history)
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    best = keras.callbacks.ModelCheckpoint(str(work_dir / "best.keras"), monitor="val_loss", save_best_only=True)
    backup = keras.callbacks.BackupAndRestore(str(work_dir / "backup"), save_freq="epoch", delete_checkpoint=True)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=[backup, progress, early, best], verbose=0)
    val_losses = [v for v in history.get("val_loss", []) if v is not None]
    best_epoch = int(min(range(len(val_losses)), key=val_losses.__getitem__)) if val_losses else 0
    if progress.cancelled and (work_dir / "best.keras").exists():
        model.set_weights(keras.models.load_model(work_dir / "best.keras").get_weights())
    return FitResult(history=history, best_epoch=best_epoch, epochs_run=len(history.get("loss", [])),
                     stopped_early=early.stopped_epoch > 0, cancelled=progress.cancelled)
