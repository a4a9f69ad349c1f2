"""Detector training (issue 15) on tiny synthetic photos: the vision call end to end, its
targets, decoding, augmentation, save/load, resume and cancel. The real-photo figure (raccoon
mAP@0.5) is in tests/vision/test_detector_accuracy.py."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vision.detection import augment
from vision.errors import TrainingCancelled
from vision.detection.decode import decode, nms
from vision.detection.model import levels, locations
from vision.detection.targets import encode, target_width
from vision.training.detector import (BoxedPhoto, DetectorOptions, detect_tflite, detect_with, detector_train,
                                      load_detector)

TINY = DetectorOptions(input_size=256, views=2, epochs=2, channels=16, batch_size=4, patience=5)


def _photos(folder, n, seed):
    """Grey noise with one or two bright squares (class 0) or dark discs (class 1)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        w, h = int(rng.integers(180, 300)), int(rng.integers(160, 260))
        px = rng.integers(90, 140, (h, w, 3)).astype(np.uint8)
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, 3))):
            s = int(rng.integers(40, 90))
            x, y = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
            c = int(rng.integers(0, 2))
            px[y:y + s, x:x + s] = (250, 40, 40) if c == 0 else (20, 20, 200)
            boxes.append((x, y, x + s, y + s))
            labels.append(c)
        path = folder / f"p{seed}_{i}.png"
        Image.fromarray(px).save(path)
        out.append(BoxedPhoto(str(path), tuple(boxes), tuple(labels)))
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("det")
    return _photos(folder, 12, 1), _photos(folder, 6, 2), folder


@pytest.fixture(scope="module")
def trained(data, efficientnet_backbone):
    tr, va, folder = data
    return detector_train(tr, va, class_names=["square", "disc"], options=TINY, work_dir=folder / "work")


def test_levels_and_locations():
    lv = levels(320)
    assert [(v.stride, v.size) for v in lv] == [(8, 40), (16, 20), (32, 10)]
    pts, strides = locations(320)
    assert pts.shape == (2100, 2) and strides.shape == (2100,)
    assert tuple(pts[0]) == (4.0, 4.0) and strides[-1] == 32
    with pytest.raises(ValueError, match="multiple of 32"):
        levels(300)


def test_encode_assigns_each_box_and_decode_inverts_it():
    boxes = np.array([[30, 40, 90, 100], [100, 20, 300, 250], [150, 150, 153, 154]], np.float32)
    t = encode(boxes, np.array([0, 1, 0]), 2, 320)
    assert t.shape == (2100, target_width(2))
    pos = t[:, 7] == 1
    assert pos.sum() > 3
    # every box has at least one location (the 3x4 px one through the fallback cell)
    pts, strides = locations(320)
    d = t[pos, 2:6] * strides[pos, None]
    p = pts[pos]
    rebuilt = np.stack([p[:, 0] - d[:, 0], p[:, 1] - d[:, 1], p[:, 0] + d[:, 2], p[:, 1] + d[:, 3]], 1)
    for b in boxes:
        assert np.isclose(rebuilt, b, atol=1e-3).all(axis=1).any()
    # a perfect output decodes back to the boxes (logits far positive at the positives)
    out = np.full((2100, 7), -20.0, np.float32)
    out[pos, :2] = np.where(t[pos, :2] == 1, 20.0, -20.0)
    out[pos, 2:6] = t[pos, 2:6]
    out[pos, 6] = 20.0
    found = decode(out, 2, 320, width=640, height=320)
    got = sorted((tuple(np.round(f.box)), f.label) for f in found)
    want = sorted((tuple(np.round(b * [2, 1, 2, 1])), c) for b, c in zip(boxes, [0, 1, 0]))
    assert got == want


def test_encode_without_boxes_is_all_background():
    t = encode(np.zeros((0, 4)), np.zeros(0), 3, 256)
    assert t.shape == (1344, 9) and not t.any()


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], np.float32)
    assert list(nms(boxes, np.array([0.5, 0.9, 0.3]))) == [1, 2]


def test_augmented_views_move_boxes_with_pixels():
    img = np.zeros((200, 300, 3), np.uint8)
    img[50:100, 60:150] = 255  # a white box
    for seed in range(20):
        px, boxes, labels = augment.augmented(img, np.array([[60, 50, 150, 100]]), np.array([0]), 256,
                                              np.random.default_rng(seed))
        assert px.shape == (256, 256, 3) and len(boxes) == len(labels) <= 1
        for x0, y0, x1, y1 in boxes:
            inner = px[int(y0) + 3:int(y1) - 3, int(x0) + 3:int(x1) - 3]
            if inner.size:  # the box's inside is the white patch (colour jitter moves it a little)
                assert inner.mean() > 150
    again = augment.augmented(img, np.array([[60, 50, 150, 100]]), np.array([0]), 256, np.random.default_rng(3))
    first = augment.augmented(img, np.array([[60, 50, 150, 100]]), np.array([0]), 256, np.random.default_rng(3))
    assert np.array_equal(again[0], first[0]) and np.array_equal(again[1], first[1])


def test_options_refuse_bad_values():
    with pytest.raises(ValueError, match="Input size"):
        DetectorOptions(input_size=300)
    with pytest.raises(ValueError, match="Views"):
        DetectorOptions(views=1)


