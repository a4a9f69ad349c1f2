"""EfficientNet-Lite0's Keras port against the PyTorch reference, the
backbone interface, and the missing-weights messages."""

import numpy as np
import pytest
import skimage.data

from vision import backbones, registry
from vision.backbones import efficientnet_lite as E
from vision.errors import WeightsMissingError
from vision.imagenet import imagenet_class_names, top_k_classes

PHOTOS = {"chelsea": skimage.data.chelsea, "coffee": skimage.data.coffee, "astronaut": skimage.data.astronaut,
          "rocket": skimage.data.rocket}


@pytest.fixture(scope="module")
def photos():
    return {k: f() for k, f in PHOTOS.items()}


def test_keras_logits_equal_pytorch_reference(efficientnet_backbone, photos):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    batch = E.preprocess(list(photos.values()))
    feats, logits = efficientnet_backbone.features_and_scores(batch)
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(E.default_state_dict_path()))
    ref.eval()
    with torch.no_grad():
        ref_logits = ref(torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())).numpy()
        ref_feats = ref._avg_pooling(ref.extract_features(torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())))
    assert logits.shape == (4, 1000) and logits.dtype == np.float32
    np.testing.assert_allclose(logits, ref_logits, atol=1e-3, rtol=0)
    np.testing.assert_allclose(feats, ref_feats.numpy().reshape(4, 1280), atol=1e-3, rtol=0)
    top = dict(zip(photos, np.argmax(logits, axis=1)))
    assert top["chelsea"] in (285, 282, 281)  # Egyptian cat / tiger cat / tabby
    assert top["coffee"] == 967  # espresso
    assert set(np.argsort(-logits[0])[:3]) <= {285, 282, 281, 287}  # the cat's top 3 are cats (287: lynx)


def test_probabilities_and_top5_names(efficientnet_backbone, photos):
    probs = efficientnet_backbone.probabilities([photos["chelsea"], photos["coffee"]])
    assert probs.shape == (2, 1000) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    top = top_k_classes(probs[1], k=5)
    assert [c.class_id for c in top][0] == 967 and top[0].name == "espresso"
    assert all(a.probability >= b.probability for a, b in zip(top, top[1:]))
    assert imagenet_class_names()[282] == "tiger cat"  # the seed's section 4 example


def test_embeddings_unit_length_and_similar_photos_closer(efficientnet_backbone, photos):
    cat = photos["chelsea"]
    emb = efficientnet_backbone.embeddings([cat, cat[:, ::-1].copy(), photos["rocket"]])
    assert emb.shape == (3, 1280) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)
    assert emb[0] @ emb[1] > emb[0] @ emb[2] + 0.2  # mirrored cat much closer than a rocket


def test_preprocess_matches_documented_recipe(photos):
    from PIL import Image

    x = E.preprocess([photos["coffee"]])
    assert x.shape == (1, 224, 224, 3) and x.dtype == np.float32
    resized = np.asarray(Image.fromarray(photos["coffee"]).resize((224, 224), Image.Resampling.BILINEAR)) / 255.0
    np.testing.assert_allclose(x[0], (resized - E.IMAGENET_MEAN) / E.IMAGENET_STD, atol=1e-5)
    with pytest.raises(ValueError):
        E.preprocess([np.zeros((10, 10), np.uint8)])


def test_state_dict_that_does_not_fit_is_refused():
    model = E.build_model()
    with pytest.raises(ValueError, match="_conv_stem.weight"):
        E.keras_weights_from_state_dict(model, {})
    rng = np.random.default_rng(0)
    sd = {"_conv_stem.weight": rng.normal(size=(32, 3, 5, 5)).astype(np.float32)}  # wrong kernel size
    with pytest.raises(ValueError, match="stem_conv"):
        E.keras_weights_from_state_dict(model, sd)


def test_missing_efficientnet_weights_name_file_and_command(tmp_path):
    backbones.register_backbones(weights_dir=tmp_path / "models", keras_dirs=[tmp_path])
    try:
        with pytest.raises(WeightsMissingError) as err:
            registry.load("efficientnet_lite0")
    finally:
        from webapp.search.backbones import backbones_register

        backbones_register()
    assert E.WEIGHTS_FILENAME in err.value.message and "manage.py check_models" in err.value.message
    assert err.value.code == "weights_missing"


@pytest.mark.parametrize("name", ["mobilenet_v2", "vgg16"])
def test_keras_backbone_without_weights_file_says_where_to_put_it(tmp_path, name):
    folder = tmp_path / "keras-weights"
    with pytest.raises(WeightsMissingError) as err:
        backbones.keras_weights_path(name, [folder, tmp_path / "cache"])
    msg = err.value.message
    assert backbones.SPECS[name].weights_file in msg and str(folder) in msg and "no download" in msg
    assert not backbones.backbone_available(name, weights_dir=tmp_path, keras_dirs=[folder])
    # the registry refuses the same way (nothing is downloaded)
    backbones.register_backbones(weights_dir=tmp_path, keras_dirs=[folder])
    try:
        with pytest.raises(WeightsMissingError, match=backbones.SPECS[name].weights_file):
            registry.load(name)
    finally:
        from webapp.search.backbones import backbones_register

        backbones_register()


def test_keras_weights_found_in_first_folder_that_has_them(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (b / backbones.SPECS["vgg16"].weights_file).write_bytes(b"x")
    assert backbones.keras_weights_path("vgg16", [a, b]) == b / backbones.SPECS["vgg16"].weights_file
    with pytest.raises(ValueError):
        backbones.keras_weights_path("resnet", [a])


def test_top_k_refuses_bad_input():
    with pytest.raises(ValueError):
        top_k_classes(np.ones(10))
    with pytest.raises(ValueError):
        top_k_classes(np.ones(1000) / 1000, k=0)


def test_keras_backbone_loads_a_weights_file_put_where_the_message_says(tmp_path, photos):
    """No real ImageNet file is on this machine, so a MobileNetV2 with random
    weights is written in Keras' own .h5 layout under the expected name: the
    loader must find it in the second folder and load exactly those weights."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    folder = tmp_path / "keras"
    folder.mkdir()
    ref = keras.applications.MobileNetV2(weights=None)
    with h5py.File(folder / backbones.SPECS["mobilenet_v2"].weights_file, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, ref)
    backbones.register_backbones(weights_dir=tmp_path, keras_dirs=[tmp_path / "empty", folder])
    try:
        b = registry.load("mobilenet_v2")
        emb = b.embeddings([photos["chelsea"]])
        probs = b.probabilities([photos["chelsea"]])
        batch = b.preprocess([photos["chelsea"]])
        assert batch.min() >= -1 and batch.max() <= 1  # MobileNetV2's x / 127.5 - 1
        np.testing.assert_allclose(probs, ref.predict(batch, verbose=0), atol=1e-5)
    finally:
        from webapp.search.backbones import backbones_register

        backbones_register()
    assert emb.shape == (1, 1280) and abs(np.linalg.norm(emb) - 1) < 1e-5 and b.spec.version == "keras-imagenet-1.0-224"
