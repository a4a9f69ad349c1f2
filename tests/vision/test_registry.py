"""The model registry's contract, over every name :mod:`vision.catalog`
declares: each loads (or says clearly which weights file is missing), runs on
a tiny input and returns the shape its docstring documents."""

import sys

import numpy as np
import pytest

from vision import catalog, registry
from vision.backbones import SPECS
from vision.errors import WeightsMissingError


def _run_dlib_or_opencv(name: str, model):
    """Run a fixed model on a tiny input; returns what the catalog's table documents."""
    import dlib

    img = np.zeros((150, 150, 3), np.uint8)
    img[40:110, 50:100] = 200  # something, not a face: detectors find nothing, predictors still answer
    if name == "dlib_hog_detector":
        rects, scores, _ = model.run(img, 0, 0.0)
        assert len(rects) == len(scores)
    elif name == "dlib_cnn_detector":
        found = model(img, 0)
        assert all(hasattr(d, "confidence") for d in found)
    elif name.startswith("dlib_landmarks"):
        shape = model(img, dlib.rectangle(10, 10, 140, 140))
        assert shape.num_parts == int(name.rsplit("_", 1)[1])
    elif name == "dlib_resnet_v1":
        shape = registry.load("dlib_landmarks_68")(img, dlib.rectangle(10, 10, 140, 140))
        emb = np.asarray(model.compute_face_descriptor(img, shape))
        assert emb.shape == (128,) and np.isfinite(emb).all()
    elif name == "opencv_hog_people":
        rects, weights = model.detectMultiScale(np.zeros((160, 96, 3), np.uint8), winStride=(8, 8))
        assert np.asarray(rects).reshape(-1, 4).shape[1] == 4 and len(rects) == len(weights)
    else:
        raise AssertionError(f"{name}: no contract check written for this registry name")


@pytest.mark.parametrize("name", registry.names())
def test_every_registry_name_loads_runs_and_returns_its_documented_shape(name):
    try:
        model = registry.load(name)
    except WeightsMissingError as err:  # allowed only for optional files, and it must name the file
        assert name in SPECS and name not in ("efficientnet_lite0",), f"{name} must be available: {err.message}"
        assert SPECS[name].weights_file in err.message
        return
    if name in SPECS:
        photo = np.full((40, 56, 3), 128, np.uint8)
        emb = model.embeddings([photo, photo[:, ::-1].copy()])
        assert emb.shape == (2, SPECS[name].embedding_dim) and emb.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
        probs = model.probabilities([photo])
        assert probs.shape == (1, 1000) and abs(float(probs.sum()) - 1) < 1e-4
    else:
        _run_dlib_or_opencv(name, model)
    assert registry.load(name) is model  # once per process


def test_every_fixed_model_is_declared_by_the_catalog():
    assert set(registry.names()) == {"dlib_hog_detector", *catalog.DLIB_FILES, "opencv_hog_people", *SPECS}


def test_trained_classifier_loads_by_version_and_runs(tmp_path):
    from vision.training import export, models

    path = export.save_classifier(models.build_scratch_cnn(3, 48), tmp_path / "model.keras", class_names=["a", "b", "c"],
                                  image_size=48)
    model, meta = catalog.trained_load("classifier", 987654, path)
    assert meta["class_names"] == ["a", "b", "c"] and meta["image_size"] == 48
    probs = np.asarray(model.predict(np.zeros((2, 48, 48, 3), np.float32), verbose=0))
    assert probs.shape == (2, 3)
    assert catalog.trained_load("classifier", 987654, path)[0] is model  # cached per process


def test_trained_embedding_loads_by_version_and_maps_features_to_unit_vectors(tmp_path):
    import json

    from vision.training import ranking

    rng = np.random.default_rng(0)
    kernel, bias = ranking.learned_whitening(rng.normal(size=(40, 12)), np.repeat(np.arange(4), 10), 6)
    ranking._head(kernel, bias).save(tmp_path / "head.keras")
    (tmp_path / "metrics.json").write_text(json.dumps({"backbone": "efficientnet_lite0", "image_size": 224, "dim": 6}))
    head, meta = catalog.trained_load("embedding", 987655, tmp_path / "head.keras")
    out = np.asarray(head.predict(rng.normal(size=(2, 12)).astype(np.float32), verbose=0))
    assert out.shape == (2, 6) and np.allclose(np.linalg.norm(out, axis=1), 1, atol=1e-5) and meta["dim"] == 6


def test_trained_model_missing_file_and_unknown_kind_say_so(tmp_path):
    with pytest.raises(WeightsMissingError, match="missing"):
        catalog.trained_load("classifier", 1, tmp_path / "gone.keras")
    with pytest.raises(ValueError, match="Unknown trained model kind"):
        catalog.trained_load("nope", 1, tmp_path / "x")


def test_dlib_model_files_found_without_importing_package():
    sys.modules.pop("face_recognition_models", None)
    for name in catalog.DLIB_FILES:
        path = catalog.dlib_model_path(name)
        assert path.is_file() and path.suffix == ".dat"
    # located through find_spec: the package (which needs pkg_resources) was never imported
    assert "face_recognition_models" not in sys.modules


def test_unknown_names_are_refused():
    with pytest.raises(ValueError):
        catalog.dlib_model_path("nope")
    with pytest.raises(ValueError):
        registry.load("nope")


def test_missing_package_gives_clear_message(monkeypatch):
    monkeypatch.setattr(catalog.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsMissingError, match="pip install face_recognition_models"):
        catalog.dlib_model_path("dlib_resnet_v1")
