"""Training an object detector (issue 15; seed section 5): one call, :func:`detector_train`,
in the shape every trainer shares (``vision.training.recipe``).

Photos with boxes in, a trained detector out: the FCOS-style network of
``vision.detection.model`` on an EfficientNet-Lite backbone pretrained on ImageNet (no
package here ships COCO detector weights). Two phases, as the seed's transfer learning:

1. **Head** on a frozen backbone. The backbone's three maps are computed once per training
   view and kept in memory: the photo, its mirror image and ``views - 2`` seeded augmented
   views (``vision.detection.augment``: crop or zoom-out, flip, colour jitter, boxes moved
   with the pixels). The head then trains in seconds per epoch on a CPU.
2. **Fine-tuning** (``fine_tune_epochs`` > 0): the backbone's last stage unfrozen (batch
   normalisation stays frozen: batches are small) and the whole network trained at a low
   learning rate on fresh augmented views every epoch (a backbone pass per photo per step:
   minutes on a CPU).

Every epoch ends with the validation mAP@0.5 (``vision.detection_eval``, the product's one AP
code); each phase keeps its best epoch by it (ties: the lower validation loss), stops early
after ``patience`` epochs without a better one, resumes from its work folder and keeps the
best so far when cancelled (``vision.training.loop``).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vision import registry
from vision.detection import augment
from vision.detection.decode import SCORE_THRESHOLD, Box, decode
from vision.detection.losses import box_loss, class_loss, detection_loss
from vision.detection.model import FPN_CHANNELS, INPUT_SIZES, block_strides, build_detector, parts
from vision.detection.targets import encode
from vision.detection_eval import CocoAP, Detection, DetectionEvaluation, GroundTruth, coco_ap, detection_evaluate
from vision.training.loop import scored_epochs
from vision.training.recipe import Callbacks, EpochCallback, ProgressCallback, StopCallback, TrainingResult, WorkDir

PREPROCESSING = ("RGB, EXIF orientation applied, resized bilinearly to input_size x input_size without keeping "
                 "the aspect ratio, float32 pixel values 0..255 (the model normalises internally); output "
                 "(N, C + 5) per photo: C class logits, l t r b distances in strides, a centre-ness logit "
                 "(vision.detection.model, vision.detection.decode)")

CURVE_POINTS = 200
"""Most points of a precision/recall curve kept in a report (evenly spaced by rank)."""

MAX_VIEW_BYTES = 3 * 2 ** 30
"""Memory the head phase's cached backbone maps may take (float16): beyond it fewer views per
photo are kept (at least 2: the photo and its mirror), with a warning. At 320 px a view is
about 0.28 MB, so 8 views of about 1,400 photos fit."""

MIN_BOXES = 15
"""Fewer training boxes than this in a class earns a warning: below it a detector rarely
finds the class at all (the raccoon set's 120 boxes reach mAP@0.5 ≈ 0.9; about 50 per class
is where results become useful)."""


@dataclass(frozen=True, kw_only=True)
class DetectorOptions:
    """How to train a detector; the defaults are the product's.

    Attributes:
        backbone: registry name of an EfficientNet-Lite backbone (``efficientnet_lite0`` default:
            fastest; ``lite1``/``lite2`` cost 1.4×/2× per photo).
        input_size: square input side in pixels, one of ``model.INPUT_SIZES`` (320 default; 416 or
            512 find smaller objects at 1.7×/2.6× the cost).
        views: cached training views per photo for the head phase, 2..16 (the photo, its mirror,
            and ``views - 2`` augmented ones).
        epochs: head epochs, 1..300; fine_tune_epochs: 0..100 (0: head only).
        batch_size: photos per step, 1..64.
        learning_rate: Adam's for the head; fine_tune_learning_rate: for fine-tuning (10× lower
            is usual).
        patience: epochs without a better validation mAP before a phase stops, 1..100.

    ``epochs`` 30 with ``patience`` 15 were chosen on the raccoon set's tuning split (seed 0):
    60 with patience 10 stopped after 14 epochs, before the cosine schedule had lowered the
    learning rate (kept epoch 0.944, last 0.840 on split seed 1); 30/15 runs the schedule out
    and its last epochs agree (0.882–0.887 over the last six, kept 0.907, 9.1 min on 2 cores).
        channels: pyramid and head width (``model.FPN_CHANNELS``).
        seed: views, shuffling and initial weights.

    Raises:
        ValueError: a setting out of range (in words).
    """

    backbone: str = "efficientnet_lite0"
    input_size: int = 320
    views: int = 8
    epochs: int = 30
    fine_tune_epochs: int = 0
    batch_size: int = 8
    learning_rate: float = 1e-3
    fine_tune_learning_rate: float = 1e-4
    patience: int = 15
    channels: int = FPN_CHANNELS
    seed: int = 0

    def __post_init__(self):
        checks = [
            (self.input_size in INPUT_SIZES, f"input size must be one of {', '.join(map(str, INPUT_SIZES))} pixels"),
            (2 <= self.views <= 16, "views must be 2..16"),
            (1 <= self.epochs <= 300, "epochs must be 1..300"),
            (0 <= self.fine_tune_epochs <= 100, "fine-tuning epochs must be 0..100"),
            (1 <= self.batch_size <= 64, "batch size must be 1..64"),
            (0 < self.learning_rate < 1 and 0 < self.fine_tune_learning_rate < 1, "learning rates must be in (0, 1)"),
            (1 <= self.patience <= 100, "patience must be 1..100"),
            (8 <= self.channels <= 256, "channels must be 8..256"),
        ]
        for ok, words in checks:
            if not ok:
                raise ValueError(words[0].upper() + words[1:] + ".")


@dataclass(frozen=True)
class BoxedPhoto:
    """One annotated photo.

    Attributes:
        path: the image file (any format ``vision.images.load_image`` reads).
        boxes: pixel ``(xmin, ymin, xmax, ymax)`` on the photo as stored (EXIF rotation applied
            by the loader, as the annotation screen shows it); may be empty ("no objects").
        labels: class index per box, into the call's ``class_names``.
        name: shown in reports (defaults to the file name).
    """

    path: str
    boxes: tuple = ()
    labels: tuple = ()
    name: str = ""


@dataclass(frozen=True)
class _Photo:
    name: str
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray


def _load(photos: Sequence[BoxedPhoto], num_classes: int, side: str) -> tuple[list[_Photo], list[tuple[str, str]]]:
    from vision.errors import InvalidImageError
    from vision.images import load_image

    ok, skipped = [], []
    for p in photos:
        name = p.name or Path(p.path).name
        try:
            image = load_image(p.path).pixels
        except (InvalidImageError, OSError) as exc:
            skipped.append((name, f"{side} photo unreadable: {exc}"))
            continue
        boxes = np.asarray(p.boxes, np.float32).reshape(-1, 4)
        labels = np.asarray(p.labels, np.int64).reshape(-1)
        if len(labels) != len(boxes) or (len(labels) and (labels.min() < 0 or labels.max() >= num_classes)):
            skipped.append((name, "boxes and labels do not match the classes"))
            continue
        h, w = image.shape[:2]
        boxes = np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)
        keep = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        ok.append(_Photo(name, image, boxes[keep], labels[keep]))
    return ok, skipped


@dataclass(frozen=True, kw_only=True)
class TrainedDetector(TrainingResult):
    """What :func:`detector_train` returns (``TrainingResult`` fields plus):

    Attributes:
        model: the detector ``keras.Model`` (``(b, S, S, 3) float32`` 0..255 →
            ``(b, N, C + 5)``), best epoch's weights.
        class_names: class index → name.
        options: the :class:`DetectorOptions` used.
        evaluation: validation AP per class and mAP@0.5 (``vision.detection_eval``, VOC rules),
            with each class's precision/recall curve.
        coco: COCO AP@[.5:.95], AP@0.5 and AP@0.75 on the same photos.
        thresholds: class name → score threshold with the best F1 on validation (the default
            threshold when the detector is used; ``decode.SCORE_THRESHOLD`` where none was found).
        samples: validation photos with their true and found boxes (for a picture grid):
            ``{"name", "width", "height", "truth": [[x0,y0,x1,y1,label]], "found": [[x0,y0,x1,y1,label,score]]}``.
        n_train, n_val: photos used; n_boxes: training boxes per class name.
        warnings: sentences (a class with few boxes); skipped: ``(name, reason)`` of photos left out.
        fine_tuned: fine-tuning ran and improved on the head's validation mAP (else its weights were dropped).
        ms_per_photo: median validation inference time per photo at batch 1, network only.
    """

    model: Any = None
    class_names: tuple = ()
    options: DetectorOptions = field(default_factory=DetectorOptions)
    evaluation: DetectionEvaluation | None = None
    coco: CocoAP | None = None
    thresholds: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)
    n_train: int = 0
    n_val: int = 0
    n_boxes: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    fine_tuned: bool = False

    @property
    def mean_ap(self) -> float:
        """Validation mAP@0.5 (nan without validation boxes)."""
        return self.evaluation.mean_ap if self.evaluation else float("nan")

    def report(self) -> dict:
        """JSON-able summary: options, classes, mAP@0.5 and COCO AP, per class AP, counts, the
        precision/recall curve (at most :data:`CURVE_POINTS` points) and best F1; thresholds,
        counts, history."""
        ev = self.evaluation

        def num(v):
            return None if v is None or np.isnan(v) else float(v)

        def curve(c):
            keep = np.unique(np.linspace(0, len(c.recall) - 1, min(len(c.recall), CURVE_POINTS)).astype(int)) if c.recall else []
            return {"recall": [round(c.recall[i], 4) for i in keep], "precision": [round(c.precision[i], 4) for i in keep],
                    "scores": [round(c.scores[i], 4) for i in keep]}

        return {"options": asdict(self.options), "class_names": list(self.class_names),
                "mean_ap": num(ev.mean_ap if ev else None),
                "coco_ap": num(self.coco.ap if self.coco else None), "ap75": num(self.coco.ap75 if self.coco else None),
                "per_class": [{"label": c.label, "ap": c.ap, "n_ground_truth": c.n_ground_truth,
                               "n_detections": c.n_detections, "n_true_positives": c.n_true_positives,
                               "best_f1": c.best_f1, "curve": curve(c)}
                              for c in (ev.per_class if ev else ())],
                "samples": self.samples,
                "thresholds": self.thresholds, "n_train": self.n_train, "n_val": self.n_val,
                "n_boxes": self.n_boxes, "warnings": self.warnings, "skipped": self.skipped,
                "fine_tuned": self.fine_tuned, "best_epoch": self.best_epoch, "history": self.history,
                "seconds": self.seconds}

    def save(self, folder: str | Path, *, tflite: bool = True) -> Path:
        """Write ``detector.keras`` (the network: resizing to ``S`` and 0..255 pixels are the
        caller's, ImageNet normalisation is inside), ``detector.json`` (:meth:`report`: label
        map, input size, preprocessing, thresholds) and, with ``tflite``, ``detector.tflite``
        (float32, same input and output; ``detect_tflite`` runs it). Returns the ``.keras`` path."""
        from vision.training.export import export_tflite

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "detector.keras"
        self.model.save(path)
        (folder / "detector.json").write_text(json.dumps({**self.report(), "preprocessing": PREPROCESSING},
                                                         indent=1, default=float))
        if tflite:
            export_tflite(self.model, folder / "detector.tflite")
        return path


def load_detector(path: str | Path) -> tuple[Any, DetectorOptions, dict]:
    """``(model, options, report)`` from a saved ``detector.keras`` (its ``detector.json`` beside it).

    Raises:
        FileNotFoundError: either file missing; ValueError: a file that is not a detector.
    """
    import keras

    path = Path(path)
    report = json.loads(path.with_suffix(".json").read_text())
    return keras.models.load_model(path, compile=False), DetectorOptions(**report["options"]), report


def detect_with(model, input_size: int, num_classes: int, images: Sequence[np.ndarray], *,
                score_threshold: float = SCORE_THRESHOLD) -> list[list[Box]]:
    """Run a detector on photos.

    Args:
        model: a detector ``keras.Model``; input_size: its side; num_classes: C.
        images: ``(h, w, 3) uint8 RGB`` photos, any size.
        score_threshold: lowest score kept, 0..1.

    Returns:
        Per photo, :class:`~vision.detection.decode.Box` list in that photo's pixels, best first.
    """
    return _detect(lambda x: model.predict_on_batch(x), input_size, num_classes, images, score_threshold)


def detect_tflite(path: str | Path, input_size: int, num_classes: int, images: Sequence[np.ndarray], *,
                  score_threshold: float = SCORE_THRESHOLD) -> list[list[Box]]:
    """:func:`detect_with` for a ``detector.tflite`` file (TensorFlow Lite interpreter)."""
    from vision.training.export import predict_tflite

    return _detect(lambda x: predict_tflite(Path(path), x), input_size, num_classes, images, score_threshold)


def _detect(run, input_size: int, num_classes: int, images: Sequence[np.ndarray], score_threshold: float):
    """Resize the photos, ``run`` the network on the batch, decode each photo's boxes."""
    if not len(images):
        return []
    out = np.asarray(run(np.stack([augment.to_input(im, input_size) for im in images])), np.float32)
    return [decode(o, num_classes, input_size, width=im.shape[1], height=im.shape[0], score_threshold=score_threshold)
            for o, im in zip(out, images)]


