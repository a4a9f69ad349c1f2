"""Learned similarity embeddings (issue 17): the whitening start, the two triplet
losses against hand-worked values, seeded batches with hard negatives from the
coarse group, the split by group, and a whole training call on cached features
of tiny generated photos (groups of colours), with resume and cancel."""

import numpy as np
import pytest
from PIL import Image

from vision.training import ranking as R


def test_learned_whitening_separates_groups_better_than_raw_features():
    from vision.search import retrieval_metrics

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(6, 40)) * 0.5
    nuisance = rng.normal(size=(1, 40)) * 4  # a strong direction shared by all groups (lighting, say)
    groups = np.repeat(np.arange(6), 20)
    x = centers[groups] + rng.normal(size=(120, 40)) * 0.3 + rng.normal(size=(120, 1)) * nuisance
    kernel, bias = R.learned_whitening(x[:60], groups[:60], 16)
    assert kernel.shape == (40, 16) and bias.shape == (16,) and kernel.dtype == np.float32
    raw = retrieval_metrics(x[60:], groups[60:])["map_at_r"]
    learned = retrieval_metrics(x[60:] @ kernel + bias, groups[60:])["map_at_r"]  # groups 3-5: never fitted on
    assert learned > raw + 0.1, (raw, learned)
    with pytest.raises(ValueError, match="two groups"):
        R.learned_whitening(x[:20], groups[:20], 8)


