"""Saving, loading and exporting trained classifiers.

A model is a ``.keras`` file plus ``<name>.json`` beside it holding the class
names and the preprocessing it expects, so a downloaded model is usable on
its own. TFLite export for phones (``tf.lite.TFLiteConverter``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

PREPROCESSING = ("RGB, EXIF orientation applied, resized bilinearly to image_size x image_size, "
                 "float32 pixel values 0..255 (the model rescales internally)")


def save_classifier(model, path: Path, *, class_names: Sequence[str], image_size: int, extra: dict | None = None) -> Path:
    """Write ``path`` (``.keras``) and its metadata ``path.with_suffix('.json')``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    meta = {"class_names": list(class_names), "image_size": int(image_size), "preprocessing": PREPROCESSING,
            **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path


def load_classifier(path: Path):
    """``(keras model, metadata dict)``; custom layers of our backbones are registered on import."""
    import keras

    import vision.training.models  # noqa: F401
    try:
        import vision.backbones  # noqa: F401  (registers serializable backbone layers, when present)
    except ImportError:
        pass
    path = Path(path)
    return keras.models.load_model(path), json.loads(path.with_suffix(".json").read_text())


def export_tflite(model, path: Path) -> Path:
    """Convert to TensorFlow Lite (float32) and write ``path``."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    path = Path(path)
    path.write_bytes(converter.convert())
    return path


def predict_tflite(path: Path, images: np.ndarray) -> np.ndarray:
    """Run a TFLite model on ``(n, s, s, 3) float32`` images -> ``(n, classes)``."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=str(path))
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], images.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], images.astype(np.float32))
    interp.invoke()
    return interp.get_tensor(out["index"])


def predict_images(model, images: np.ndarray, class_names: Sequence[str], top_k: int = 5) -> list[list[tuple[str, float]]]:
    """Top-k ``(class name, probability)`` per image, most likely first."""
    probs = np.asarray(model.predict(images.astype(np.float32), verbose=0))
    order = np.argsort(-probs, axis=1)[:, :top_k]
    return [[(class_names[j], float(probs[i, j])) for j in row] for i, row in enumerate(order)]
