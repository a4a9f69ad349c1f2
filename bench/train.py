"""Training benchmark: the product's classifier training
(``vision.training.classifier.classifier_train``, the call the training job
makes, with the job's default ``ClassifierOptions``) on each real set
(``../shared/datasets/person`` and ``categories``), per backbone, over
several seeded splits: validation accuracy (mean and spread), wall time, and
predict throughput, on this machine.

Run: ``.venv/bin/python bench/train.py [--sets person categories]
[--backbones efficientnet_lite0 efficientnet_lite2] [--seeds 42 1001 1002 1003 1004 1005]
[--no-fine-tune] [--scratch-epochs 10]``

Splits: 70/30 stratified, seeded (seed 42 is the product's default; with the
files in class-then-name order, as an import stores them, its split is the
product's); the model is seeded with the split seed, as the job seeds it. For
each split the table gives the default job's accuracy and, when the job
fine-tunes, the frozen head's before it (the same run's). ``--backbones``
defaults to every registered EfficientNet-Lite whose weights are on disk
(``manage.py check_models`` imports them). The seed's scratch CNN is trained
once (first seed) for comparison.

Time: the first split of each backbone and set is cold (backbone features,
and for fine-tuning the activations, computed from the photos in a fresh
cache); the later ones are warm (cached by photo content: what a retrain
costs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "datasets"


def files_of(name):
    """``(class names, paths, labels)`` of a shared set, in class-then-name order."""
    root = SHARED / name
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    paths, labels = [], []
    for i, c in enumerate(classes):
        for p in sorted((root / c).glob("*.jpg")):
            paths.append(str(p))
            labels.append(i)
    return classes, paths, labels


def split(paths, labels, seed, keys=None):
    """``(train, validation)`` lists of ``Example`` for one stratified 70/30 split."""
    from sklearn.model_selection import train_test_split

    from vision.training.classifier import Example

    tr, va = train_test_split(list(range(len(paths))), test_size=0.3, random_state=seed, stratify=labels)
    key = (lambda i: keys[i]) if keys else (lambda i: "")
    return ([Example(paths[i], labels[i], key(i)) for i in tr], [Example(paths[i], labels[i], key(i)) for i in va])


def available_backbones(weights_dir, keras_dirs=()) -> list[str]:
    """Registered EfficientNet-Lite backbones whose weights are on disk."""
    from vision import registry
    from vision.backbones import backbone_available

    out = []
    for name in registry.names():
        if not name.startswith("efficientnet_lite"):
            continue
        try:
            ok = backbone_available(name, weights_dir=weights_dir, keras_dirs=keras_dirs)
        except ValueError:
            ok = False
        if ok:
            out.append(name)
    return out


def throughput(run, x, repeats: int = 3) -> float:
    """Items/s of ``run(x)`` (median of ``repeats`` runs); ``run`` a Keras model (its
    ``predict`` at batch 32) or any callable of the whole batch."""
    call = (lambda b: run.predict(b, batch_size=32, verbose=0)) if hasattr(run, "predict") else run
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        call(x)
        times.append(time.perf_counter() - t)
    return len(x) / statistics.median(times)


def spread(values) -> str:
    """``mean ± std (min–max)`` as percentages."""
    if len(values) == 1:
        return f"{values[0]:.1%}"
    return (f"{statistics.mean(values):.1%} ± {statistics.stdev(values):.1%} "
            f"({min(values):.1%}–{max(values):.1%})")


def main(argv=None) -> int:
    from vision.training.classifier import ClassifierOptions

    defaults = ClassifierOptions()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=["person", "categories"])
    ap.add_argument("--backbones", nargs="+", default=None,
                    help="registry names (default: every efficientnet_lite* whose weights are on disk)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 1001, 1002, 1003, 1004, 1005],
                    help="split seeds (42: the product's default split)")
    ap.add_argument("--fine-tune", action=argparse.BooleanOptionalAction, default=defaults.fine_tune,
                    help=f"fine-tune the top blocks (the job's default: {defaults.fine_tune})")
    ap.add_argument("--scratch-epochs", type=int, default=10, help="scratch CNN epochs (0: skip it)")
    ap.add_argument("--scratch-size", type=int, default=ClassifierOptions(model_kind="scratch").side)
    ap.add_argument("--weights-dir", default=os.environ.get("WEIGHTS_DIR", str(REPO / "var" / "weights")))
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared datasets not found at {SHARED}")
        return 2
    import tensorflow as tf

    from vision import catalog

    catalog.setup(weights_dir=args.weights_dir)
    backbones = args.backbones or available_backbones(args.weights_dir)
    if not backbones:
        print(f"No EfficientNet-Lite weights in {args.weights_dir}: run `manage.py check_models` first.")
        return 2
    print(f"Training benchmark on {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}; backbones {', '.join(backbones)}; "
          f"seeds {' '.join(map(str, args.seeds))}; the job's options, fine-tuning {'on' if args.fine_tune else 'off'}")
    summary = []
    for name in args.sets:
        classes, paths, labels = files_of(name)
        if args.scratch_epochs:
            summary.append(_scratch(name, classes, paths, labels, args))
        for backbone in backbones:
            summary.append(_transfer(name, classes, paths, labels, backbone, args))
    print(f"\n{'set':<11}{'model':<34}{'val accuracy: mean ± std (min–max)':<38}{'frozen head':<34}"
          f"{'cold s':>8}{'warm s':>8}{'img/s':>8}")
    print("-" * 141)
    for row in summary:
        warm = "" if row["warm"] is None else f"{row['warm']:.1f}"
        frozen = spread(row["frozen"]) if row["frozen"] else ""
        print(f"{row['set']:<11}{row['model']:<34}{spread(row['acc']):<38}{frozen:<34}{row['cold']:>8.1f}"
              f"{warm:>8}{row['ips']:>8.1f}")
    print("\nval accuracy: the job's default settings with that backbone; frozen head: the same runs' head before fine-tuning;"
          "\ncold: first split, features (and activations) computed; warm: mean of the later splits, cached;"
          "\nimg/s: predict on decoded, resized photos.")
    for name in args.sets:
        rows = [r for r in summary if r["set"] == name and r["model"] != "scratch"]
        if rows:
            best = max(rows, key=lambda r: statistics.mean(r["acc"]))
            print(f"Best on {name}: {best['backbone']} ({statistics.mean(best['acc']):.1%} mean over "
                  f"{len(best['acc'])} splits)")
    return 0


def _scratch(name, classes, paths, labels, args) -> dict:
    """The seed's CNN on the first seed's split, the job's recipe with cheap settings."""
    import numpy as np

    from vision.training import data
    from vision.training.classifier import ClassifierOptions, classifier_train

    seed = args.seeds[0]
    train, val = split(paths, labels, seed)
    opts = ClassifierOptions(model_kind="scratch", image_size=args.scratch_size, epochs=args.scratch_epochs,
                             patience=args.scratch_epochs, seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = classifier_train(train, val, class_names=classes, options=opts, work_dir=tmp)
        cold = time.perf_counter() - t0
    x = np.stack([data.load_resized(e.path, opts.side) for e in val[:64]])
    print(f"{name} scratch {opts.side}px seed {seed}: {res.accuracy:.1%} after {res.epochs_run} epochs, {cold:.0f} s",
          flush=True)
    return {"set": name, "model": f"scratch {opts.side}px, {args.scratch_epochs} epochs", "backbone": "", "acc": [res.accuracy],
            "frozen": [], "cold": cold, "warm": None, "ips": throughput(res.model, x)}


def _transfer(name, classes, paths, labels, backbone, args) -> dict:
    """The job's default transfer recipe on ``backbone`` over every seed, in one fresh feature cache."""
    import numpy as np

    from vision.training import data
    from vision.training.classifier import ClassifierOptions, classifier_train

    accs, frozen, times, ips = [], [], [], None
    keys = [f"{i}" for i in range(len(paths))]  # a fresh cache per run: the first split is cold
    with tempfile.TemporaryDirectory() as cache:
        for seed in args.seeds:
            train, val = split(paths, labels, seed, keys)
            opts = ClassifierOptions(backbone=backbone, fine_tune=args.fine_tune, seed=seed)
            with tempfile.TemporaryDirectory() as work:
                t0 = time.perf_counter()
                res = classifier_train(train, val, class_names=classes, options=opts, work_dir=work, cache_dir=cache)
                times.append(time.perf_counter() - t0)
            accs.append(res.accuracy)
            if res.frozen_accuracy is not None:
                frozen.append(res.frozen_accuracy)
            print(f"{name} {backbone} {opts.side}px seed {seed}: {res.accuracy:.1%}"
                  + (f" (frozen head {res.frozen_accuracy:.1%}; {res.fine_tune_note})"
                     if res.frozen_accuracy is not None else "")
                  + f", {res.epochs_run} epochs + {res.fine_tune_epochs_run} fine-tuning, {times[-1]:.0f} s", flush=True)
            if ips is None:
                ips = throughput(res.model, np.stack([data.load_resized(e.path, opts.side) for e in val[:64]]))
    label = f"{backbone} {opts.side}px" + (" + fine-tuning" if args.fine_tune else " frozen")
    return {"set": name, "model": label, "backbone": backbone, "acc": accs, "frozen": frozen, "cold": times[0],
            "warm": statistics.mean(times[1:]) if len(times) > 1 else None, "ips": ips}


if __name__ == "__main__":
    sys.exit(main())