def _unit(v):
    v = np.asarray(v, np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_semi_hard_loss_picks_the_nearest_negative_farther_than_the_positive():
    import keras

    # anchor a=e1, positive p at distance² 0.4, negatives at distance² 0.2 (harder) and 1.0 (semi-hard)
    a = np.array([1.0, 0.0])
    p = np.array([np.cos(np.arccos(0.8)), np.sin(np.arccos(0.8))])  # d² = 2 - 2*0.8 = 0.4
    n_hard = np.array([0.9, -np.sqrt(1 - 0.81)])  # d² = 0.2
    n_semi = np.array([0.5, -np.sqrt(0.75)])  # d² = 1.0
    y = np.array([0, 0, 1, 1])
    emb = _unit([a, p, n_hard, n_semi])
    loss = float(keras.ops.convert_to_numpy(R.semi_hard_triplet_loss(0.8)(y, emb)))
    # by hand for anchor a: the negative at d² 0.2 is harder than p (0.4), so the semi-hard one is
    # the negative at 1.0: hinge 0.4 - 1.0 + 0.8 = 0.2
    d = ((emb[:, None] - emb[None]) ** 2).sum(-1)
    semi = min(v for v in d[0, 2:] if v > d[0, 1])
    assert semi == pytest.approx(1.0, abs=1e-5) and d[0, 1] - semi + 0.8 == pytest.approx(0.2, abs=1e-5)
    hinges = []  # every anchor-positive pair, the rule applied one at a time
    for i in range(4):
        for j in range(4):
            if i != j and y[i] == y[j]:
                negs = [d[i, n] for n in range(4) if y[n] != y[i]]
                farther = [v for v in negs if v > d[i, j]]
                hinges.append(max(d[i, j] - (min(farther) if farther else max(negs)) + 0.8, 0.0))
    assert loss == pytest.approx(np.mean(hinges), abs=1e-4)
    t = float(keras.ops.convert_to_numpy(R.triplet_loss(0.8)(None, np.concatenate([emb[:1], emb[1:2], emb[2:3]]))))
    assert t == pytest.approx(max(0.4 - 0.2 + 0.8, 0), abs=1e-4)


def test_random_triplets_draw_the_coarse_share_of_negatives_from_the_anchors_coarse_group():
    groups = np.repeat(np.arange(8), 5)
    coarse = groups // 2  # groups 0,1 share coarse 0; 2,3 coarse 1; ...
    b = R._Batches(groups, coarse, R.RankingOptions(mining="random", coarse_share=0.3), seed=1)
    same = total = 0
    for _ in range(200):
        t = b.triplets()
        a, p, n = np.split(t, 3)
        assert (groups[a] == groups[p]).all() and (a != p).all() and (groups[n] != groups[a]).all()
        same += int((coarse[n] == coarse[a]).sum())
        total += len(a)
    # 30 % drawn from the coarse group, plus the 1 in 7 chance a random negative lands there anyway
    assert 0.3 + 0.7 / 7 - 0.04 < same / total < 0.3 + 0.7 / 7 + 0.04
    again = R._Batches(groups, coarse, R.RankingOptions(mining="random"), seed=1).triplets()
    assert (R._Batches(groups, coarse, R.RankingOptions(mining="random"), seed=1).triplets() == again).all()


def test_split_by_group_keeps_each_group_on_one_side():
    photos = [R.GroupedPhoto(f"{g}-{i}.jpg", g) for g in range(10) for i in range(3)]
    train, val = R.split_by_group(photos, seed=3)
    assert not {p.group for p in train} & {p.group for p in val} and len({p.group for p in val}) == 5
    assert R.split_by_group(photos, seed=3) == (train, val)
    with pytest.raises(ValueError, match="four groups"):
        R.split_by_group(photos[:9])


@pytest.mark.parametrize("bad, message", [
    (dict(dim=4), "embedding size"), (dict(mining="hardest"), "Unknown mining"), (dict(margin=0), "margin"),
    (dict(per_group=1), "at least 2 groups"), (dict(shrink=50), "shrinkage"), (dict(image_size=100), "multiple of 32")])
def test_options_out_of_range_are_refused_in_words(bad, message):
    with pytest.raises(ValueError, match=message):
        R.RankingOptions(**bad)


@pytest.fixture(scope="module")
def colour_groups(tmp_path_factory):
    """8 groups of 6 tiny photos: a hue per group, noise per photo; coarse = warm/cool."""
    root = tmp_path_factory.mktemp("groups")
    rng = np.random.default_rng(5)
    photos = []
    for g in range(8):
        base = rng.integers(0, 255, 3)
        for i in range(6):
            px = np.clip(base + rng.normal(0, 25, (40, 40, 3)), 0, 255).astype(np.uint8)
            path = root / f"g{g}-{i}.png"
            Image.fromarray(px).save(path)
            photos.append(R.GroupedPhoto(str(path), g, coarse=int(base[0] > base[2])))
    (root / "broken.png").write_bytes(b"not an image")
    photos.append(R.GroupedPhoto(str(root / "broken.png"), 0))
    return photos


OPTS = dict(backbone="efficientnet_lite0", image_size=128, dim=16, epochs=3, steps_per_epoch=3,
            groups_per_batch=3, per_group=3, learning_rate=1e-3)


@pytest.mark.parametrize("mining", ["semi-hard", "random"])
def test_a_training_call_reports_frozen_whitening_and_kept_figures(colour_groups, tmp_path, mining, efficientnet_backbone):
    train, val = R.split_by_group(colour_groups, seed=0)
    epochs = []
    res = R.embedding_train(train, val, options=R.RankingOptions(mining=mining, **OPTS), work_dir=tmp_path / "w",
                            cache_dir=tmp_path / "c", on_epoch=lambda h, phase: epochs.append(len(h["loss"])))
    assert set(res.metrics) >= {"r_at_1", "r_precision", "map_at_r", "precision_at_k"}
    assert res.n_val_groups == 4 and res.n_train + res.n_val == 48  # the unreadable photo left out
    assert len(res.history["val_map_at_r"]) == res.epochs_run + 1 == epochs[-1]  # epoch 0: the whitening start
    assert res.metrics["map_at_r"] == max(res.history["val_map_at_r"])  # the best epoch kept
    assert res.whitening_metrics["map_at_r"] == res.history["val_map_at_r"][0]
    out = res.embed(np.random.default_rng(0).normal(size=(3, 1280)))
    assert out.shape == (3, 16) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    report = res.report()
    assert report["better_than_frozen"] == (res.metrics["map_at_r"] >= res.frozen_metrics["map_at_r"])
    head, meta = R.load_embedding(res.save(tmp_path / "saved"))  # the .keras file loads back, same vectors
    feats = np.random.default_rng(1).normal(size=(4, 1280)).astype(np.float32)
    feats /= np.linalg.norm(feats, axis=1, keepdims=True)
    assert np.allclose(head.predict(feats, verbose=0), res.head.predict(feats, verbose=0), atol=1e-6)
    assert meta["backbone"] == "efficientnet_lite0" and meta["dim"] == 16


def test_a_cancelled_call_keeps_the_best_so_far_and_a_resumed_one_goes_on(colour_groups, tmp_path, efficientnet_backbone):
    train, val = R.split_by_group(colour_groups, seed=0)
    opts = R.RankingOptions(**{**OPTS, "epochs": 4, "patience": 10})
    ended = []

    def stop_in_epoch_two():  # the first batch after epoch 1 ended
        return len(ended) >= 1

    first = R.embedding_train(train, val, options=opts, work_dir=tmp_path / "w", cache_dir=tmp_path / "c",
                              on_epoch=lambda h, phase: ended.append(1), should_stop=stop_in_epoch_two)
    assert first.cancelled and first.epochs_run == 1
    again = R.embedding_train(train, val, options=opts, work_dir=tmp_path / "w", cache_dir=tmp_path / "c")
    assert not again.cancelled and again.epochs_run == 4
    assert again.history["val_map_at_r"][:2] == first.history["val_map_at_r"][:2]  # epochs 0-1 not run again


def test_groups_on_both_sides_or_too_few_are_refused(colour_groups, tmp_path):
    train, val = R.split_by_group(colour_groups, seed=0)
    with pytest.raises(ValueError, match="both sides"):
        R.embedding_train(train, [*val, train[0]], options=R.RankingOptions(**OPTS), work_dir=tmp_path)
    with pytest.raises(ValueError, match="at least two groups"):
        R.embedding_train([p for p in train if p.group == train[0].group], val, options=R.RankingOptions(**OPTS),
                          work_dir=tmp_path)


def test_the_multiscale_architecture_learns_its_shallow_channels_and_embeds_from_photos(colour_groups, tmp_path,
                                                                                         efficientnet_backbone):
    """The seed's shallow multi-scale channels: epoch 0 is the whitening exactly (their rows of
    the projection start at zero), triplet epochs change them, the saved model loads back, and a
    LearnedBackbone feeds it the photo's pixels beside the backbone's features."""
    from vision.images import load_image

    train, val = R.split_by_group(colour_groups, seed=0)
    opts = R.RankingOptions(**{**OPTS, "architecture": "multiscale", "epochs": 2, "patience": 5})
    res = R.embedding_train(train, val, options=opts, work_dir=tmp_path / "w", cache_dir=tmp_path / "c")
    assert [i.name for i in res.head.inputs] == ["features", "pixels"]
    plain = R.embedding_train(train, val, options=R.RankingOptions(**{**OPTS, "epochs": 0}), work_dir=tmp_path / "p",
                              cache_dir=tmp_path / "c")
    assert res.history["val_map_at_r"][0] == pytest.approx(plain.metrics["map_at_r"], abs=1e-6)
    assert res.report()["architecture"] == "multiscale"
    start = res.head.get_layer("shallow1").get_weights()[0]
    assert np.abs(start).sum() > 0  # learned (or at least initialised) convolution, not missing
    with pytest.raises(ValueError, match="pixels"):
        res.embed(np.ones((2, 1280)))
    head, meta = R.load_embedding(res.save(tmp_path / "saved"))
    with pytest.raises(ValueError, match="learned from features at 128 px"):  # trained at 128, embeds at 224
        R.LearnedBackbone("learned_1", "test", "v1", efficientnet_backbone, head, image_size=meta["image_size"])
    learned = R.LearnedBackbone("learned_1", "test", "v1", efficientnet_backbone, head)
    photos = [load_image(p.path).pixels for p in val[:3]]
    out = learned.embeddings(photos)
    assert out.shape == (3, 16) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5)
    direct = R.head_embed(res.head, efficientnet_backbone.embeddings(photos),
                          np.stack([R.shallow_pixels(p) for p in photos]))
    assert np.allclose(out, direct, atol=1e-5) and meta["architecture"] == "multiscale"
    with pytest.raises(ValueError, match="at least one epoch"):
        R.RankingOptions(architecture="multiscale", epochs=0)
    with pytest.raises(ValueError, match="Unknown architecture"):
        R.RankingOptions(architecture="siamese")


