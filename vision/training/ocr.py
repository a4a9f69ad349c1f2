"""Training a text-line reader (issue 16; seed section 7): one call,
:func:`ocr_train`, in the shape every trainer shares (``vision.training.recipe``).

Lines in (a photo or its path, and its text), a trained reader out: the
CRNN of ``vision.ocr.model`` with Keras' CTC loss, Adam, the epoch with the
best validation full-line accuracy kept (ties: the lower character error
rate), early stopping on it (a lower training or validation loss counts as
progress while no line is read exactly yet: CTC's first plateau; training also stops
as soon as every validation line is read exactly: no later epoch could be
kept), a resumable work folder, cancel keeping the
best so far, and fine-tuning from an earlier reader (``init``).

Augmentation (training only, seeded): brightness and contrast jitter and a
shift of a few pixels, which move no character out of the line; the
synthetic generator (``vision.ocr.synth``) already varies fonts, colours,
rotation, perspective, blur and noise.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vision.ocr.decode import Reading, read_lines
from vision.ocr.model import LineShape, build_reader, line_input
from vision.ocr.text import DIGITS, PLATE, Alphabet, Rule, edit_distance
from vision.training.loop import scored_epochs
from vision.training.recipe import Callbacks, EpochCallback, ProgressCallback, StopCallback, TrainingResult, WorkDir


@dataclass(frozen=True)
class OcrOptions:
    """How to train a reader; the defaults read card-number lines (``CARD_LINE``).

    Attributes:
        alphabet: the characters it reads (no blank; each once).
        height, width, keep_aspect: its input (``vision.ocr.model.LineShape``).
        max_length: the longest text, 1..(width / 8): CTC needs a column per character and
            one between repeats.
        epochs: 1..500; patience: epochs without a better validation accuracy before stopping.
        keep: "best": the epoch with the best validation full-line accuracy (ties: lower CER),
            stopping early; "last": every epoch run and the last kept, the validation lines only
            drawn as curves (for training on every labelled line, with an epoch count chosen
            on an earlier run that held some out).
        batch_size, learning_rate: Adam's, on batches of this many lines.
        filters, rnn_units: model width (``build_reader``).
        augment: brightness, contrast and shift jitter in training.
        warp: with ``augment``, a geometric jitter too (0..0.3, 0: none): scale
            ``1 - warp`` to ``1 + warp / 2``, rotation up to ``± 30 × warp`` degrees and shear up to
            ``± warp`` (0.1: -10..+5 %, ±3°),
            for real photos whose lines are framed less evenly than generated ones.
        rule: ``vision.ocr.text.Rule`` kind for the readings ("card", "pattern", "none"), and
            ``pattern`` its regular expression.
        seed: shuffling, augmentation and initial weights.

    Raises:
        ValueError: a setting out of range (in words).
    """

    alphabet: str = DIGITS
    height: int = 32
    width: int = 320
    keep_aspect: bool = True
    max_length: int = 16
    epochs: int = 40
    patience: int = 6
    keep: str = "best"
    batch_size: int = 32
    learning_rate: float = 1e-3
    filters: int = 32
    rnn_units: int = 96
    augment: bool = True
    warp: float = 0.0
    rule: str = "card"
    pattern: str = ""
    seed: int = 42

    def __post_init__(self):
        Alphabet(self.alphabet)
        shape = self.shape
        Rule(self.rule, self.pattern)
        checks = [(1 <= self.max_length <= shape.columns // 2,
                   f"The longest text must be 1–{shape.columns // 2} characters for a {self.width} px wide input."),
                  (1 <= self.epochs <= 500 and self.patience >= 1, "Epochs must be 1–500, patience at least 1."),
                  (1 <= self.batch_size <= 512 and self.learning_rate > 0, "Batch size 1–512, learning rate above 0."),
                  (8 <= self.filters <= 256 and 16 <= self.rnn_units <= 512, "Filters 8–256, GRU units 16–512."),
                  (0 <= self.warp <= 0.3, "The geometric jitter (warp) must be 0–0.3."),
                  (self.keep in ("best", "last"), "Keep the 'best' or the 'last' epoch.")]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def shape(self) -> LineShape:
        return LineShape(self.height, self.width, self.keep_aspect)


#: Card-number lines (tight crops of the number), the default.
CARD_LINE = OcrOptions()
#: Whole 512x384 cards read directly, as the seed does (the reader learns where the line is).
CARD_WHOLE = OcrOptions(height=96, width=256, keep_aspect=False)
#: Licence plates, 320x160 crops (``../shared/datasets/text_lines``), A-Z and 0-9, up to 10 characters.
PLATE_LINE = OcrOptions(alphabet=PLATE, height=64, width=128, max_length=10, rule="none", warp=0.1)


@dataclass(frozen=True)
class TextLine:
    """One labelled line.

    Attributes:
        image: its path, or ``(h, w, 3) uint8`` RGB pixels.
        text: its transcription.
        name: shown in messages (default: the path, or the index).
    """

    image: Any
    text: str
    name: str = ""


def _prepare(lines: Sequence[TextLine], options: OcrOptions, side: str) -> tuple[np.ndarray, np.ndarray, list, list]:
    """``(x (n, h, w, 1) uint8, y (n, max_length) int32, texts, skipped [(name, reason)])``."""
    from vision.errors import InvalidImageError
    from vision.images import load_image

    alphabet = Alphabet(options.alphabet)
    xs, ys, texts, skipped = [], [], [], []
    for i, line in enumerate(lines):
        name = line.name or (line.image if isinstance(line.image, str) else f"{side} line {i + 1}")
        try:
            y = alphabet.encode(line.text, options.max_length)
            if not line.text:
                raise ValueError("Its text is empty.")
            pixels = load_image(line.image).pixels if isinstance(line.image, (str, Path)) else line.image
            x = line_input(pixels, options.shape)
        except (InvalidImageError, OSError) as err:
            skipped.append((str(name), getattr(err, "message", None) or f"Could not be read ({err})."))
            continue
        except ValueError as err:
            skipped.append((str(name), str(err)))
            continue
        xs.append(np.clip(x, 0, 255).astype(np.uint8))
        ys.append(y)
        texts.append(line.text)
    shape = (0, options.height, options.width, 1)
    return (np.stack(xs) if xs else np.zeros(shape, np.uint8),
            np.stack(ys) if ys else np.zeros((0, options.max_length), np.int32), texts, skipped)


def _warp(x: np.ndarray, rng, amount: float) -> np.ndarray:
    """A random scale, rotation and shear about each line's centre (``OcrOptions.warp``), the
    uncovered corners filled with the line's border grey: ``(b, h, w, 1) uint8`` in and out."""
    from PIL import Image

    out = np.empty_like(x)
    h, w = x.shape[1:3]
    cx, cy = w / 2, h / 2
    for i, line in enumerate(x[..., 0]):
        scale = rng.uniform(1 - amount, 1 + amount / 2)  # zooming in far would cut off edge characters
        angle = np.deg2rad(rng.uniform(-30, 30) * amount)
        shear = rng.uniform(-amount, amount)
        # PIL maps each output pixel to the input one: the inverse of scale-and-rotate, plus shear
        a, b = np.cos(angle) / scale, np.sin(angle) / scale + shear
        d, e = -np.sin(angle) / scale, np.cos(angle) / scale
        border = int(np.median(np.concatenate([line[0], line[-1], line[:, 0], line[:, -1]])))
        im = Image.fromarray(line).transform((w, h), Image.AFFINE, (a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy),
                                             resample=Image.BILINEAR, fillcolor=border)
        out[i, ..., 0] = np.asarray(im)
    return out


