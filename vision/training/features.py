"""Backbone outputs computed once and cached (issue 4: with a frozen
backbone the head trains in seconds). One ``.npy`` per photo, named by the
photo's content hash, in a folder per backbone and input size: pooled
features for the head, and for fine-tuning the activations at the cut
(``vision.training.transfer``) of the photo and its mirror image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vision.training.data import load_resized


def _save_atomic(path: Path, arr: np.ndarray) -> None:
    """Write then rename: a worker killed mid-write leaves no truncated cache
    file for the retried job to trip over."""
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    np.save(tmp, arr)
    os.replace(tmp, path)


def _cached(compute: Callable[[np.ndarray], np.ndarray], paths: Sequence[str], keys: Sequence[str], *,
            image_size: int, cache_dir: Path, batch_size: int,
            progress: Callable[[float], None] | None) -> list[Path | None]:
    """Run ``compute`` on the photos whose cache file is missing; return each photo's file (None: unreadable)."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    files: list[Path | None] = [cache_dir / f"{key}.npy" for key in keys]
    todo = [i for i, f in enumerate(files) if not f.exists()]
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        imgs = [load_resized(paths[i], image_size) for i in idx]
        ok = [j for j, im in enumerate(imgs) if im is not None]
        if ok:
            for j, arr in zip(ok, compute(np.stack([imgs[j] for j in ok]))):
                _save_atomic(files[idx[j]], arr)
        for j in set(range(len(idx))) - set(ok):
            files[idx[j]] = None
        if progress:
            progress(min(1.0, (start + len(idx)) / max(1, len(todo))))
    return files


def cached_features(extractor, paths: Sequence[str], keys: Sequence[str], *, image_size: int, cache_dir: Path,
                    batch_size: int = 32, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Pooled backbone features for every photo.

    Args:
        extractor: Keras model ``(b, size, size, 3) float32 0..255 -> (b, d)``.
        paths: photo files.
        keys: one stable key per photo (its sha256), naming its cache file.
        image_size: input side.
        cache_dir: folder for this backbone and size (created).
        progress: called with the fraction done.

    Returns:
        ``(n, d)`` float32; rows of unreadable photos are NaN.
    """
    files = _cached(lambda x: np.asarray(extractor.predict(x, verbose=0), np.float32), paths, keys,
                    image_size=image_size, cache_dir=cache_dir, batch_size=batch_size, progress=progress)
    out = [np.load(f) if f is not None else None for f in files]
    dim = next((o.shape[0] for o in out if o is not None), 0)
    return np.stack([o if o is not None else np.full(dim, np.nan, np.float32) for o in out]).astype(np.float32)


def cached_activations(to_activations, paths: Sequence[str], keys: Sequence[str], *, image_size: int,
                       cache_dir: Path, batch_size: int = 16,
                       progress: Callable[[float], None] | None = None) -> list[Path | None]:
    """Activations at the fine-tuning cut for every photo and its mirror image.

    Args:
        to_activations: Keras model ``(b, size, size, 3) float32 0..255 -> (b, h, w, c)``
            (``vision.training.transfer.frozen_part``).
        paths, keys, image_size, cache_dir, progress: as :func:`cached_features`.

    Returns:
        One ``.npy`` file per photo holding ``(2, h, w, c) float16`` (original,
        left-right mirrored; float16 halves the disk: about 350 KB per photo at
        448 px for EfficientNet-Lite0), or None for a photo that cannot be read.
    """
    def both(x):
        views = [to_activations.predict(v, verbose=0) for v in (x, x[:, :, ::-1])]
        return np.stack(views, axis=1).astype(np.float16)

    return _cached(both, paths, keys, image_size=image_size, cache_dir=cache_dir, batch_size=batch_size,
                   progress=progress)


def activation_dataset(files: Sequence[Path], labels: Sequence[int], *, views: Sequence[int] = (0,),
                       batch_size: int = 16, shuffle: bool = False, seed: int = 0):
    """Batches of ``((b, h, w, c) float32 activations, (b,) int32 labels)`` read
    from :func:`cached_activations` files as training goes (never all in memory).

    Args:
        files: cache files (no None).
        labels: class index per file.
        views: which views each file contributes: ``(0,)`` originals, ``(0, 1)`` with mirror images.
        shuffle: reshuffle every epoch (seeded).

    Raises:
        ValueError: no files, or files and labels of different lengths.
    """
    import tensorflow as tf

    if not files or len(files) != len(labels):
        raise ValueError("activation_dataset needs one label per file and at least one file")
    shape = np.load(files[0], mmap_mode="r").shape[1:]
    pairs = [(str(f), v, int(y)) for f, y in zip(files, labels) for v in views]
    ds = tf.data.Dataset.from_tensor_slices(([p[0] for p in pairs], [p[1] for p in pairs],
                                             np.asarray([p[2] for p in pairs], np.int32)))
    if shuffle:
        ds = ds.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)

    def load(path, view, label):
        x = tf.numpy_function(lambda p, v: np.load(p.decode())[v].astype(np.float32), [path, view], tf.float32)
        x.set_shape(shape)
        return x, label

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).batch(batch_size).prefetch(tf.data.AUTOTUNE)