def test_groups_of_one_photo_train_as_negatives_and_lone_validation_photos_are_left_out_in_words(
        colour_groups, tmp_path, efficientnet_backbone):
    """Issue 17's bad input "groups with a single photo": such a group is never held out, and a
    held-out group left with one readable photo is left out of the figures, said in the note."""
    single = [R.GroupedPhoto(colour_groups[0].path, 50), R.GroupedPhoto(colour_groups[1].path, 51)]
    for seed in range(5):
        train, val = R.split_by_group([*colour_groups, *single], seed=seed)
        assert {50, 51} <= {p.group for p in train} and not {50, 51} & {p.group for p in val}
    train, val = R.split_by_group(colour_groups, seed=0)
    broken = str(tmp_path / "broken.png")
    (tmp_path / "broken.png").write_bytes(b"no")
    lone = val[0].group  # its other photos replaced by an unreadable file
    val = [val[0], *[R.GroupedPhoto(broken, lone) for _ in range(3)], *[p for p in val if p.group != lone]]
    res = R.embedding_train(train, val, options=R.RankingOptions(**{**OPTS, "epochs": 0}), work_dir=tmp_path / "w",
                            cache_dir=tmp_path / "c")
    assert res.n_val_groups == 3 and "1 validation photo was left out" in res.note
    with pytest.raises(ValueError, match="four groups of two photos or more"):
        R.split_by_group([R.GroupedPhoto("x", g) for g in range(6)])
