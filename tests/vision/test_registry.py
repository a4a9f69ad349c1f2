import sys

import pytest

from vision import registry
from vision.errors import WeightsMissingError


def test_dlib_model_files_found_without_importing_package():
    sys.modules.pop("face_recognition_models", None)
    for name in registry.DLIB_FILES:
        path = registry.dlib_model_path(name)
        assert path.is_file() and path.suffix == ".dat"
    # located through find_spec: the package (which needs pkg_resources) was never imported
    assert "face_recognition_models" not in sys.modules


def test_unknown_names_are_refused():
    with pytest.raises(ValueError):
        registry.dlib_model_path("nope")
    with pytest.raises(ValueError):
        registry.load("nope")


def test_missing_package_gives_clear_message(monkeypatch):
    monkeypatch.setattr(registry.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsMissingError, match="pip install face_recognition_models"):
        registry.dlib_model_path("dlib_resnet_v1")


def test_models_load_once_per_process():
    assert registry.load("dlib_hog_detector") is registry.load("dlib_hog_detector")
