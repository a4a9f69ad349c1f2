"""``tf.data`` input pipelines that stream photos from disk (seed section 4,
"Training on large data": never hold the dataset in memory).

Every photo goes through ``vision.images.load_image`` (EXIF orientation,
odd modes, alpha), is resized to ``(size, size)`` bilinearly, and arrives as
``float32`` 0..255 RGB: each model normalises its own input in its first
layers, so the same pipeline feeds every model kind.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vision.errors import InvalidImageError
from vision.images import load_image


def load_resized(path: str, size: int) -> np.ndarray | None:
    """One photo as ``(size, size, 3) float32`` 0..255, or ``None`` if it
    cannot be read (the pipeline drops it rather than stopping training)."""
    from PIL import Image

    try:
        pixels = load_image(path).pixels
    except (InvalidImageError, OSError):
        return None
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.BILINEAR), dtype=np.float32)


def image_dataset(paths: Sequence[str], labels: Sequence[int], *, image_size: int, batch_size: int = 32,
                  shuffle: bool = False, augment: bool = False, seed: int = 0):
    """Batches of ``((b, size, size, 3) float32 0..255, (b,) int32 labels)``.

    Args:
        paths: photo files.
        labels: class index per photo, 0..n_classes-1.
        image_size: side in pixels after resizing.
        batch_size: photos per batch.
        shuffle: reshuffle the file order every epoch (seeded).
        augment: random horizontal flip, ±10% zoom/shift and brightness —
            applied to training batches only.
        seed: for shuffling and augmentation.

    Returns:
        A ``tf.data.Dataset``; unreadable photos are skipped.
    """
    import tensorflow as tf

    if len(paths) != len(labels):
        raise ValueError("paths and labels must have the same length")
    if len(paths) == 0:
        raise ValueError("no photos to train on")
    ds = tf.data.Dataset.from_tensor_slices((list(map(str, paths)), np.asarray(labels, dtype=np.int32)))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def _load(path, label):
        def py(p):
            arr = load_resized(p.numpy().decode(), image_size)
            ok = arr is not None
            return (arr if ok else np.zeros((image_size, image_size, 3), np.float32)), ok

        img, ok = tf.py_function(py, [path], (tf.float32, tf.bool))
        img.set_shape((image_size, image_size, 3))
        ok.set_shape(())
        return img, label, ok

    def _readable(img, label, ok):
        return ok

    def _drop_flag(img, label, ok):
        return img, label

    ds = ds.map(_load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(_readable).map(_drop_flag)
    ds = ds.batch(batch_size)
    if augment:
        aug = augmentation(seed)
        def _augment(x, y):
            return aug(x, training=True), y

        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def augmentation(seed: int = 0):
    """Keras preprocessing layers for light augmentation (values stay 0..255)."""
    import keras

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomZoom(0.1, seed=seed),
        keras.layers.RandomTranslation(0.1, 0.1, seed=seed),
        keras.layers.RandomBrightness(0.1, value_range=(0, 255), seed=seed),
    ], name="augmentation")