def test_train_reports_curves_map_and_thresholds(trained):
    r = trained
    assert r.epochs_run == 2 and set(r.history) >= {"loss", "class_loss", "box_loss", "val_loss", "val_map"}
    assert len(r.history["val_map"]) == 2 and 0 <= r.mean_ap <= 1
    assert set(r.thresholds) == {"square", "disc"}
    assert r.n_train == 12 and r.n_val == 6 and len(r.samples) == 6
    assert r.warnings  # fewer than 15 boxes a class
    rep = r.report()
    assert rep["class_names"] == ["square", "disc"] and rep["options"]["input_size"] == 256
    assert {c["label"] for c in rep["per_class"]} <= {"square", "disc"}


def test_saved_detector_loads_and_finds_the_same_boxes(trained, data, tmp_path):
    _, va, _ = data
    path = trained.save(tmp_path)
    model, options, report = load_detector(path)
    assert options == TINY and report["class_names"] == ["square", "disc"]
    images = [np.asarray(Image.open(p.path).convert("RGB")) for p in va[:3]]
    a = detect_with(trained.model, 256, 2, images)
    b = detect_with(model, 256, 2, images)
    c = detect_tflite(tmp_path / "detector.tflite", 256, 2, images)
    assert sum(map(len, a)) > 0
    for fa, fb, fc in zip(a, b, c):
        assert [f.label for f in fa] == [f.label for f in fb]
        assert np.allclose([f.box for f in fa] or 0, [f.box for f in fb] or 0, atol=0.5)
        # TFLite: the same best boxes, to a pixel (its float32 kernels differ slightly)
        for f in fa[:5]:
            assert any(g.label == f.label and np.allclose(g.box, f.box, atol=1.0) and abs(g.score - f.score) < 0.01
                       for g in fc)


def test_cancel_keeps_a_model_and_resume_goes_on(data, efficientnet_backbone, tmp_path):
    tr, va = data[0][:6], data[1][:3]
    seen = []

    def stop():  # during the first epoch's second batch
        return any("batch 2" in m for m in seen)

    r = detector_train(tr, va, class_names=["square", "disc"], options=TINY, work_dir=tmp_path / "w", should_stop=stop,
                       on_progress=lambda f, m, force=False: seen.append(m))
    assert r.cancelled and r.model is not None and r.epochs_run == 0
    with pytest.raises(TrainingCancelled, match="training views"):
        detector_train(tr, va, class_names=["square", "disc"], options=TINY, work_dir=tmp_path / "v",
                       should_stop=lambda: True)
    one = detector_train(tr, va, class_names=["square", "disc"], options=DetectorOptions(**{**TINY.__dict__, "epochs": 1}),
                         work_dir=tmp_path / "r")
    assert one.epochs_run == 1
    more = detector_train(tr, va, class_names=["square", "disc"], options=TINY, work_dir=tmp_path / "r")
    assert more.epochs_run == 2 and more.history["val_map"][0] == one.history["val_map"][0]


def test_no_box_and_unreadable_photos_are_refused_in_words(data, efficientnet_backbone, tmp_path):
    tr, va, folder = data
    bad = folder / "broken.jpg"
    bad.write_bytes(b"not a photo")
    empty = [BoxedPhoto(p.path) for p in tr[:3]]
    with pytest.raises(ValueError, match="no box"):
        detector_train(empty, va, class_names=["square"], options=TINY, work_dir=tmp_path / "a")
    with pytest.raises(ValueError, match="No usable validation photo"):
        detector_train(tr, [BoxedPhoto(str(bad))], class_names=["square", "disc"], options=TINY, work_dir=tmp_path / "b")


def test_fine_tuning_runs_after_the_head_and_keeps_the_better_phase(data, efficientnet_backbone, tmp_path):
    tr, va = data[0][:4], data[1][:2]
    opts = DetectorOptions(**{**TINY.__dict__, "epochs": 1, "fine_tune_epochs": 1})
    r = detector_train(tr, va, class_names=["square", "disc"], options=opts, work_dir=tmp_path / "f")
    assert len(r.history["fine_tune_val_map"]) == 1 and len(r.history["val_map"]) == 1
    # the kept weights are the better phase's: fine-tuned only when it beat the head
    assert r.fine_tuned == (r.history["fine_tune_val_map"][0] > r.history["val_map"][0])
    assert r.mean_ap == pytest.approx(max(r.history["fine_tune_val_map"][0], r.history["val_map"][0]), abs=1e-6)


def test_fewer_views_are_kept_when_the_maps_would_not_fit_in_memory(data, efficientnet_backbone, tmp_path, monkeypatch):
    from vision.training import detector as D

    tr, va = data[0][:3], data[1][:2]
    per_view = (32 * 32 * 40 + 16 * 16 * 112 + 8 * 8 * 320) * 2  # Lite0's three maps at 256 px, float16
    monkeypatch.setattr(D, "MAX_VIEW_BYTES", 3 * 3 * per_view)  # room for 3 views of the 3 photos
    opts = DetectorOptions(**{**TINY.__dict__, "views": 6, "epochs": 1})
    seen = []
    r = detector_train(tr, va, class_names=["square", "disc"], options=opts, work_dir=tmp_path / "m",
                       on_progress=lambda f, m, force=False: seen.append(m))
    assert any("3 views per photo were kept instead of 6" in w for w in r.warnings)
    assert any(m.endswith("9 of 9") for m in seen)