def _augment(x: np.ndarray, rng, warp: float = 0.0) -> np.ndarray:
    """Brightness/contrast jitter and a shift of up to 3 px, per line, after the geometric
    jitter (:func:`_warp`) where ``warp`` > 0: ``(b, h, w, 1) uint8`` -> ``float32``."""
    if warp > 0:
        x = _warp(x, rng, warp)
    x = x.astype(np.float32)
    b = len(x)
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    contrast = rng.uniform(0.6, 1.4, (b, 1, 1, 1))
    x = (x - mean) * contrast + mean + rng.uniform(-40, 40, (b, 1, 1, 1))
    for i in range(b):
        dy, dx = rng.integers(-2, 3), rng.integers(-3, 4)
        x[i] = np.roll(x[i], (dy, dx), axis=(0, 1))
    if rng.random() < 0.3:
        x = 255.0 - x  # light text on dark and dark on light are both common
    return np.clip(x, 0, 255).astype(np.float32)  # the float64 jitter factors would promote it


def evaluate_readings(readings: Sequence[Reading], truths: Sequence[str]) -> dict:
    """Figures of a reader on labelled lines.

    Returns:
        ``{"accuracy"`` (full lines read exactly, 0..1), ``"cer"`` (edits / characters),
        ``"accepted_wrong"`` (share of lines passing the rule yet wrong), ``"flagged"`` (share
        failing the rule), ``"n"``, ``"confusions"``: ``{"truth>read": count}`` of substituted
        characters in lines read at the right length}.
    """
    n = len(truths)
    exact = edits = chars = accepted_wrong = flagged = 0
    confusions: dict[str, int] = {}
    for r, t in zip(readings, truths):
        exact += r.text == t
        edits += edit_distance(r.text, t)
        chars += len(t)
        flagged += bool(r.problem)
        accepted_wrong += (not r.problem) and r.text != t
        if len(r.text) == len(t):
            for a, b in zip(t, r.text):
                if a != b:
                    confusions[f"{a}>{b}"] = confusions.get(f"{a}>{b}", 0) + 1
    return {"accuracy": exact / n if n else 0.0, "cer": edits / chars if chars else 0.0,
            "accepted_wrong": accepted_wrong / n if n else 0.0, "flagged": flagged / n if n else 0.0, "n": n,
            "confusions": dict(sorted(confusions.items(), key=lambda kv: -kv[1]))}


