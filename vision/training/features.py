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


def cached_count(keys: Sequence[str], cache_dirs: Sequence[Path]) -> int:
    """How many of the photos ``keys`` (content keys) have a cache file in every one of
    ``cache_dirs`` (what :func:`cached_features` / :func:`cached_features_and_activations`
    would not compute again). A missing folder: none."""
    dirs = [Path(d) for d in cache_dirs]
    if not all(d.is_dir() for d in dirs):
        return 0
    return sum(all((d / f"{key}.npy").exists() for d in dirs) for key in keys)


def _cached(compute: Callable[[np.ndarray], tuple[np.ndarray, ...]], paths: Sequence[str], keys: Sequence[str], *,
            image_size: int, cache_dirs: Sequence[Path], batch_size: int,
            progress: Callable[[float], None] | None) -> list[list[Path | None]]:
    """Run ``compute`` on the photos with a cache file missing in any of ``cache_dirs``;
    ``compute`` returns one batched array per folder. Returns, per folder, each photo's
    file (None: unreadable)."""
    dirs = [Path(d) for d in cache_dirs]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    files: list[list[Path | None]] = [[d / f"{key}.npy" for key in keys] for d in dirs]
    todo = [i for i in range(len(keys)) if not all(fs[i].exists() for fs in files)]
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        imgs = [load_resized(paths[i], image_size) for i in idx]
        ok = [j for j, im in enumerate(imgs) if im is not None]
        if ok:
            for fs, batch in zip(files, compute(np.stack([imgs[j] for j in ok]))):
                for j, arr in zip(ok, batch):
                    _save_atomic(fs[idx[j]], arr)
        for j in set(range(len(idx))) - set(ok):
            for fs in files:
                fs[idx[j]] = None
        if progress:
            progress(min(1.0, (start + len(idx)) / max(1, len(todo))))
    return files


def _load_rows(files: Sequence[Path | None]) -> np.ndarray:
    """``(n, d) float32`` from one ``.npy`` vector per photo; NaN rows for None."""
    out = [np.load(f) if f is not None else None for f in files]
    dim = next((o.shape[0] for o in out if o is not None), 0)
    return np.stack([o if o is not None else np.full(dim, np.nan, np.float32) for o in out]).astype(np.float32)


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
    [files] = _cached(lambda x: (np.asarray(extractor.predict(x, verbose=0), np.float32),), paths, keys,
                      image_size=image_size, cache_dirs=[cache_dir], batch_size=batch_size, progress=progress)
    return _load_rows(files)


def _both_views(to_activations, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(b, 2, h, w, c) float16`` activations of ``x`` and its mirror image, and ``x``'s own in float32."""
    views = [np.asarray(to_activations.predict(v, verbose=0)) for v in (x, x[:, :, ::-1])]
    return np.stack(views, axis=1).astype(np.float16), views[0]


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
    [files] = _cached(lambda x: (_both_views(to_activations, x)[0],), paths, keys, image_size=image_size,
                      cache_dirs=[cache_dir], batch_size=batch_size, progress=progress)
    return files


def cached_features_and_activations(to_activations, top, paths: Sequence[str], keys: Sequence[str], *,
                                    image_size: int, features_dir: Path, activations_dir: Path, batch_size: int = 16,
                                    progress: Callable[[float], None] | None = None
                                    ) -> tuple[np.ndarray, list[Path | None]]:
    """:func:`cached_features` and :func:`cached_activations` together, for fine-tuning:
    the frozen blocks run once per view (photo, mirror image) and the features come
    from the photo's float32 activations through ``top``, instead of a third pass.

    Args:
        to_activations: ``(b, size, size, 3) float32 0..255 -> (b, h, w, c)`` (``transfer.frozen_part``).
        top: ``(b, h, w, c) -> (b, d)`` (``transfer.extractor_parts(...)[1]``), so that
            ``top(to_activations(x))`` is the feature extractor.
        features_dir, activations_dir: the two cache folders (``transfer.cache_folders``).
        paths, keys, image_size, batch_size, progress: as :func:`cached_features`.

    Returns:
        ``((n, d) float32 features, NaN rows for unreadable photos; activation files as
        :func:`cached_activations` returns them)``.
    """
    def compute(x):
        both, own = _both_views(to_activations, x)
        return np.asarray(top.predict(own, verbose=0), np.float32), both

    features, activations = _cached(compute, paths, keys, image_size=image_size,
                                    cache_dirs=[features_dir, activations_dir], batch_size=batch_size,
                                    progress=progress)
    return _load_rows(features), activations


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
