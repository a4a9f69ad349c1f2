"""Retrieval evaluation on a folder of labelled photos (one sub-folder per
class): precision@k per backbone and recall@k of each approximate index
against exact search. Used by the ``evaluate`` management command, its test
and ``bench/search.py``."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from vision.images import load_image
from vision.search import INDEX_KINDS, IndexSpec, build_index, exact_search, index_search, precision_at_k, recall_at_k

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True, eq=False)
class LabelledEmbeddings:
    """Embeddings of a labelled folder.

    Attributes:
        paths: file paths relative to the folder, sorted.
        labels: ``(n,)`` class index into ``classes``.
        classes: class (sub-folder) names, sorted.
        embeddings: ``(n, d) float32`` unit rows.
        unreadable: ``(relative path, reason)`` of files skipped.
    """

    paths: tuple[str, ...]
    labels: np.ndarray
    classes: tuple[str, ...]
    embeddings: np.ndarray
    unreadable: tuple[tuple[str, str], ...] = ()


def labelled_files(folder: str | os.PathLike) -> tuple[list[Path], list[str], np.ndarray]:
    """``(files, classes, labels)`` of a folder whose sub-folders are classes."""
    root = Path(folder)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files, labels = [], []
    for ci, c in enumerate(classes):
        for p in sorted((root / c).rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                files.append(p)
                labels.append(ci)
    return files, classes, np.array(labels, np.int64)


def embed_labelled_folder(folder: str | os.PathLike, embed: Callable[[list[np.ndarray]], np.ndarray], *,
                          cache_dir: str | os.PathLike | None = None, cache_key: str = "", batch: int = 32,
                          progress: Callable[[int, int], None] | None = None) -> LabelledEmbeddings:
    """Embed every photo of a labelled folder, with an optional on-disk cache.

    Args:
        folder: root with one sub-folder per class.
        embed: ``list[(h, w, 3) uint8] -> (n, d) float32`` (e.g. ``Backbone.embeddings``).
        cache_dir: if given, the result is saved there as ``.npz`` and reused
            while the file list, sizes and ``cache_key`` (say the backbone
            name and version) are unchanged.
        batch: photos per ``embed`` call.
    """
    root = Path(folder)
    files, classes, labels = labelled_files(root)
    rel = [p.relative_to(root).as_posix() for p in files]
    digest = hashlib.sha256("\n".join([cache_key] + [f"{r}:{p.stat().st_size}" for r, p in zip(rel, files)])
                            .encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"{cache_key or 'emb'}-{digest}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        z = np.load(cache, allow_pickle=False)
        return LabelledEmbeddings(tuple(z["paths"].tolist()), z["labels"], tuple(z["classes"].tolist()),
                                  z["embeddings"], tuple(tuple(x) for x in z["unreadable"].tolist()))
    keep, vecs, bad = [], [], []
    for start in range(0, len(files), batch):
        pixels, idx = [], []
        for j in range(start, min(start + batch, len(files))):
            try:
                pixels.append(load_image(files[j]).pixels)
                idx.append(j)
            except Exception as err:  # InvalidImageError or an OS error: report and go on
                bad.append((rel[j], str(err)))
        if pixels:
            vecs.append(embed(pixels))
            keep += idx
        if progress:
            progress(min(start + batch, len(files)), len(files))
    emb = np.concatenate(vecs).astype(np.float32) if vecs else np.zeros((0, 0), np.float32)
    out = LabelledEmbeddings(tuple(rel[j] for j in keep), labels[keep], tuple(classes), emb, tuple(bad))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{os.getpid()}-{cache.name}")
        with open(tmp, "wb") as fh:
            np.savez(fh, paths=np.array(out.paths), labels=out.labels, classes=np.array(out.classes),
                     embeddings=out.embeddings, unreadable=np.array(out.unreadable, dtype=str).reshape(-1, 2))
        os.replace(tmp, cache)
    return out


def index_recall_report(embeddings: np.ndarray, *, k: int = 10, specs: list[IndexSpec] | None = None) -> list[dict]:
    """Recall@k of each index kind against exact search, every row querying
    the others (itself excluded).

    Returns:
        One ``{kind, factory, recall, nlist, nprobe}`` dict per spec (default: one per
        kind with default parameters, IVF at nprobe 1 as the seed's "nearest cluster only"
        and at the default nprobe).
    """
    x = np.ascontiguousarray(embeddings, np.float32)
    n = len(x)
    if specs is None:
        specs = [IndexSpec("flat"), IndexSpec("pca_flat"), IndexSpec("ivf", nprobe=1), IndexSpec("ivf"), IndexSpec("hnsw")]
    _, exact = exact_search(x, x, k + 1)
    exact = _drop_self(exact, k)
    report = []
    for spec in specs:
        index = build_index(x, spec)
        _, ids = index_search(index, x, k + 1)
        r = spec.resolved(n, x.shape[1])
        ivf = r.kind == "ivf"
        report.append({"kind": r.kind, "factory": r.factory_string(), "nlist": r.nlist if ivf else None,
                       "nprobe": r.nprobe if ivf else None, "recall": recall_at_k(_drop_self(ids, k), exact)})
    return report


def _drop_self(ids: np.ndarray, k: int) -> np.ndarray:
    out = np.full((len(ids), k), -1, np.int64)
    for i, row in enumerate(ids):
        others = [j for j in row if j != i and j >= 0][:k]
        out[i, :len(others)] = others
    return out


__all__ = ["INDEX_KINDS", "LabelledEmbeddings", "embed_labelled_folder", "index_recall_report", "labelled_files",
           "precision_at_k"]
