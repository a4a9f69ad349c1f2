"""What training costs per photo on this machine: the figures behind the
Train page's estimate (``vision.training.estimate.COSTS``).

Runs the product's own call, ``vision.training.classifier.classifier_train``
(the job's options otherwise), on a few photos of ``../shared/datasets/categories``
with an empty feature cache, and times its phases from its progress
messages: computing the backbone features (cold cache: decode, resize,
forward pass, cache write), training the head, fine-tuning the top blocks,
then predicting and nothing else (saving is not timed). Each configuration
runs twice, on 32 and 96 photos (whole batches of 32, so both trace the same
graphs), each with an empty cache: the difference gives the per-photo costs,
what is left the fixed cost of a run (extractor built, graphs traced; the
weights loaded too where a backbone's first run is). The second run's model
is also saved (``TrainedClassifier.save``: ``.keras``, TFLite, pictures).

Run: ``.venv/bin/python bench/train_costs.py [--photos 32 96] [--backbones efficientnet_lite0 ...]
[--sizes 224 448] [--fine-tune-backbones efficientnet_lite2] [--scratch]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "datasets" / "categories"


def photos(n: int, offset: int):
    """``n`` photos of four classes (train 70 % / validation 30 %), as ``Example`` lists."""
    from vision.training.classifier import Example

    classes = sorted(d.name for d in SHARED.iterdir() if d.is_dir())[:4]
    per = -(-n // len(classes))
    ex = [Example(str(p), i) for i, c in enumerate(classes)
          for p in sorted((SHARED / c).glob("*.jpg"))[offset:offset + per]]
    ex = ex[:n]
    val = ex[::3]
    return [e for e in ex if e not in val], val, classes


def timed_run(options, n: int, offset: int, cache: Path, work: Path, save_to: Path | None = None) -> dict:
    """Seconds per phase of one ``classifier_train`` call (the phase taken from the progress message)."""
    from vision.training.classifier import classifier_train

    train, val, classes = photos(n, offset)
    marks: dict[str, float] = {}
    t0 = time.perf_counter()

    def on_progress(fraction, message, *, force=False):
        phase = ("features" if message.startswith("Computing") else "head" if message.startswith("Training the head")
                 else "fine_tune" if message.startswith("Fine-tuning") else "train")
        marks.setdefault(phase, time.perf_counter())
        marks[f"{phase}_end"] = time.perf_counter()

    result = classifier_train(train, val, class_names=classes, options=options, work_dir=work, cache_dir=cache,
                              on_progress=on_progress)
    end = time.perf_counter()
    if save_to is not None:
        t = time.perf_counter()
        result.save(save_to)
        saved = time.perf_counter() - t
    out = {"n": n, "n_train": len(train), "total": end - t0, "head_epochs": result.epochs_run,
           "fine_tune_epochs": result.fine_tune_epochs_run}
    order = [p for p in ("features", "head", "fine_tune", "train") if p in marks]
    for i, p in enumerate(order):
        stop = marks[order[i + 1]] if i + 1 < len(order) else marks[f"{p}_end"]
        out[p] = stop - (t0 if i == 0 else marks[p])
    if save_to is not None:
        out["save"] = saved
    return out


def _config_costs(opts, n1: int, n2: int) -> dict:
    """Two runs, ``n1`` then ``n2`` photos (multiples of the batch of 32, so both trace the same
    graphs), each with an empty cache: the difference gives the per-photo costs, the rest is fixed."""
    with tempfile.TemporaryDirectory() as tmp:
        a = timed_run(opts, n1, 0, Path(tmp) / "cache-a", Path(tmp) / "w1")
        b = timed_run(opts, n2, 0, Path(tmp) / "cache-b", Path(tmp) / "w2", save_to=Path(tmp) / "saved")
    phase = "train" if opts.model_kind == "scratch" else "features"
    per_photo = (b[phase] - a[phase]) / (n2 - n1)
    out = {"per_photo": per_photo, "fixed": a[phase] - per_photo * n1, "save": b.get("save", 0.0), "a": a, "b": b}
    if "head" in a:  # seconds per head epoch = epoch_fixed + per_train_photo * n_train
        ea, eb = a["head"] / max(1, a["head_epochs"]), b["head"] / max(1, b["head_epochs"])
        out["head_per_photo"] = (eb - ea) / (b["n_train"] - a["n_train"])
        out["head_epoch_fixed"] = ea - out["head_per_photo"] * a["n_train"]
    if "fine_tune" in b:
        out["fine_tune_per_photo_epoch"] = b["fine_tune"] / max(1, b["fine_tune_epochs"]) / b["n_train"]
    if opts.model_kind == "scratch":
        ea, eb = a["train"] / a["head_epochs"], b["train"] / b["head_epochs"]
        out["per_photo_epoch"] = (eb - ea) / (b["n_train"] - a["n_train"])
        out["epoch_fixed"] = ea - out["per_photo_epoch"] * a["n_train"]
    return out


def feature_costs(backbone: str, side: int, n: int = 32, repeats: int = 3) -> dict:
    """Steady-state costs of the features pass, per photo, robust to a busy machine (median of
    ``repeats``): ``decode`` (``load_resized``: read, decode, resize), ``net`` (the extractor's
    ``predict`` on a batch of ``n``, after one call that traces it), and ``fixed`` (building the
    extractor and that first call, less one batch's steady time)."""
    import statistics

    import numpy as np

    from vision import registry
    from vision.training import transfer
    from vision.training.data import load_resized

    paths = [str(p) for c in sorted(d for d in SHARED.iterdir() if d.is_dir())[:4]
             for p in sorted(c.glob("*.jpg"))[:n // 4]]
    decode = []
    for _ in range(repeats):
        t = time.perf_counter()
        x = np.stack([load_resized(p, side) for p in paths])
        decode.append((time.perf_counter() - t) / len(paths))
    t = time.perf_counter()
    extractor = transfer.feature_extractor(registry.load(backbone), side)
    extractor.predict(x, verbose=0)
    first = time.perf_counter() - t
    net = []
    for _ in range(repeats):
        t = time.perf_counter()
        extractor.predict(x, verbose=0)
        net.append((time.perf_counter() - t) / len(paths))
    out = {"decode": statistics.median(decode), "net": statistics.median(net)}
    out["fixed"] = max(0.0, first - out["net"] * len(paths))
    return out


def head_costs(sizes=(100, 500, 2000), epochs: int = 12) -> list[tuple[int, float]]:
    """Seconds per head epoch (``vision.training.fit.fit`` on ``models.build_head``, the transfer
    head) on random 2280-d features (Lite's 1280 pooled + 1000 class peaks), 12 classes, validation
    on half as many rows, at several training sizes: too few photos in the runs above to tell the
    per-photo part from the per-epoch part."""
    import numpy as np
    import tensorflow as tf

    from vision.training import fit, models

    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        x, y = rng.normal(size=(n, 2280)).astype(np.float32), rng.integers(0, 12, n)
        xv, yv = rng.normal(size=(n // 2, 2280)).astype(np.float32), rng.integers(0, 12, n // 2)
        tr = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=1).batch(32)
        va = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(32)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            r = fit.fit(models.build_head(2280, 12), tr, va, epochs=epochs, patience=100, work_dir=Path(tmp),
                        steps_per_epoch=-(-n // 32))
            out.append((n, (time.perf_counter() - t) / r.epochs_run))
    return out


def main(argv=None) -> int:
    import dataclasses

    from vision.training.classifier import ClassifierOptions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, nargs=2, default=[32, 96], help="photos of the two runs per configuration")
    ap.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 448])
    ap.add_argument("--fine-tune-backbones", nargs="*", default=["efficientnet_lite2"])
    ap.add_argument("--scratch", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--head", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--runs", action=argparse.BooleanOptionalAction, default=True,
                    help="also time whole classifier_train runs of each frozen configuration")
    ap.add_argument("--weights-dir", default=os.environ.get("WEIGHTS_DIR", str(REPO / "var" / "weights")))
    args = ap.parse_args(argv)
    import tensorflow as tf

    from vision import catalog

    catalog.setup(weights_dir=args.weights_dir)
    n1, n2 = args.photos
    print(f"Training costs on {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, load average "
          f"{os.getloadavg()[0]:.2f} at the start; runs of {n1} and {n2} photos per configuration", flush=True)
    if args.head:
        rows = head_costs()
        (n_a, t_a), (n_b, t_b) = rows[0], rows[-1]
        per = (t_b - t_a) / (n_b - n_a)
        print("head: " + ", ".join(f"{t:.3f} s/epoch at {n} training photos" for n, t in rows)
              + f" -> {t_a - per * n_a:.3f} s per epoch + {per * 1000:.2f} ms per training photo", flush=True)
    for backbone in args.backbones:
        for size in args.sizes:
            c = feature_costs(backbone, size)
            print(f"{backbone} {size}px features, steady: decode {c['decode']:.3f} + network {c['net']:.3f} "
                  f"= {c['decode'] + c['net']:.3f} s/photo, fixed {c['fixed']:.1f} s; load {os.getloadavg()[0]:.2f}",
                  flush=True)
    configs = [(b, s, False) for b in args.backbones for s in args.sizes] if args.runs else []
    configs += [(b, 448, True) for b in args.fine_tune_backbones]
    base = ClassifierOptions()
    for backbone, size, ft in configs:
        opts = dataclasses.replace(base, backbone=backbone, image_size=size, fine_tune=ft)
        c = _config_costs(opts, n1, n2)
        line = (f"{backbone} {size}px{' fine-tuned' if ft else ''}: features {c['per_photo']:.3f} s/photo "
                f"+ {c['fixed']:.1f} s fixed; head epoch {c['head_epoch_fixed']:.3f} s + {c['head_per_photo'] * 1000:.2f} ms "
                f"per training photo ({c['a']['head_epochs']}/{c['b']['head_epochs']} epochs); save {c['save']:.1f} s")
        if ft:
            line += (f"; fine-tuning {c['fine_tune_per_photo_epoch']:.3f} s per training photo per epoch "
                     f"({c['b']['fine_tune_epochs']} epochs, photo + mirror)")
        print(line + f"; load {os.getloadavg()[0]:.2f}", flush=True)
    if args.scratch:
        opts = dataclasses.replace(base, model_kind="scratch", image_size=None, epochs=3)
        c = _config_costs(opts, n1, n2)
        print(f"scratch CNN {opts.side}px: {c['per_photo_epoch']:.4f} s per training photo per epoch "
              f"+ {c['epoch_fixed']:.2f} s per epoch (decode included); save {c['save']:.1f} s; "
              f"load {os.getloadavg()[0]:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