def _evaluate(outputs: np.ndarray, photos: Sequence[_Photo], class_names: Sequence[str], side: int):
    found = [decode(o, len(class_names), side, width=p.image.shape[1], height=p.image.shape[0])
             for o, p in zip(outputs, photos)]
    return detection_evaluate(*_truth_and_found(found, photos, class_names)), found


def _truth_and_found(found, photos, class_names):
    gt = [GroundTruth(i, tuple(b), class_names[c]) for i, p in enumerate(photos) for b, c in zip(p.boxes, p.labels)]
    dets = [Detection(i, b.box, class_names[b.label], b.score) for i, f in enumerate(found) for b in f]
    return gt, dets


def detector_train(train: Sequence[BoxedPhoto], validation: Sequence[BoxedPhoto], *, class_names: Sequence[str],
                   options: DetectorOptions = DetectorOptions(), work_dir: str | Path,
                   on_progress: ProgressCallback | None = None, on_epoch: EpochCallback | None = None,
                   should_stop: StopCallback | None = None, history: dict | None = None) -> TrainedDetector:
    """Train a detector (module docstring).

    Args:
        train, validation: annotated photos; unreadable ones are left out and listed in
            ``result.skipped``. Photos with no boxes teach "nothing here".
        class_names: index → name (the label map), 1.. classes.
        options: :class:`DetectorOptions`.
        work_dir: resumable folder (each phase's last and best weights, the curves).
        on_progress, on_epoch, should_stop, history: see ``vision.training.recipe``.

    Returns:
        :class:`TrainedDetector` with the best epoch's weights.

    Raises:
        ValueError: no class, no usable training or validation photo, or no training box (in words).
        vision.errors.WeightsMissingError: the backbone's weights are not installed.
    """
    import keras

    t0 = time.perf_counter()
    cb = Callbacks(on_progress, on_epoch, should_stop)
    wd = WorkDir(work_dir)
    names = tuple(class_names)
    n_cls, side = len(names), options.input_size
    if not n_cls:
        raise ValueError("A detector needs at least one class.")
    tr, skipped = _load(train, n_cls, "training")
    va, skipped_v = _load(validation, n_cls, "validation")
    skipped += skipped_v
    if not tr or not va:
        raise ValueError(f"No usable {'training' if not tr else 'validation'} photo"
                         + (f" ({'; '.join(f'{n}: {r}' for n, r in skipped[:3])})." if skipped else "."))
    n_boxes = {n: int(sum((p.labels == i).sum() for p in tr)) for i, n in enumerate(names)}
    if not sum(n_boxes.values()):
        raise ValueError("The training photos hold no box: draw some boxes first.")
    warnings = [f"Class \u201c{n}\u201d has only {k} training box{'es' if k != 1 else ''}: a useful detector needs "
                f"at least {MIN_BOXES}, about 50 for good results." for n, k in n_boxes.items() if k < MIN_BOXES]
    keras.utils.set_random_seed(options.seed)
    backbone = registry.load(options.backbone)
    model = build_detector(backbone.model, n_cls, side, channels=options.channels)
    maps_model, head = parts(model)
    cb.progress(0.01, f"Loaded {len(tr)} training and {len(va)} validation photos")

    # Phase 1 inputs: backbone maps of every training view, computed once.
    per_view = sum(int(np.prod(t.shape[1:])) for t in maps_model.outputs) * 2  # float16 bytes
    views = int(min(options.views, max(2, MAX_VIEW_BYTES // max(1, len(tr) * per_view))))
    if views < options.views:
        warnings.append(f"{views} views per photo were kept instead of {options.views}, so that the backbone maps "
                        f"of {len(tr)} training photos fit in {MAX_VIEW_BYTES / 2 ** 30:.0f} GiB of memory.")
    total = len(tr) * views
    xs = [np.empty((total, *t.shape[1:]), np.float16) for t in maps_model.outputs]  # filled in place: no 2x peak
    views_y = []
    for i, p in enumerate(tr):
        batch_px, batch_t = [], []
        for v in range(views):
            if v < 2:
                image, boxes = (p.image, p.boxes) if v == 0 else augment.flipped(p.image, p.boxes)
                px, b = augment.to_input(image, side), augment.resize_boxes(
                    boxes, width=image.shape[1], height=image.shape[0], side=side)
                lab = p.labels
            else:
                px, b, lab = augment.augmented(p.image, p.boxes, p.labels, side, np.random.default_rng([options.seed, i, v]))
            batch_px.append(px)
            batch_t.append(encode(b, lab, n_cls, side))
        for x, m in zip(xs, maps_model.predict_on_batch(np.stack(batch_px))):
            x[i * views:(i + 1) * views] = np.asarray(m, np.float16)
        views_y += batch_t
        cb.progress_or_stop(0.01 + 0.14 * (i + 1) / len(tr), f"Backbone maps of the training views: "
                            f"{(i + 1) * views} of {total}", "Cancelled while computing the training views.")
    ys = np.stack(views_y)
    del views_y
    val_px = np.stack([augment.to_input(p.image, side) for p in va])
    val_maps = [np.asarray(m, np.float32) for m in maps_model.predict(val_px, batch_size=16, verbose=0)]
    val_y = np.stack([encode(augment.resize_boxes(p.boxes, width=p.image.shape[1], height=p.image.shape[0], side=side),
                             p.labels, n_cls, side) for p in va])
    total_loss = detection_loss(n_cls)

    def evaluate_with(predict):
        def evaluate():
            out = predict()
            ev = _evaluate(out, va, names, side)[0]
            return {"val_loss": float(total_loss(val_y, out)), "val_map": 0.0 if np.isnan(ev.mean_ap) else ev.mean_ap}
        return evaluate

    def score(h, e):
        return h["val_map"][e], -h["val_loss"][e]

    def describe(m):
        return f"validation mAP@0.5 {m['val_map']:.3f}"

    metrics = [class_loss(n_cls), box_loss(n_cls)]
    # compile a wrapper sharing the weights: a compiled nested model would save its loss
    # functions' names into detector.keras, and loading would need them registered
    head_trainer = _trainer(head)
    order_n = len(ys)
    steps = max(1, int(np.ceil(order_n / options.batch_size)))
    head_trainer.compile(optimizer=keras.optimizers.Adam(_cosine(options.learning_rate, options.epochs * steps)),
                         loss=total_loss, metrics=metrics)

    def head_batch(epoch, step, rng):
        if step == 0:
            head_batch.order = rng.permutation(order_n)
        rows = head_batch.order[step * options.batch_size:(step + 1) * options.batch_size]
        return [x[rows].astype(np.float32) for x in xs], ys[rows]

    ft_share = 0.0 if not options.fine_tune_epochs else 0.5
    prior = dict(history or wd.history() or {})
    head_run = scored_epochs(
        head_trainer, epochs=options.epochs, steps=steps, batch=head_batch,
        evaluate=evaluate_with(lambda: np.asarray(head.predict(val_maps, batch_size=32, verbose=0), np.float32)),
        score=score, work_dir=wd.phase("head"), patience=options.patience, seed=options.seed, callbacks=cb,
        phase="Training the head", span=(0.15, 1.0 - 0.85 * ft_share - 0.03), history=prior, describe=describe,
        done_when=lambda m: m["val_map"] >= 1.0)
    hist, best_epoch, cancelled, stopped_early = head_run.history, head_run.best_epoch, head_run.cancelled, head_run.stopped_early
    fine_tuned = False
    if options.fine_tune_epochs and not cancelled:
        head_best = max(hist["val_map"]) if hist.get("val_map") else 0.0
        inner = maps_model.get_layer("efficientnet_maps")
        maps_model.trainable = True
        last_stage = _last_stage_layers(inner)
        for layer in inner.layers:
            layer.trainable = layer.name in last_stage and not isinstance(layer, keras.layers.BatchNormalization)
        ft_trainer = _trainer(model)
        ft_steps = max(1, int(np.ceil(len(tr) / options.batch_size)))
        ft_trainer.compile(optimizer=keras.optimizers.Adam(_cosine(options.fine_tune_learning_rate,
                                                                   options.fine_tune_epochs * ft_steps)),
                           loss=total_loss, metrics=metrics)

        def ft_batch(epoch, step, rng):
            if step == 0:
                ft_batch.order = rng.permutation(len(tr))
            x, y = [], []
            for j in ft_batch.order[step * options.batch_size:(step + 1) * options.batch_size]:
                p = tr[j]
                px, b, lab = augment.augmented(p.image, p.boxes, p.labels, side, rng)
                x.append(px)
                y.append(encode(b, lab, n_cls, side))
            return np.stack(x), np.stack(y)

        ft = scored_epochs(
            ft_trainer, epochs=options.fine_tune_epochs, steps=ft_steps, batch=ft_batch,
            evaluate=evaluate_with(lambda: np.asarray(model.predict(val_px, batch_size=16, verbose=0), np.float32)),
            score=score, work_dir=wd.phase("fine_tune"), patience=options.patience, seed=options.seed + 1,
            callbacks=cb, phase="Fine-tuning the backbone", span=(0.5, 0.97), history=prior, prefix="fine_tune_",
            before=hist, describe=describe, done_when=lambda m: m["val_map"] >= 1.0)
        hist = {**hist, **{"fine_tune_" + k: v for k, v in ft.history.items()}}
        cancelled = ft.cancelled
        if ft.best_epoch >= 0 and ft.history["val_map"][ft.best_epoch] > head_best:
            fine_tuned = True
        else:  # fine-tuning did not beat the head: back to the head's best weights, backbone untouched
            model = build_detector(backbone.model, n_cls, side, channels=options.channels)
            _trainer(parts(model)[1]).load_weights(wd.phase("head") / "best.weights.h5")
    cb.progress(0.97, "Scoring the validation photos")
    out = np.asarray(model.predict(val_px, batch_size=16, verbose=0), np.float32)
    ev, found = _evaluate(out, va, names, side)
    coco = coco_ap(*_truth_and_found(found, va, names))
    per_class = {c.label: c for c in ev.per_class}
    thresholds = {n: float(per_class[n].best_f1_threshold) if n in per_class and per_class[n].best_f1_threshold is not None
                  else SCORE_THRESHOLD for n in names}
    samples = [{"name": p.name, "width": int(p.image.shape[1]), "height": int(p.image.shape[0]),
                "truth": [[*map(float, b), names[c]] for b, c in zip(p.boxes, p.labels)],
                "found": [[*b.box, names[b.label], b.score] for b in f if b.score >= thresholds[names[b.label]]]}
               for p, f in zip(va, found)]
    return TrainedDetector(history=hist, best_epoch=max(best_epoch, 0), epochs_run=len(hist.get("loss", [])),
                           stopped_early=stopped_early, cancelled=cancelled, seconds=time.perf_counter() - t0,
                           model=model, class_names=names, options=options, evaluation=ev, coco=coco, thresholds=thresholds,
                           samples=samples, n_train=len(tr), n_val=len(va), n_boxes=n_boxes, warnings=warnings,
                           skipped=skipped, fine_tuned=fine_tuned)


def _cosine(rate: float, steps: int):
    """The learning rate falling from ``rate`` to 5 % of it along a half cosine over ``steps``
    (Loshchilov & Hutter 2017, SGDR, without restarts): the last epochs settle instead of
    jumping between minima, so the kept epoch depends less on validation noise."""
    import keras

    return keras.optimizers.schedules.CosineDecay(rate, decay_steps=max(1, steps), alpha=0.05)


def _trainer(model):
    """A model calling ``model``: compiled for training in its place, same weights."""
    import keras

    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, model(inputs), name=f"{model.name}_trainer")


def _last_stage_layers(inner) -> set[str]:
    """Layer names of the blocks at the backbone's coarsest stride (32: its last stages)."""
    blocks = [f"block{n}_" for n, stride in block_strides(inner) if stride == 32]
    return {layer.name for layer in inner.layers if layer.name.startswith(tuple(blocks))}
