"""Backbone features computed once and cached (issue 4: with a frozen
backbone the head trains in seconds). One ``.npy`` per photo, named by the
photo's content hash, under ``cache_dir/<backbone name>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vision.training.data import load_resized


def cached_features(extractor, paths: Sequence[str], keys: Sequence[str], *, image_size: int, cache_dir: Path,
                    batch_size: int = 32, progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Pooled backbone features for every photo.

    Args:
        extractor: Keras model ``(b, size, size, 3) float32 0..255 -> (b, d)``.
        paths: photo files.
        keys: one stable key per photo (its sha256), naming its cache file.
        image_size: input side.
        cache_dir: folder for this backbone's cache (created).
        progress: called with the fraction done.

    Returns:
        ``(n, d)`` float32; rows of unreadable photos are NaN.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    out: list[np.ndarray | None] = [None] * len(paths)
    todo = []
    for i, key in enumerate(keys):
        f = cache_dir / f"{key}.npy"
        if f.exists():
            out[i] = np.load(f)
        else:
            todo.append(i)
    dim = None
    for start in range(0, len(todo), batch_size):
        idx = todo[start:start + batch_size]
        imgs = [load_resized(paths[i], image_size) for i in idx]
        ok = [j for j, im in enumerate(imgs) if im is not None]
        if ok:
            feats = np.asarray(extractor.predict(np.stack([imgs[j] for j in ok]), verbose=0), dtype=np.float32)
            dim = feats.shape[1]
            for j, f in zip(ok, feats):
                np.save(cache_dir / f"{keys[idx[j]]}.npy", f)
                out[idx[j]] = f
        if progress:
            progress(min(1.0, (start + len(idx)) / max(1, len(todo))))
    dim = dim or next((o.shape[0] for o in out if o is not None), 0)
    return np.stack([o if o is not None else np.full(dim, np.nan, np.float32) for o in out]).astype(np.float32)
