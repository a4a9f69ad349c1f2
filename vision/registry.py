"""Where pretrained weights live, and a per-process cache of loaded models.

Nothing heavy happens at import time: a model is read from disk on the first
``load(name)`` call in a process and kept for that process's lifetime (a
Celery worker child loads each model once, after the fork). Weights come from
installed packages, never from the network.

dlib's models ship in the ``face_recognition_models`` package (ageitgey,
Apache-2.0). Its own ``face_recognition_models.pose_predictor_model_location``
helpers import ``pkg_resources``, which current setuptools no longer provides,
so the files are located through ``importlib.util.find_spec`` without
importing the package at all.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Callable

from vision.errors import WeightsMissingError

# name -> file inside face_recognition_models/models/
DLIB_FILES = {
    "dlib_landmarks_68": "shape_predictor_68_face_landmarks.dat",
    "dlib_landmarks_5": "shape_predictor_5_face_landmarks.dat",
    "dlib_resnet_v1": "dlib_face_recognition_resnet_model_v1.dat",
    "dlib_cnn_detector": "mmod_human_face_detector.dat",
}


def dlib_model_path(name: str) -> Path:
    """Path of one of dlib's pretrained model files.

    Args:
        name: a key of ``DLIB_FILES``.

    Returns:
        Absolute path of the ``.dat`` file.

    Raises:
        ValueError: unknown name.
        WeightsMissingError: the ``face_recognition_models`` package (or the
            file inside it) is not installed.
    """
    if name not in DLIB_FILES:
        raise ValueError(f"Unknown dlib model {name!r}; known: {sorted(DLIB_FILES)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise WeightsMissingError(
            "dlib's face models are not installed: run `pip install face_recognition_models`."
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / DLIB_FILES[name]
    if not path.is_file():
        raise WeightsMissingError(
            f"The model file {path.name} is missing from {path.parent}; reinstall face_recognition_models."
        )
    return path


def _load_dlib(name: str) -> Any:
    import dlib  # heavy: only imported where a model is actually used

    if name == "dlib_hog_detector":
        return dlib.get_frontal_face_detector()
    path = str(dlib_model_path(name))
    if name.startswith("dlib_landmarks"):
        return dlib.shape_predictor(path)
    if name == "dlib_resnet_v1":
        return dlib.face_recognition_model_v1(path)
    if name == "dlib_cnn_detector":
        return dlib.cnn_face_detection_model_v1(path)
    raise ValueError(f"Unknown model {name!r}")


_LOADERS: dict[str, Callable[[str], Any]] = {
    "dlib_hog_detector": _load_dlib,
    **{name: _load_dlib for name in DLIB_FILES},
}


_CACHE: dict[str, Any] = {}


def register(name: str, loader: Callable[[str], Any]) -> None:
    """Add a model loader (``loader(name) -> model``) under ``name``; a model
    already loaded under that name is forgotten (the new loader may read
    other files)."""
    _LOADERS[name] = loader
    _CACHE.pop(name, None)


def names() -> list[str]:
    """Names of every model the registry can load."""
    return sorted(_LOADERS)


def load(name: str) -> Any:
    """Load a model once per process and return the cached instance.

    Raises:
        ValueError: unknown model name.
        WeightsMissingError: its weights file is not on disk.
    """
    if name not in _LOADERS:
        raise ValueError(f"Unknown model {name!r}; known: {names()}")
    if name not in _CACHE:  # a failed load (missing weights) is not cached: it is retried
        _CACHE[name] = _LOADERS[name](name)
    return _CACHE[name]


_CACHED: dict[str, Any] = {}


def cached(key: str, factory: Callable[[], Any], *, max_items: int = 8) -> Any:
    """A per-process cache for models known only at run time (e.g. a trained
    classifier version): ``factory()`` runs on the first call for ``key``.
    The oldest entries are dropped past ``max_items`` to bound memory."""
    if key not in _CACHED:
        while len(_CACHED) >= max_items:
            _CACHED.pop(next(iter(_CACHED)))
        _CACHED[key] = factory()
    return _CACHED[key]
