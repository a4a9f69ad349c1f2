"""Ranking (similarity embedding) benchmark, issue 17: the product's
``vision.training.ranking.embedding_train`` with its default options (and
``--epochs N`` triplet epochs on top, to compare) on ``../shared/datasets/
categories`` with the species as groups, half of them held out per split.

Prints, per split and as the mean, R@1, R-Precision, MAP@R and precision@10
on the held-out species for the frozen backbone and for the learned
embedding (same features, same image size: the protocol of Musgrave et al.
2020), the training wall time (cold: features computed in a fresh cache;
warm: cached, what a retrain costs), and the embedding throughput in
photos/s from decoded photos, frozen backbone against backbone + learned
head.

Run: ``.venv/bin/python bench/ranking.py [--seeds 101 102 103 104 105 106]
[--epochs 0] [--mining semi-hard] [--architecture projection|multiscale]``
(multiscale needs ``--epochs`` of at least 1). Splits 1-6 were used to choose the
defaults (``RankingOptions``); report others.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from train import SHARED, files_of, throughput  # noqa: E402  (the training bench's loaders and timing)

KEYS = ("r_at_1", "r_precision", "map_at_r", "precision_at_k")


def grouped_photos(name: str):
    """``(group names, [GroupedPhoto])`` of a shared set (``bench/train.files_of``: one folder
    per group), each content once (``categories/`` holds one photo twice)."""
    import hashlib

    from vision.training.ranking import GroupedPhoto

    names, paths, labels = files_of(name)
    seen = {}
    for path, group in zip(paths, labels):
        key = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        seen.setdefault(key, GroupedPhoto(path, group, key=key))
    return names, list(seen.values())


def main(argv=None) -> int:
    from vision.training.ranking import RankingOptions

    defaults = RankingOptions()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105, 106])
    ap.add_argument("--epochs", type=int, default=defaults.epochs, help="triplet epochs after the whitening")
    ap.add_argument("--mining", default=defaults.mining)
    ap.add_argument("--architecture", default=defaults.architecture,
                    help="projection (head on cached features) or multiscale (+ the seed's shallow channels)")
    ap.add_argument("--weights-dir", default=os.environ.get("WEIGHTS_DIR", str(REPO / "var" / "weights")))
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        print(f"shared datasets not found at {SHARED}")
        return 2
    from vision import catalog, registry
    from vision.images import load_image
    from vision.training.ranking import LearnedBackbone, embedding_train, split_by_group

    catalog.setup(weights_dir=args.weights_dir)
    options = dataclasses.replace(defaults, epochs=args.epochs, mining=args.mining, architecture=args.architecture)
    names, photos = grouped_photos("categories")
    print(f"Ranking benchmark on {os.cpu_count()} CPUs: categories/ ({len(photos)} photos, {len(names)} species), "
          f"half the species held out per split; {options.backbone} {options.image_size} px, {options.dim}-d, "
          f"learned whitening (shrink {options.shrink})"
          + (f" + {options.epochs} {options.mining} triplet epochs" if options.epochs else "")
          + (" with the shallow multi-scale channels" if options.architecture == "multiscale" else ""))
    print(f"\n{'split':<7}{'':<9}" + "".join(f"{k:>16}" for k in ("R@1", "R-Precision", "MAP@R", "P@10"))
          + f"{'train s':>10}")
    rows, seconds, last = [], [], None
    with tempfile.TemporaryDirectory() as cache:
        for seed in args.seeds:
            train, held_out = split_by_group(photos, seed=seed)
            with tempfile.TemporaryDirectory() as work:
                res = embedding_train(train, held_out, options=options, cache_dir=cache, work_dir=work)
            seconds.append(res.seconds)
            rows.append((res.frozen_metrics, res.metrics))
            for label, m in (("frozen", res.frozen_metrics), ("learned", res.metrics)):
                print(f"{seed if label == 'frozen' else '':<7}{label:<9}" + "".join(f"{m[k]:>16.3f}" for k in KEYS)
                      + (f"{res.seconds:>10.1f}" if label == "learned" else ""))
            last = res
    print("-" * 90)
    for i, label in enumerate(("frozen", "learned")):
        print(f"{'mean':<7}{label:<9}" + "".join(f"{statistics.mean(r[i][k] for r in rows):>16.3f}" for k in KEYS))
    gain = statistics.mean(r[1]["map_at_r"] - r[0]["map_at_r"] for r in rows)
    r1 = statistics.mean(r[1]["r_at_1"] - r[0]["r_at_1"] for r in rows)
    print(f"\nMAP@R {gain * 100:+.1f} points on the held-out species (target >= +5), R@1 {r1 * 100:+.1f} (target >= 0)")
    print(f"training wall time: {seconds[0]:.1f} s the first split (backbone features computed), "
          f"{statistics.mean(seconds[1:]) if len(seconds) > 1 else seconds[0]:.1f} s per later split (cached); "
          f"target <= 20 minutes on 2 cores")
    base = registry.load(options.backbone)
    learned = LearnedBackbone("learned_bench", "bench", "bench", base, last.head, image_size=options.image_size)  # what a learned search embeds with
    images = [load_image(p.path).pixels for p in photos[:64]]
    f_ips, l_ips = throughput(base.embeddings, images), throughput(learned.embeddings, images)
    print(f"embedding throughput from decoded photos (the search's path): frozen backbone {f_ips:.1f} photos/s, "
          f"backbone + learned head {l_ips:.1f} photos/s ({l_ips / f_ips:.2f} of the frozen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
