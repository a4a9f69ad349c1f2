"""The training library on a tiny synthetic set (the seed's squares vs.
no squares), small enough for a CPU test."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from vision.training import data, evaluate, export, fit, inspect, models

SIZE = 48


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """40 photos: white squares (class 0) and white discs (class 1) on black, random places."""
    root = tmp_path_factory.mktemp("shapes")
    rng = np.random.default_rng(0)
    paths, labels = [], []
    for i in range(40):
        im = Image.new("RGB", (64, 64))
        d = ImageDraw.Draw(im)
        x, y, s = rng.integers(4, 30), rng.integers(4, 30), rng.integers(18, 30)
        (d.rectangle if i % 2 == 0 else d.ellipse)([x, y, x + s, y + s], fill=(255, 255, 255))
        p = root / f"{i}.png"
        im.save(p)
        paths.append(str(p))
        labels.append(i % 2)
    bad = root / "broken.jpg"
    bad.write_bytes(b"not an image")
    return paths, labels, str(bad)


def test_pipeline_streams_batches_and_skips_unreadable(shapes):
    paths, labels, bad = shapes
    ds = data.image_dataset(paths[:5] + [bad], labels[:5] + [0], image_size=SIZE, batch_size=4)
    batches = list(ds)
    x, y = batches[0]
    assert x.shape == (4, SIZE, SIZE, 3) and x.dtype.name == "float32" and float(np.max(x)) <= 255
    assert sum(int(b[1].shape[0]) for b in batches) == 5  # the broken file was dropped
    with pytest.raises(ValueError):
        data.image_dataset([], [], image_size=SIZE)


def test_scratch_cnn_shape_is_the_seeds():
    m = models.build_scratch_cnn(2, 128)
    names = [l.name for l in m.layers]
    assert names[2:5] == ["conv1", "pool1", "dropout1"] and m.get_layer("conv1").kernel_size == (5, 5)
    assert m.get_layer("dense").units == 512 and m.output_shape == (None, 2)
    with pytest.raises(ValueError):
        models.build_scratch_cnn(1, 128)


def test_train_learns_squares_vs_discs_and_exports(shapes, tmp_path):
    import keras

    keras.utils.set_random_seed(7)  # weights, dropout and shuffling: the same run every time
    paths, labels, _ = shapes
    train = data.image_dataset(paths[:30], labels[:30], image_size=SIZE, batch_size=8, shuffle=True, seed=1)
    val = data.image_dataset(paths[30:], labels[30:], image_size=SIZE, batch_size=8)
    model = models.build_scratch_cnn(2, SIZE, dropout=0.1)
    seen = []
    res = fit.fit(model, train, val, epochs=12, learning_rate=2e-3, patience=12, work_dir=tmp_path / "run",
                  steps_per_epoch=4, on_epoch=lambda e, m, h: seen.append(e))
    assert res.epochs_run == 12 and seen == list(range(12))
    assert set(res.history) == set(fit.METRICS) and len(res.history["val_loss"]) == 12
    assert (tmp_path / "run" / "best.keras").exists()
    x = np.stack([data.load_resized(p, SIZE) for p in paths[30:]])
    pred = np.asarray(model.predict(x, verbose=0)).argmax(1)
    metrics = evaluate.classification_metrics(labels[30:], pred, ["square", "disc"])
    assert metrics["accuracy"] >= 0.8, (metrics["accuracy"], res.history)  # learnable in a few epochs
    assert sum(map(sum, metrics["confusion"])) == 10
    png = evaluate.confusion_matrix_png(metrics["confusion"], ["square", "disc"])
    assert png[:4] == b"\x89PNG"
    # .keras + metadata round trip, TFLite predicts the same classes
    path = export.save_classifier(model, tmp_path / "m.keras", class_names=["square", "disc"], image_size=SIZE)
    loaded, meta = export.load_classifier(path)
    assert meta["class_names"] == ["square", "disc"] and meta["image_size"] == SIZE
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    tfl = export.export_tflite(model, tmp_path / "m.tflite")
    assert (export.predict_tflite(tfl, x).argmax(1) == pred).all()
    top = export.predict_images(model, x[:1], ["square", "disc"], top_k=2)
    assert len(top[0]) == 2 and abs(sum(p for _, p in top[0]) - 1) < 1e-4
    # inspector
    rows = inspect.model_summary(model)
    assert rows[-1]["params"] == model.count_params() and rows[0]["name"] == "image"
    assert inspect.kernels_png(model)[:4] == b"\x89PNG"
    assert "pool1" in inspect.conv_layer_names(model)
    assert inspect.activations_png(model, x[0], "pool1")[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="Choose one of"):
        inspect.activations_png(model, x[0], "dense")


def test_cancel_stops_after_the_current_batch(shapes, tmp_path):
    paths, labels, _ = shapes
    train = data.image_dataset(paths[:16], labels[:16], image_size=SIZE, batch_size=8)
    val = data.image_dataset(paths[16:24], labels[16:24], image_size=SIZE, batch_size=8)
    res = fit.fit(models.build_scratch_cnn(2, SIZE), train, val, epochs=20, work_dir=tmp_path, steps_per_epoch=2,
                  should_stop=lambda: True)
    assert res.cancelled and res.epochs_run <= 1


def test_interrupted_run_resumes_from_its_last_epoch(shapes, tmp_path):
    paths, labels, _ = shapes
    train = data.image_dataset(paths[:16], labels[:16], image_size=SIZE, batch_size=8)
    val = data.image_dataset(paths[16:24], labels[16:24], image_size=SIZE, batch_size=8)
    history = {}

    def crash(epoch, metrics, hist):
        if epoch == 2:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        fit.fit(models.build_scratch_cnn(2, SIZE), train, val, epochs=5, work_dir=tmp_path, steps_per_epoch=2,
                on_epoch=crash, history=history)
    assert len(history["loss"]) == 3 and (tmp_path / "backup").exists()
    started = []
    res = fit.fit(models.build_scratch_cnn(2, SIZE), train, val, epochs=5, work_dir=tmp_path, steps_per_epoch=2,
                  on_epoch=lambda e, m, h: started.append(e), history=history)
    # finished epochs were backed up: the run goes on from there (a kill mid-epoch loses that epoch only)
    assert started[0] in (2, 3) and res.epochs_run == 5 and len(history["val_loss"]) == 5


def _tiny_transfer(num_classes=2):
    """A transfer-shaped extractor (``frozen_blocks`` then ``top_blocks``, as
    ``transfer.feature_extractor`` builds it) and a head trained on nothing."""
    import keras
    from keras import layers

    b_in = keras.Input((SIZE, SIZE, 3))
    conv = layers.Conv2D(4, 3, strides=2)(layers.Rescaling(1 / 255)(b_in))
    bottom = keras.Model(b_in, layers.ReLU(name="tiny_relu")(conv), name="frozen_blocks")
    t_in = keras.Input(tuple(bottom.output.shape[1:]))
    top = keras.Model(t_in, layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(t_in)),
                      name="top_blocks")
    bottom.trainable = top.trainable = False
    inp = keras.Input((SIZE, SIZE, 3))
    extractor = keras.Model(inp, top(bottom(inp)), name="tiny_extractor")
    return extractor, models.build_head(8, num_classes, units=16)


def _activations(shapes, tmp_path, extractor):
    from vision.training.features import activation_dataset, cached_activations
    from vision.training.transfer import frozen_part

    paths, labels, _ = shapes
    files = cached_activations(frozen_part(extractor), paths, [str(i) for i in range(len(paths))], image_size=SIZE,
                               cache_dir=tmp_path / "acts")
    train = activation_dataset(files[:32], labels[:32], views=(0, 1), batch_size=8, shuffle=True, seed=1)
    val = activation_dataset(files[32:], labels[32:], batch_size=8)
    return files, train, val


def test_cached_activations_hold_the_photo_and_its_mirror_image(shapes, tmp_path):
    from vision.training.features import activation_dataset, cached_activations
    from vision.training.transfer import frozen_part

    extractor, _ = _tiny_transfer()
    paths, labels, bad = shapes
    to_act = frozen_part(extractor)
    files = cached_activations(to_act, paths[:3] + [bad], ["a", "b", "c", "d"], image_size=SIZE, cache_dir=tmp_path)
    assert files[3] is None and all(f.exists() for f in files[:3])  # the broken photo: no file, no stop
    x = data.load_resized(paths[0], SIZE)
    stored = np.load(files[0])
    assert stored.shape == (2, 23, 23, 4) and stored.dtype == np.float16
    np.testing.assert_allclose(stored[0], to_act.predict(x[None], verbose=0)[0], atol=0.05)
    np.testing.assert_allclose(stored[1], to_act.predict(x[None, :, ::-1], verbose=0)[0], atol=0.05)
    batches = list(activation_dataset(files[:3], labels[:3], views=(0, 1), batch_size=4))
    assert [int(b[0].shape[0]) for b in batches] == [4, 2] and batches[0][0].dtype.name == "float32"
    np.testing.assert_array_equal(batches[0][0][1].numpy(), stored[1].astype(np.float32))  # file 0's mirror view


def test_features_and_activations_together_run_the_frozen_blocks_once_per_view(shapes, tmp_path):
    """The fine-tuning job's cache: the same features and activation files as
    computing them apart, with two passes of the frozen blocks per photo, not three."""
    from vision.training.features import cached_activations, cached_features, cached_features_and_activations
    from vision.training.transfer import extractor_parts, frozen_part

    extractor, _ = _tiny_transfer()
    paths, _, bad = shapes
    photos, keys = paths[:5] + [bad], list("abcdef")
    to_act = frozen_part(extractor)

    class Counting:
        photos = 0

        def predict(self, x, **kw):
            Counting.photos += len(x)
            return to_act.predict(x, **kw)

    feats, files = cached_features_and_activations(Counting(), extractor_parts(extractor)[1], photos, keys,
                                                   image_size=SIZE, features_dir=tmp_path / "f",
                                                   activations_dir=tmp_path / "a", batch_size=4)
    assert Counting.photos == 2 * 5  # the broken photo is never run
    apart = cached_features(extractor, photos, keys, image_size=SIZE, cache_dir=tmp_path / "f2")
    np.testing.assert_allclose(feats, apart, rtol=1e-5, atol=1e-6)
    assert np.isnan(feats[5]).all() and files[5] is None
    files_apart = cached_activations(to_act, photos, keys, image_size=SIZE, cache_dir=tmp_path / "a2")
    for f, g in zip(files[:5], files_apart[:5]):
        np.testing.assert_array_equal(np.load(f), np.load(g))
    again = cached_features_and_activations(Counting(), extractor_parts(extractor)[1], photos, keys,
                                            image_size=SIZE, features_dir=tmp_path / "f",
                                            activations_dir=tmp_path / "a")
    assert Counting.photos == 10 and np.array_equal(again[0], feats, equal_nan=True)  # all cached
    (tmp_path / "a" / "b.npy").unlink()  # a photo missing one of its two files is computed again
    cached_features_and_activations(Counting(), extractor_parts(extractor)[1], photos, keys, image_size=SIZE,
                                    features_dir=tmp_path / "f", activations_dir=tmp_path / "a")
    assert Counting.photos == 12 and (tmp_path / "a" / "b.npy").exists()


def test_fine_tune_keeps_an_improvement_and_undoes_a_regression(shapes, tmp_path):
    import keras

    from vision.training.transfer import extractor_parts, fine_tune

    keras.utils.set_random_seed(0)
    extractor, head = _tiny_transfer()
    _, train, val = _activations(shapes, tmp_path, extractor)
    _, top = extractor_parts(extractor)
    bottom_before = [w.copy() for w in extractor.get_layer("frozen_blocks").get_weights()]
    top_before = [w.copy() for w in top.get_weights()]
    # an untrained head: a few epochs at a usable rate lower the validation loss, and the top blocks train
    assert fine_tune(head, extractor, train, val, epochs=3, learning_rate=1e-2, work_dir=tmp_path / "a",
                     steps_per_epoch=8).kept is True
    assert not all(np.array_equal(a, b) for a, b in zip(top_before, top.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(bottom_before, extractor.get_layer("frozen_blocks").get_weights()))
    assert not top.trainable  # frozen again for export
    # a learning rate that wrecks the weights: no epoch beats the start, so the start is put back
    model = models.build_transfer_model(extractor, head)
    before = [w.copy() for w in model.get_weights()]
    hist = {}
    result = fine_tune(head, extractor, train, val, epochs=2, learning_rate=1e3, work_dir=tmp_path / "b",
                       steps_per_epoch=8, history=hist)
    assert result.kept is False and result.cancelled is False and len(hist["val_loss"]) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def test_fine_tune_says_it_was_cancelled(shapes, tmp_path):
    import keras

    from vision.training.transfer import fine_tune

    keras.utils.set_random_seed(0)
    extractor, head = _tiny_transfer()
    _, train, val = _activations(shapes, tmp_path, extractor)
    hist = {}
    result = fine_tune(head, extractor, train, val, epochs=5, learning_rate=1e-2, work_dir=tmp_path / "c",
                       steps_per_epoch=8, history=hist, should_stop=lambda: True)
    assert result.cancelled is True and len(hist["loss"]) == 1  # stopped at its first batch; that epoch is logged


def test_inspector_shows_maps_inside_a_transfer_models_backbone(shapes):
    """The model page's activations work for transfer models too: the nested
    backbone's block outputs are listed, and their maps are the backbone's."""
    extractor, head = _tiny_transfer()
    model = models.build_transfer_model(extractor, head)
    assert inspect.conv_layer_names(model) == ["tiny_relu"]
    x = data.load_resized(shapes[0][0], SIZE)
    from vision.training.transfer import frozen_part

    np.testing.assert_allclose(np.asarray(inspect._maps(model, x[None], "tiny_relu")),
                               frozen_part(extractor).predict(x[None], verbose=0), atol=1e-5)
    assert inspect.activations_png(model, x, "tiny_relu").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="Choose one of the layers with feature maps: tiny_relu"):
        inspect.activations_png(model, x, "head_dense")


def test_a_cache_write_cut_short_leaves_no_file_behind(shapes, tmp_path, monkeypatch):
    """A worker killed while writing the feature cache: the retried job finds
    no truncated file, computes that photo again and goes on."""
    from vision.training import features

    extractor, _ = _tiny_transfer()
    paths = shapes[0][:2]
    real_save = np.save

    def killed(file, arr):
        with open(file, "wb") as f:
            f.write(b"\x93NUMPY")  # the first bytes, then the process dies
        raise SystemExit("killed")

    monkeypatch.setattr(np, "save", killed)
    with pytest.raises(SystemExit):
        features.cached_features(extractor, paths, ["a", "b"], image_size=SIZE, cache_dir=tmp_path)
    assert not (tmp_path / "a.npy").exists()
    monkeypatch.setattr(np, "save", real_save)
    out = features.cached_features(extractor, paths, ["a", "b"], image_size=SIZE, cache_dir=tmp_path)
    assert out.shape == (2, 8) and not np.isnan(out).any()


def test_transfer_features_are_the_backbones_pooled_features_then_its_class_peaks(efficientnet_backbone):
    """The extractor's first 1280 outputs are the backbone's own pooled
    features; the next 1000, over PEAK_SCALE, the highest ImageNet score of
    any one place of the map. The backbone's logit is the mean of those places
    (the classifier is linear), so every peak is at least the logit, and above
    it wherever the photo is not uniform."""
    from vision.training.transfer import PEAK_SCALE, feature_extractor

    img = np.zeros((224, 224, 3), np.uint8)
    img[14:98, 126:210] = (230, 40, 30)  # a red square in one corner of a black photo
    img[140:210, 18:70] = (250, 250, 250)
    out = feature_extractor(efficientnet_backbone, 224).predict(img[None].astype(np.float32), verbose=0)[0]
    assert out.shape == (2280,)
    features, logits = (a[0] for a in efficientnet_backbone.features_and_scores(efficientnet_backbone.preprocess([img])))
    np.testing.assert_allclose(out[:1280], features, atol=1e-4)
    peaks = out[1280:] / PEAK_SCALE
    assert (peaks >= logits - 1e-3).all() and (peaks > logits + 0.1).mean() > 0.9


# --- classifier_train: the one call the job and the benchmark make ---------------------------------------------


def test_classifier_options_are_the_products_defaults_and_refuse_bad_values():
    from vision.training.classifier import ClassifierOptions

    o = ClassifierOptions()
    assert (o.model_kind, o.backbone, o.side, o.max_epochs, o.patience, o.batch_size, o.fine_tune) == (
        "transfer", "efficientnet_lite2", 448, 40, 5, 32, False)  # measured: see ClassifierOptions
    assert ClassifierOptions(model_kind="scratch").side == 128 and ClassifierOptions(model_kind="scratch").max_epochs == 30
    assert ClassifierOptions(backbone="efficientnet_lite2").side == 448
    assert not ClassifierOptions(model_kind="scratch", fine_tune=True).fine_tuning
    for kw, words in [({"model_kind": "svm"}, "Unknown model kind"), ({"image_size": 300}, "multiple of 32"),
                      ({"backbone": "vgg16"}, "supports"), ({"epochs": 0}, "1–500"), ({"batch_size": 0}, "1–256"),
                      ({"model_kind": "scratch", "image_size": 32}, "48–640")]:
        with pytest.raises(ValueError, match=words):
            ClassifierOptions(**kw)


def test_classifier_train_scratch_reports_progress_curves_and_saves(shapes, tmp_path):
    from vision.training.classifier import ClassifierOptions, Example, classifier_train

    paths, labels, _ = shapes
    train = [Example(p, y) for p, y in zip(paths[:30], labels[:30])]
    val = [(p, y) for p, y in zip(paths[30:], labels[30:])]  # plain tuples work too
    progress, curves = [], []
    res = classifier_train(train, val, class_names=["square", "disc"], work_dir=tmp_path / "run",
                           options=ClassifierOptions(model_kind="scratch", image_size=SIZE, epochs=3, patience=3,
                                                     seed=7),
                           on_progress=lambda f, m, force=False: progress.append((f, m, force)),
                           on_epoch=lambda h, phase: curves.append((phase, {k: list(v) for k, v in h.items()})))
    assert res.epochs_run == 3 and not res.cancelled and res.n_train == 30 and res.n_val == 10
    assert res.probabilities.shape == (10, 2) and res.probabilities.dtype == np.float32
    assert res.validation_labels.tolist() == labels[30:] and 0 <= res.accuracy <= 1
    assert res.name == "scratch_cnn" and res.options.side == SIZE and res.fine_tune_kept is None
    assert [phase for phase, _ in curves] == ["Training"] * 3 and len(curves[-1][1]["val_loss"]) == 3
    fractions = [f for f, _, _ in progress if f is not None]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 0.95
    assert progress[0][1] == "Training: epoch 1, batch 1"
    assert [m for _, m, force in progress if force][0].startswith("Training: epoch 1 done, val_accuracy ")
    saved = res.save(tmp_path / "out", extra={"notes": ["hello"]})
    for name in ("model.keras", "model.json", "model.tflite", "confusion.png", "kernels.png", "metrics.json"):
        assert (tmp_path / "out" / name).exists(), name
    assert saved.metrics["notes"] == ["hello"] and saved.metrics["epochs_run"] == 3 and "pool1" in saved.metrics["layers"]
    assert "features" not in saved.metrics and "fine_tune_kept" not in saved.metrics
    with pytest.raises(ValueError, match="at least two classes"):
        classifier_train(train, val, class_names=["square"], work_dir=tmp_path / "x")
    with pytest.raises(ValueError, match="validation set is empty"):
        classifier_train(train, [], class_names=["square", "disc"], work_dir=tmp_path / "x")


def test_classifier_train_resumes_from_its_work_dir(shapes, tmp_path):
    """A call killed after its third epoch: the same call on the same folder (no history
    passed) goes on from there, with the curves so far."""
    from vision.training.classifier import ClassifierOptions, classifier_train

    paths, labels, _ = shapes
    train, val = list(zip(paths[:16], labels[:16])), list(zip(paths[16:24], labels[16:24]))
    opts = ClassifierOptions(model_kind="scratch", image_size=SIZE, epochs=5, patience=5)

    def crash(history, phase):
        if len(history["loss"]) == 3:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        classifier_train(train, val, class_names=["a", "b"], options=opts, work_dir=tmp_path, on_epoch=crash)
    seen = []
    res = classifier_train(train, val, class_names=["a", "b"], options=opts, work_dir=tmp_path,
                           on_epoch=lambda h, phase: seen.append(len(h["loss"])))
    assert seen[0] in (3, 4) and res.epochs_run == 5 and len(res.history["val_loss"]) == 5


def _tiny_lite_backbone(name="efficientnet_lite_tiny"):
    """A backbone shaped as the EfficientNet-Lite models are (``blockN_dwconv`` with strides, ``blockN_add``,
    ``head_relu``, ``logits``; outputs ``[features, logits]``), small enough for a CPU test."""
    from types import SimpleNamespace

    import keras
    from keras import layers

    inputs = keras.Input((None, None, 3))
    x = layers.ReLU(6.0, name="stem_relu")(layers.Conv2D(8, 3, strides=2, padding="same", name="stem_conv")(inputs))

    def block(x, n, stride, filters):
        h = layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"block{n}_dwconv")(x)
        h = layers.BatchNormalization(name=f"block{n}_project_bn")(layers.Conv2D(filters, 1, name=f"block{n}_project_conv")(h))
        return layers.Add(name=f"block{n}_add")([h, x]) if stride == 1 and x.shape[-1] == filters else h

    x = block(block(block(x, 0, 2, 8), 1, 1, 8), 2, 2, 16)
    fmap = layers.ReLU(6.0, name="head_relu")(layers.Conv2D(32, 1, name="head_conv")(x))
    features = layers.GlobalAveragePooling2D(name="features")(fmap)
    model = keras.Model(inputs, [features, layers.Dense(10, name="logits")(features)], name=name)
    return SimpleNamespace(spec=SimpleNamespace(name=name), model=model)


def test_classifier_train_transfer_takes_any_efficientnet_lite_and_fine_tunes(shapes, tmp_path, request):
    """A registered EfficientNet-Lite-shaped backbone other than Lite0: the cut is found
    (the block before the last stride-2 one), features and activations are cached by
    content key, the head trains, fine-tuning reports its outcome; a cancel keeps a model."""
    from vision import registry
    from vision.training import transfer
    from vision.training.classifier import ClassifierOptions, Example, classifier_train

    backbone = _tiny_lite_backbone()
    registry.register("efficientnet_lite_tiny", lambda name: backbone)
    request.addfinalizer(lambda: registry.unregister("efficientnet_lite_tiny"))  # not a backbone for later tests
    assert transfer.fine_tune_cut(backbone) == "block1_add"
    paths, labels, _ = shapes
    ex = [Example(p, y, f"k{i}") for i, (p, y) in enumerate(zip(paths, labels))]
    opts = ClassifierOptions(backbone="efficientnet_lite_tiny", image_size=128, epochs=3, fine_tune=True,
                             fine_tune_epochs=2, seed=1)
    phases = []
    res = classifier_train(ex[:30], ex[30:], class_names=["square", "disc"], options=opts, work_dir=tmp_path / "w",
                           cache_dir=tmp_path / "cache", on_epoch=lambda h, phase: phases.append(phase))
    assert len(list((tmp_path / "cache" / "features" / "efficientnet_lite_tiny-128px-gap-peaks").glob("k*.npy"))) == 40
    acts = sorted((tmp_path / "cache" / "activations" / "efficientnet_lite_tiny-128px-block1_add").glob("k*.npy"))
    assert len(acts) == 40 and np.load(acts[0]).shape == (2, 32, 32, 8)  # photo and mirror at the cut
    assert res.name == "efficientnet_lite_tiny+head" and res.features == transfer.FEATURE_LAYOUT
    assert res.probabilities.shape == (10, 2) and 0 <= res.frozen_accuracy <= 1 and res.fine_tune_kept in (True, False)
    assert phases[0] == "Training the head" and phases[-1] == "Fine-tuning the top blocks"
    assert 1 <= res.fine_tune_epochs_run <= 2 and len(res.history["fine_tune_val_loss"]) == res.fine_tune_epochs_run
    assert res.model.input_shape == (None, 128, 128, 3) and res.report()["fine_tune_note"] == res.fine_tune_note
    # frozen only, cancelled at the first batch: the best weights so far, no fine-tuning
    res = classifier_train(ex[:30], ex[30:], class_names=["square", "disc"], work_dir=tmp_path / "c",
                           options=ClassifierOptions(backbone="efficientnet_lite_tiny", image_size=128, fine_tune=False),
                           cache_dir=tmp_path / "cache", should_stop=lambda: True)
    assert res.cancelled and res.epochs_run == 1 and res.fine_tune_kept is None and "fine_tune_loss" not in res.history