@dataclass(frozen=True, kw_only=True, eq=False)
class TrainedReader(TrainingResult):
    """A trained reader (plus :class:`~vision.training.recipe.TrainingResult`'s fields;
    ``best_epoch`` 0-based, chosen by validation full-line accuracy).

    Attributes:
        model: ``keras.Model`` (``vision.ocr.model.build_reader``).
        options: the options used.
        metrics: :func:`evaluate_readings` of the kept epoch on the validation lines.
        n_train, n_val: lines used; skipped: ``[(name, reason)]`` lines left out (unreadable
            photo, characters outside the alphabet, too long, too wide).
        samples: up to 50 validation ``{"truth", "text", "confidence", "problem"}``, wrong ones first.
    """

    model: Any
    options: OcrOptions
    metrics: dict
    n_train: int
    n_val: int
    skipped: list = field(default_factory=list)
    samples: list = field(default_factory=list)

    def read(self, images: Sequence[np.ndarray], rule: Rule | None = None) -> list[Reading]:
        """``(h, w, 3) uint8`` photos -> readings (``vision.ocr.decode.read_lines``).

        Raises:
            ValueError: a photo too small or too wide for the reader (in words).
        """
        return read_with(self.model, self.options, images, rule)

    def report(self) -> dict:
        """JSON-ready: options, metrics, curves, counts, skipped lines and samples."""
        return {"options": asdict(self.options), "metrics": self.metrics, "history": self.history,
                "best_epoch": self.best_epoch, "epochs_run": self.epochs_run, "stopped_early": self.stopped_early,
                "cancelled": self.cancelled, "n_train": self.n_train, "n_val": self.n_val,
                "skipped": [{"file": n, "reason": r} for n, r in self.skipped], "samples": self.samples,
                "seconds": self.seconds}

    def save(self, folder: str | Path, *, tflite: bool = True) -> Path:
        """Write ``reader.keras`` and ``reader.json`` (its report, with the options that say
        how to feed and decode it) to ``folder`` (created), and with ``tflite`` ``reader.tflite``
        (:func:`export_reader_tflite`); returns the ``.keras`` path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "reader.keras"
        self.model.save(path)
        (folder / "reader.json").write_text(json.dumps(self.report(), default=float))
        if tflite:
            export_reader_tflite(self.model, self.options, folder / "reader.tflite")
        return path


def export_reader_tflite(model, options: OcrOptions, path: str | Path) -> Path:
    """Write a reader as TensorFlow Lite (float32): ``(1, height, width, 1)`` grey 0..255 in,
    ``(1, width / 4, alphabet + 1)`` logits out, one line per call (:func:`read_tflite`).

    The converter lowers Keras 3's GRU loop only with static shapes, so the reader is rebuilt for
    batch 1 with no dropout state (``build_reader(batch_size=1, dropout=0)``) and given the
    trained weights: the same outputs."""
    from vision.training.export import export_tflite

    twin = build_reader(options.shape, Alphabet(options.alphabet).size, filters=options.filters,
                        rnn_units=options.rnn_units, dropout=0.0, batch_size=1)
    twin.set_weights(model.get_weights())
    return export_tflite(twin, Path(path))


def load_reader(path: str | Path) -> tuple[Any, OcrOptions, dict]:
    """A saved reader (:meth:`TrainedReader.save`): ``(model, options, report)``.

    Raises:
        OSError: the files are missing or unreadable.
    """
    import keras

    path = Path(path)
    report = json.loads((path.parent / "reader.json").read_text())
    return keras.models.load_model(path, compile=False), OcrOptions(**report["options"]), report


def read_with(model, options: OcrOptions, images: Sequence[np.ndarray], rule: Rule | None = None,
              *, batch_size: int = 64) -> list[Reading]:
    """Read ``(h, w, 3) uint8`` photos with a reader; ``rule`` defaults to the options' rule.

    Raises:
        ValueError: a photo too small or too wide for the reader (in words).
    """
    def run(x: np.ndarray) -> np.ndarray:
        if len(x) <= batch_size:  # one compiled call: predict()'s per-call setup costs more than the reading,
            return np.asarray(model.predict_on_batch(x))  # and an eager call runs the GRUs step by step
        return model.predict(x, batch_size=batch_size, verbose=0)

    return _read(run, options, images, rule)


def read_tflite(path: str | Path, options: OcrOptions, images: Sequence[np.ndarray], rule: Rule | None = None
                ) -> list[Reading]:
    """:func:`read_with` for a ``reader.tflite`` file (TensorFlow Lite interpreter, one line per call).

    Raises:
        ValueError: a photo too small or too wide for the reader (in words).
        OSError: the file is missing.
    """
    import tensorflow as tf

    if not Path(path).is_file():
        raise OSError(f"No TFLite reader at {path}.")
    interp = tf.lite.Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]

    def run(x: np.ndarray) -> np.ndarray:
        logits = []
        for line in x:
            interp.set_tensor(inp, line[None])
            interp.invoke()
            logits.append(interp.get_tensor(out)[0])
        return np.stack(logits)

    return _read(run, options, images, rule)


def _read(run, options: OcrOptions, images: Sequence[np.ndarray], rule: Rule | None) -> list[Reading]:
    """Prepare the lines, ``run`` them (``(n, h, w, 1) float32`` -> ``(n, T, C)`` logits), decode."""
    if not len(images):
        return []
    x = np.stack([line_input(im, options.shape) for im in images])
    return read_lines(run(x), Alphabet(options.alphabet), rule or Rule(options.rule, options.pattern))


def ocr_train(train: Sequence[TextLine], validation: Sequence[TextLine], *, options: OcrOptions = CARD_LINE,
              work_dir: str | Path, init=None, on_progress: ProgressCallback | None = None,
              on_epoch: EpochCallback | None = None, should_stop: StopCallback | None = None,
              history: dict | None = None) -> TrainedReader:
    """Train a reader (module docstring).

    Args:
        train, validation: labelled lines; lines that cannot be used are left out and listed
            in ``result.skipped``.
        options: :class:`OcrOptions` (``CARD_LINE``, ``CARD_WHOLE``, ``PLATE_LINE`` presets).
        work_dir: resumable folder: last and best weights and the curves after every epoch.
        init: a trained reader's model to fine-tune (same alphabet and input), else a new one.
        on_progress, on_epoch, should_stop, history: see ``vision.training.recipe``.

    Returns:
        :class:`TrainedReader` holding the best epoch's weights.

    Raises:
        ValueError: no usable line on a side, or ``init`` with another input or alphabet (in words).
    """
    import keras

    t0 = time.perf_counter()
    cb = Callbacks(on_progress, on_epoch, should_stop)
    wd = WorkDir(work_dir)
    alphabet = Alphabet(options.alphabet)
    xt, yt, _, skipped = _prepare(train, options, "training")
    cb.progress(0.02, f"Prepared {len(xt)} training lines")
    xv, yv, tv, skipped_v = _prepare(validation, options, "validation")
    skipped += skipped_v
    for x, side in ((xt, "training"), (xv, "validation")):
        if not len(x):
            reasons = "; ".join(f"{n}: {r}" for n, r in skipped[:3])
            raise ValueError(f"No usable {side} line{f' ({reasons})' if reasons else ''}.")
    keras.utils.set_random_seed(options.seed)
    if init is not None:
        if tuple(init.input_shape[1:3]) != (options.height, options.width) or init.output_shape[-1] != alphabet.size:
            raise ValueError("The reader to fine-tune takes another input size or alphabet: train a new one.")
        model = keras.models.clone_model(init)
        model.set_weights(init.get_weights())
    else:
        model = build_reader(options.shape, alphabet.size, filters=options.filters, rnn_units=options.rnn_units)
    model.compile(optimizer=keras.optimizers.Adam(options.learning_rate), loss=keras.losses.CTC())
    steps = max(1, int(np.ceil(len(xt) / options.batch_size)))
    rule = Rule(options.rule, options.pattern)

    last = options.keep == "last"

    def score(h: dict, e: int) -> tuple[float, ...]:
        return (e,) if last else (h["val_accuracy"][e], -h["val_cer"][e])

    def batch(epoch: int, step: int, rng):
        if step == 0:
            batch.order = rng.permutation(len(xt))
        rows = batch.order[step * options.batch_size:(step + 1) * options.batch_size]
        return (_augment(xt[rows], rng, options.warp) if options.augment else xt[rows].astype(np.float32)), yt[rows]

    def evaluate() -> dict:
        logits = model.predict(xv.astype(np.float32), batch_size=128, verbose=0)
        m = evaluate_readings(read_lines(logits, alphabet, rule, beam_width=0), tv)
        return {"val_loss": float(np.mean(keras.losses.CTC()(yv, logits))), "val_accuracy": m["accuracy"],
                "val_cer": m["cer"]}

    run = scored_epochs(model, epochs=options.epochs, steps=steps, batch=batch, evaluate=evaluate, score=score,
                        work_dir=wd.phase("train"), patience=options.epochs if last else options.patience,
                        seed=options.seed,
                        callbacks=cb, phase="Training the reader", span=(0.05, 1.0),
                        history=dict(history or wd.history() or {}),
                        progress_since=lambda h, n: _last_progress(h, n, lambda e: score(h, e)),
                        done_when=None if last else lambda m: m["val_accuracy"] == 1.0,  # none better can come
                        describe=lambda m: f"validation accuracy {m['val_accuracy']:.1%}, CER {m['val_cer']:.2%}")
    history, best_epoch, cancelled, stopped_early = run.history, run.best_epoch, run.cancelled, run.stopped_early
    readings = read_lines(model.predict(xv.astype(np.float32), batch_size=128, verbose=0), alphabet, rule)
    metrics = evaluate_readings(readings, tv)
    samples = sorted(({"truth": t, "text": r.text, "confidence": round(r.confidence, 3), "problem": r.problem,
                       "suggestion": r.suggestion} for r, t in zip(readings, tv)), key=lambda s: s["truth"] == s["text"])
    return TrainedReader(history=history, best_epoch=max(best_epoch, 0), epochs_run=len(history.get("loss", [])),
                         stopped_early=stopped_early, cancelled=cancelled, seconds=time.perf_counter() - t0,
                         model=model, options=options, metrics=metrics, n_train=len(xt), n_val=len(xv),
                         skipped=skipped, samples=samples[:50])


def _last_progress(history: dict, epochs: int, score) -> int:
    """The last of the first ``epochs`` epochs that made progress: a better validation score,
    or, while no line is read exactly yet, a lower training or validation loss. A CTC reader
    reads nothing for its first epochs (often more on a small set), and its validation loss
    can even rise then (confident wrong columns) while the training loss falls; early stopping
    must not end it on that plateau. -1 before any epoch."""
    last, best = -1, None
    low = {"loss": float("inf"), "val_loss": float("inf")}
    for e in range(epochs):
        nothing_read = history["val_accuracy"][e] == 0 and (best is None or best[0] == 0)
        lower = any(history[k][e] < low[k] for k in low)
        if best is None or score(e) > best or (nothing_read and lower):
            last = e
        best = score(e) if best is None else max(best, score(e))
        low = {k: min(v, history[k][e]) for k, v in low.items()}
    return last
