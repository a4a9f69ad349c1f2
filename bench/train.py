"""Training benchmark: wall time to a trained classifier for each model kind
on each real set (``../shared/datasets/person`` and ``categories``), on this
machine, and predict throughput in images/s.

Run: ``.venv/bin/python bench/train.py [--scratch-epochs 10] [--transfer-epochs 40] [--transfer-sizes 224 448]
[--sets person categories]``

Same choices as the product's training job (``webapp/training/processing.py``):
70/30 stratified split seeded 42, the seed's scratch CNN at 128 px, frozen
EfficientNet-Lite0 + Dense-512 head at 448 px (the product's default) and
224 px (its trained resolution, 4x cheaper), then at 448 px the whole backbone
fine-tuned (the job's fine-tune option, with augmentation). Transfer time is shown cold
(features computed) and warm (features cached, head only). Needs the
EfficientNet-Lite0 weights imported (``manage.py check_models``).
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
    root = SHARED / name
    classes = sorted(d.name for d in root.iterdir() if d.is_dir())
    paths, labels = [], []
    for i, c in enumerate(classes):
        for p in sorted((root / c).glob("*.jpg")):
            paths.append(str(p))
            labels.append(i)
    return classes, paths, labels


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", nargs="+", default=["person", "categories"])
    ap.add_argument("--scratch-epochs", type=int, default=10)
    ap.add_argument("--scratch-size", type=int, default=128)
    ap.add_argument("--transfer-epochs", type=int, default=40)
    ap.add_argument("--transfer-sizes", type=int, nargs="+", default=[224, 448])
    ap.add_argument("--fine-tune-epochs", type=int, default=5,
                    help="also fine-tune the whole backbone at the largest size for at most this many epochs (0: skip)")
    ap.add_argument("--weights-dir", default=os.environ.get("WEIGHTS_DIR", str(REPO / "var" / "weights")))
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared datasets not found at {SHARED}")
        return 2
    import numpy as np
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    from vision import registry
    from vision.backbones import register_backbones
    from vision.training import data, fit, models

    register_backbones(weights_dir=args.weights_dir)
    print(f"Training benchmark on {os.cpu_count()} CPUs, TensorFlow {tf.__version__}, "
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    rows = []
    for name in args.sets:
        classes, paths, labels = files_of(name)
        tr, va = train_test_split(list(range(len(paths))), test_size=0.3, random_state=42, stratify=labels)
        ptr, ytr = [paths[i] for i in tr], [labels[i] for i in tr]
        pva, yva = [paths[i] for i in va], [labels[i] for i in va]
        # --- scratch ---
        with tempfile.TemporaryDirectory() as tmp:
            size = args.scratch_size
            t0 = time.perf_counter()
            model = models.build_scratch_cnn(len(classes), size)
            res = fit.fit(model, data.image_dataset(ptr, ytr, image_size=size, shuffle=True, seed=42),
                          data.image_dataset(pva, yva, image_size=size), epochs=args.scratch_epochs,
                          patience=args.scratch_epochs, work_dir=Path(tmp), steps_per_epoch=-(-len(ptr) // 32))
            t_scratch = time.perf_counter() - t0
            acc_scratch = max(v for v in res.history["val_accuracy"] if v is not None)
            x = np.stack([data.load_resized(p, size) for p in pva])
            times = []
            for _ in range(5):
                t = time.perf_counter()
                model.predict(x, batch_size=32, verbose=0)
                times.append(time.perf_counter() - t)
            rows.append((name, f"scratch {size}px", args.scratch_epochs, res.epochs_run, t_scratch, None, acc_scratch,
                         len(x) / statistics.median(times)))
        # --- transfer, at each input size ---
        backbone = registry.load("efficientnet_lite0")
        for tsize in args.transfer_sizes:
            ft = args.fine_tune_epochs if tsize == max(args.transfer_sizes) else 0
            rows += _transfer(name, classes, paths, tr, va, ytr, yva, backbone, tsize, args.transfer_epochs, ft)
    print(f"\n{'set':<11}{'model':<28}{'epochs':>8}{'run':>5}{'cold s':>9}{'warm s':>9}{'val acc':>9}{'predict img/s':>15}")
    print("-" * 94)
    for name, kind, ep, run, cold, warm, acc, ips in rows:
        print(f"{name:<11}{kind:<28}{ep:>8}{run:>5}{cold:>9.1f}{'' if warm is None else f'{warm:9.1f}':>9}{acc:>9.3f}{ips:>15.1f}")
    print("\ncold: to the result from photos on disk (transfer includes computing the backbone features);"
          "\nwarm: transfer with features already cached (what a retrain costs); predict img/s on decoded, resized photos.")
    return 0


def _transfer(name, classes, paths, tr, va, ytr, yva, backbone, size, epochs, fine_tune_epochs):
    """Frozen backbone at ``size`` px: features (cold), head (warm), predict throughput; then, if
    ``fine_tune_epochs``, the whole backbone fine-tuned as the product's job does. One table row each."""
    import numpy as np
    import tensorflow as tf

    from vision.training import data, fit, models
    from vision.training.features import cached_features
    from vision.training.transfer import FINE_TUNE_BATCH, feature_extractor, fine_tune

    pva = [paths[i] for i in va]
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        extractor = feature_extractor(backbone, size)
        keys = [f"{i}" for i in range(len(paths))]
        t0 = time.perf_counter()
        feats = cached_features(extractor, paths, keys, image_size=size, cache_dir=Path(cache))
        t_feat = time.perf_counter() - t0
        t1 = time.perf_counter()
        head = models.build_head(feats.shape[1], len(classes))
        ftr, fva = feats[tr], feats[va]
        res = fit.fit(head, tf.data.Dataset.from_tensor_slices((ftr, np.array(ytr))).shuffle(len(tr), seed=42).batch(32),
                      tf.data.Dataset.from_tensor_slices((fva, np.array(yva))).batch(32),
                      epochs=epochs, patience=6, work_dir=Path(cache) / "run", steps_per_epoch=-(-len(tr) // 32))
        t_head = time.perf_counter() - t1
        acc = float((np.asarray(head.predict(fva, verbose=0)).argmax(1) == np.array(yva)).mean())
        full = models.build_transfer_model(extractor, head)
        x = np.stack([data.load_resized(p, size) for p in pva[:64]])
        rows.append((name, f"transfer EffNet-Lite0 {size}px", epochs, res.epochs_run, t_feat + t_head, t_head, acc,
                     _throughput(full, x)))
        if fine_tune_epochs:
            t2 = time.perf_counter()
            ptr = [paths[i] for i in tr]
            hist: dict = {}
            kept = fine_tune(full, extractor,
                             data.image_dataset(ptr, ytr, image_size=size, batch_size=FINE_TUNE_BATCH, shuffle=True,
                                                augment=True, seed=42),
                             data.image_dataset(pva, yva, image_size=size, batch_size=FINE_TUNE_BATCH),
                             epochs=fine_tune_epochs, work_dir=Path(cache) / "fine_tune",
                             steps_per_epoch=-(-len(ptr) // FINE_TUNE_BATCH), history=hist)
            t_ft = time.perf_counter() - t2
            xv = np.stack([data.load_resized(p, size) for p in pva])
            acc_ft = float((np.asarray(full.predict(xv, batch_size=FINE_TUNE_BATCH, verbose=0)).argmax(1)
                            == np.array(yva)).mean())
            print(f"{name} fine-tune {size}px: val_accuracy by epoch {[round(v, 3) for v in hist.get('val_accuracy', [])]}"
                  f"{'' if kept else ' (no epoch beat the frozen model: frozen weights kept)'}")
            rows.append((name, "  + fine-tune whole net", fine_tune_epochs, len(hist.get("loss", [])),
                         t_feat + t_head + t_ft, None, acc_ft, _throughput(full, x)))
    return rows


def _throughput(model, x):
    """Images/s of ``model.predict`` on ``x`` (median of 3 runs)."""
    times = []
    for _ in range(3):
        t = time.perf_counter()
        model.predict(x, batch_size=32, verbose=0)
        times.append(time.perf_counter() - t)
    return len(x) / statistics.median(times)

if __name__ == "__main__":
    sys.exit(main())
