"""The detector on real photos (issue 15): ``../shared/datasets/raccoon`` (160 photos, 173
boxes), trained through the product's own ``detector_train`` on a fixed seeded 70/30 split by
photo (near-duplicates kept on one side, ``vision.detection.data.split``), scored on the 30 %.

Target: mAP@0.5 ≥ 0.85 on the validation part. The settings here are the product's at a smaller
input (256 px), fewer cached views and a narrower head, to fit ``make test``'s time budget; the
default settings are measured by ``bench/detection.py --train``. Split seed 0 was used to
choose settings; this test uses split seed 1, never looked at while tuning.

Asserted on the **last** epoch's mAP (a fixed cosine schedule, no choice made on these
photos), since the product keeps the epoch with the best validation mAP and that choice,
made on the same photos, flatters the figure; both are printed.
"""

from __future__ import annotations

import time

import pytest

from tests.shared_data import shared_path
from vision.detection.data import read_folder, split
from vision.training.detector import DetectorOptions, detector_train

SPLIT_SEED = 1
OPTIONS = DetectorOptions(input_size=256, views=6, epochs=12, channels=64, patience=12)
TARGET = 0.85


@pytest.mark.timeout(900)
def test_raccoon_map_at_05_on_held_out_photos(efficientnet_backbone, tmp_path, capsys):
    photos, classes, problems = read_folder(shared_path("datasets", "raccoon"))
    assert len(photos) == 160 and classes == ["raccoon"] and not problems
    train, val = split(photos, seed=SPLIT_SEED)
    t0 = time.perf_counter()
    r = detector_train(train, val, class_names=classes, options=OPTIONS, work_dir=tmp_path / "work")
    spent = time.perf_counter() - t0
    last = r.history["val_map"][-1]
    with capsys.disabled():
        print(f"\n[detector accuracy] raccoon, split seed {SPLIT_SEED}: {len(train)} training / {len(val)} validation "
              f"photos ({sum(len(p.boxes) for p in val)} boxes), {OPTIONS.input_size} px, {OPTIONS.views} views, "
              f"{r.epochs_run} epochs in {spent:.0f} s: mAP@0.5 last epoch {last:.3f}, kept epoch "
              f"{r.best_epoch + 1} {r.mean_ap:.3f} (chosen on these photos), COCO AP@[.5:.95] {r.coco.ap:.3f}; "
              f"target {TARGET}")
    assert r.epochs_run == OPTIONS.epochs
    assert last >= TARGET, f"mAP@0.5 on held-out raccoon photos {last:.3f} < {TARGET}"
