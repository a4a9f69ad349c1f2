"""Training benchmark: wall time to a trained classifier for each model kind
on each real set (``../shared/datasets/person`` and ``categories``), on this
machine, predict throughput in images/s, and validation accuracy.

Run: ``.venv/bin/python bench/train.py [--sets person categories] [--seeds 42 0 1 2 3 4]
[--transfer-sizes 224 448] [--fine-tune-epochs 8] [--scratch-epochs 10]``

Same choices as the product's training job (``webapp/training/processing.py``):
70/30 stratified split (seed 42 is the product's default, and with the files in
class-then-name order, as an import stores them, the same split as the
product's; more ``--seeds`` give more splits and a mean, since 74 validation
photos move one split's figure by several points), the seed's scratch CNN at
128 px (first seed only), frozen EfficientNet-Lite0 (pooled features and
ImageNet class peaks, ``vision.training.transfer``) + Dense-512 head at 448 px (the product's default) and 224
px (its trained resolution, 4x cheaper), then at the largest size the top
blocks fine-tuned on cached activations of each photo and its mirror image
(the job's fine-tune option). Transfer time is shown cold (features or
activations computed) and warm (cached: what a retrain costs). Needs the
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
    ap.add_argument("--fine-tune-epochs", type=int, default=8,
                    help="also fine-tune the top blocks at the largest size for at most this many epochs (0: skip)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42], help="split seeds (42: the product's default)")
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
        splits = {seed: train_test_split(list(range(len(paths))), test_size=0.3, random_state=seed, stratify=labels)
                  for seed in args.seeds}
        tr, va = splits[args.seeds[0]]
        ptr, ytr = [paths[i] for i in tr], [labels[i] for i in tr]
        pva, yva = [paths[i] for i in va], [labels[i] for i in va]
        # --- scratch (first seed only: minutes per run) ---
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
            rows.append((name, f"scratch {size}px", args.seeds[0], args.scratch_epochs, res.epochs_run, t_scratch, None,
                         acc_scratch, len(x) / statistics.median(times)))
        # --- transfer, at each input size ---
        backbone = registry.load("efficientnet_lite0")
        for tsize in args.transfer_sizes:
            ft = args.fine_tune_epochs if tsize == max(args.transfer_sizes) else 0
            rows += _transfer(name, classes, paths, labels, splits, backbone, tsize, args.transfer_epochs, ft)
    print(f"\n{'set':<11}{'model':<30}{'seed':>5}{'epochs':>7}{'run':>5}{'cold s':>9}{'warm s':>9}{'val acc':>9}"
          f"{'predict img/s':>15}")
    print("-" * 100)
    for name, kind, seed, ep, run, cold, warm, acc, ips in rows:
        print(f"{name:<11}{kind:<30}{seed:>5}{ep:>7}{run:>5}{'' if cold is None else f'{cold:9.1f}':>9}"
              f"{'' if warm is None else f'{warm:9.1f}':>9}{acc:>9.3f}{'' if ips is None else f'{ips:15.1f}':>15}")
    if len(args.seeds) > 1:
        print(f"\nMean validation accuracy over seeds {' '.join(map(str, args.seeds))}:")
        for key in dict.fromkeys((r[0], r[1]) for r in rows if not r[1].startswith("scratch")):
            accs = [r[7] for r in rows if (r[0], r[1]) == key]
            others = [r[7] for r in rows if (r[0], r[1]) == key and r[2] != 42]
            print(f"  {key[0]:<11}{key[1]:<30} mean {statistics.mean(accs):.3f}"
                  + (f"   without seed 42: {statistics.mean(others):.3f}" if others and len(others) < len(accs) else ""))
    print("\ncold: to the result from photos on disk (transfer includes computing the backbone features, and for"
          "\nfine-tuning the features and activations in one pass; later seeds reuse them); warm: with them already"
          "\ncached (what a retrain costs); predict img/s on decoded, resized photos.")
    return 0


def _transfer(name, classes, paths, labels, splits, backbone, size, epochs, fine_tune_epochs):
    """Frozen backbone at ``size`` px: features (cold, once), then per split the head (warm) and, if
    ``fine_tune_epochs``, the top blocks fine-tuned as the product's job does. One table row each."""
    import keras
    import numpy as np
    import tensorflow as tf

    from vision.training import data, fit, models
    from vision.training.features import cached_features, cached_features_and_activations
    from vision.training.transfer import extractor_parts, feature_extractor, fine_tune_cached, frozen_part

    rows = []
    y = np.array(labels)
    keys = [f"{i}" for i in range(len(paths))]
    with tempfile.TemporaryDirectory() as cache:
        extractor = feature_extractor(backbone, size)
        t0 = time.perf_counter()
        feats = cached_features(extractor, paths, keys, image_size=size, cache_dir=Path(cache) / "features")
        t_feat = time.perf_counter() - t0
        t_act = None
        ips = None
        for n, (seed, (tr, va)) in enumerate(splits.items()):
            t1 = time.perf_counter()
            keras.utils.set_random_seed(seed)  # as the job seeds the head's starting weights
            head = models.build_head(feats.shape[1], len(classes))
            res = fit.fit(head, tf.data.Dataset.from_tensor_slices((feats[tr], y[tr])).shuffle(len(tr), seed=seed).batch(32),
                          tf.data.Dataset.from_tensor_slices((feats[va], y[va])).batch(32),
                          epochs=epochs, patience=6, work_dir=Path(cache) / f"run-{seed}", steps_per_epoch=-(-len(tr) // 32))
            t_head = time.perf_counter() - t1
            acc = float((np.asarray(head.predict(feats[va], verbose=0)).argmax(1) == y[va]).mean())
            if ips is None:
                x = np.stack([data.load_resized(paths[i], size) for i in va[:64]])
                ips = _throughput(models.build_transfer_model(extractor, head), x)
            rows.append((name, f"transfer EffNet-Lite0 {size}px", seed, epochs, res.epochs_run,
                         t_feat + t_head if n == 0 else None, t_head, acc, ips if n == 0 else None))
            if not fine_tune_epochs:
                continue
            own = feature_extractor(backbone, size)  # fresh top blocks for every split
            if t_act is None:  # as the job computes them when fine-tuning: features and activations in one pass
                t2 = time.perf_counter()
                _, files = cached_features_and_activations(frozen_part(own), extractor_parts(own)[1], paths, keys,
                                                           image_size=size, features_dir=Path(cache) / "ft-features",
                                                           activations_dir=Path(cache) / "activations")
                t_act = time.perf_counter() - t2
            t3 = time.perf_counter()
            hist: dict = {}
            tuned, pooled = fine_tune_cached(head, own, [files[i] for i in tr], y[tr].tolist(), [files[i] for i in va],
                                            y[va].tolist(), seed=seed, epochs=fine_tune_epochs,
                                            work_dir=Path(cache) / f"ft-{seed}", history=hist)
            t_ft = time.perf_counter() - t3
            acc_ft = float((np.asarray(head.predict(pooled, verbose=0)).argmax(1) == y[va]).mean())
            print(f"{name} seed {seed} fine-tune {size}px: val_accuracy by epoch "
                  f"{[round(v, 3) for v in hist.get('val_accuracy', [])]}"
                  f"{'' if tuned.kept else ' (no epoch beat the frozen model: frozen weights kept)'}", flush=True)
            rows.append((name, "  + fine-tune top blocks", seed, fine_tune_epochs, len(hist.get("loss", [])),
                         t_act + t_head + t_ft if n == 0 else None, t_ft, acc_ft, None))
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
