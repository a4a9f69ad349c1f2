"""Nearest-neighbour search over L2-normalised embeddings (seed section 8).

Similarity is the inner product of unit vectors, i.e. cosine similarity in
-1..1 (higher is closer). On unit vectors it orders neighbours exactly as the
seed's Euclidean distance does: ``||a - b||**2 = 2 - 2 a.b``.

Index kinds (FAISS, Johnson, Douze & Jegou, "Billion-scale similarity search
with GPUs", 2017; factory strings from the FAISS wiki "The index factory"):

==============  ======================  ==============================================
kind            FAISS factory string    what it is
==============  ======================  ==============================================
``flat``        ``Flat``                exact search (brute force, BLAS)
``pca_flat``    ``PCA256,L2norm,Flat``  the seed's PCA to 256 dimensions, then exact
``ivf``         ``IVF{K},Flat``         the seed's K-means clusters: only the ``nprobe``
                                        clusters nearest to the query are scanned
``hnsw``        ``HNSW{M},Flat``        graph search (Malkov & Yashunin, 2016)
==============  ======================  ==============================================

FAISS is imported inside the functions that need it (worker side only).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

INDEX_KINDS = ("flat", "pca_flat", "ivf", "hnsw")


@dataclass(frozen=True)
class IndexSpec:
    """How to build an index.

    Attributes:
        kind: one of :data:`INDEX_KINDS`.
        nlist: IVF clusters K; 0 picks ``round(sqrt(n))`` (FAISS wiki guideline
            of 1..16 x sqrt(n)), capped so each cluster trains on >= 39 points
            (FAISS's own warning threshold).
        nprobe: IVF clusters scanned per query (1 = the seed's "nearest cluster
            only"; higher is slower and closer to exact).
        pca_dim: PCA output width (seed: 256), capped at min(n, d).
        hnsw_m: HNSW neighbours per node (FAISS default 32).
        ef_search: HNSW search breadth (higher is slower and more exact).
    """

    kind: str = "flat"
    nlist: int = 0
    nprobe: int = 8
    pca_dim: int = 256
    hnsw_m: int = 32
    ef_search: int = 64

    def __post_init__(self):
        if self.kind not in INDEX_KINDS:
            raise ValueError(f"Unknown index kind {self.kind!r}; choose one of {', '.join(INDEX_KINDS)}.")
        for f in ("nlist", "nprobe", "pca_dim", "hnsw_m", "ef_search"):
            if int(getattr(self, f)) < (0 if f == "nlist" else 1):
                raise ValueError(f"{f} must be a positive integer, got {getattr(self, f)}")

    def resolved(self, n: int, d: int) -> "IndexSpec":
        """This spec with ``nlist`` and ``pca_dim`` fitted to ``n`` vectors of width ``d``."""
        nlist = self.nlist or max(1, round(math.sqrt(n)))
        nlist = max(1, min(nlist, n // 39 or 1))
        return replace(self, nlist=nlist, nprobe=min(self.nprobe, nlist), pca_dim=max(1, min(self.pca_dim, n, d)))

    def factory_string(self) -> str:
        return {"flat": "Flat", "pca_flat": f"PCA{self.pca_dim},L2norm,Flat", "ivf": f"IVF{self.nlist},Flat",
                "hnsw": f"HNSW{self.hnsw_m},Flat"}[self.kind]


def _check_vectors(x: np.ndarray, name: str = "embeddings") -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"{name} must be a (n, d) array, got shape {x.shape}")
    for start in range(0, len(x), 65536):  # in chunks: no full-size temporary at 1M x 1280
        if not np.isfinite(x[start:start + 65536]).all():
            raise ValueError(f"{name} contain NaN or infinite values")
    return x


def build_index(embeddings: np.ndarray, spec: IndexSpec, *, random_state: int = 0) -> Any:
    """Build (train and fill) a FAISS index over unit vectors.

    Args:
        embeddings: ``(n, d) float32``, L2-normalised rows; n >= 1.
        spec: the index kind and parameters (fitted to n with ``spec.resolved``).
        random_state: seed of the k-means (IVF) and PCA training samples.

    Returns:
        A ``faiss.Index`` with inner-product metric; row i of ``embeddings``
        is id i.

    Raises:
        ValueError: empty or malformed embeddings.
    """
    import faiss

    x = _check_vectors(embeddings)
    if len(x) == 0:
        raise ValueError("an index needs at least one embedding")
    spec = spec.resolved(*x.shape)
    index = faiss.index_factory(x.shape[1], spec.factory_string(), faiss.METRIC_INNER_PRODUCT)
    if spec.kind == "ivf":
        faiss.extract_index_ivf(index).cp.seed = random_state
    if spec.kind == "hnsw":
        index.hnsw.efConstruction = max(40, spec.ef_search)
    if not index.is_trained:
        index.train(x)
    index.add(x)
    configure_index(index, spec)
    return index


def delta_spec(spec: IndexSpec) -> IndexSpec:
    """The spec of the small index that holds the rows added to a built one
    (:func:`delta_index`): exact for the exact kinds, HNSW with the same
    breadth for the approximate ones (rows go in one at a time, no training)."""
    if spec.kind in ("flat", "pca_flat"):
        return IndexSpec("flat")
    return IndexSpec("hnsw", hnsw_m=spec.hnsw_m, ef_search=spec.ef_search)


def delta_index(dim: int, spec: IndexSpec) -> Any:
    """An empty index for the rows added since ``spec``'s index was built
    (photos embedded after the build), searched beside it. Adding them to the
    built index itself grows its storage: at a million 1280-d rows that is a
    5 GB reallocation and copy on the first add (measured: 12.6 s for the
    first 1,000 rows with one thread, 0.4 s for the next 1,000), and twice the
    memory for a moment.

    Args:
        dim: vector width d.
        spec: the built index's spec; :func:`delta_spec` says the kind used.

    Returns:
        A ``faiss.Index`` (inner product) to ``add`` ``(m, d) float32`` unit rows to.
    """
    import faiss

    ds = delta_spec(spec)
    index = faiss.index_factory(int(dim), ds.factory_string(), faiss.METRIC_INNER_PRODUCT)
    if ds.kind == "hnsw":
        index.hnsw.efConstruction = max(40, ds.ef_search)
    configure_index(index, ds)
    return index


def configure_index(index: Any, spec: IndexSpec) -> None:
    """Apply search-time parameters (``nprobe``, ``efSearch``) to a built or loaded index."""
    import faiss

    if spec.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    elif spec.kind == "hnsw":
        faiss.downcast_index(index).hnsw.efSearch = spec.ef_search


class ExcludedRows:
    """Rows of a built index that a search must skip (photos deleted since the
    build), as a FAISS ID selector applied *inside* the search (FAISS wiki,
    "Setting search parameters for one query": ``IDSelectorNot`` over an
    ``IDSelectorBatch``), so the top k are k live rows however many were
    deleted, with no over-fetching.

    Args:
        rows: ``(r,)`` int64 row ids of the index (``build_index``'s row i is id i).
        spec: the index's :class:`IndexSpec`: the search-time parameters
            (``nprobe``, ``efSearch``) go into the per-search parameters, which
            replace the index's own.
    """

    def __init__(self, rows: np.ndarray, spec: "IndexSpec"):
        import faiss

        self.rows = np.unique(np.asarray(rows, dtype=np.int64))
        self._batch = faiss.IDSelectorBatch(self.rows)  # kept: the selectors below point at it
        self._not = faiss.IDSelectorNot(self._batch)
        if spec.kind == "hnsw":
            self.params = faiss.SearchParametersHNSW(sel=self._not, efSearch=spec.ef_search)
        elif spec.kind == "ivf":
            self.params = faiss.SearchParametersIVF(sel=self._not, nprobe=spec.nprobe)
        elif spec.kind == "pca_flat":
            self._inner = faiss.SearchParameters(sel=self._not)
            self.params = faiss.SearchParametersPreTransform(index_params=self._inner)
        else:
            self.params = faiss.SearchParameters(sel=self._not)

    def __len__(self) -> int:
        return len(self.rows)


def index_search(index: Any, queries: np.ndarray, k: int, *, excluded: ExcludedRows | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each query in a FAISS index.

    Args:
        index: from :func:`build_index` / :func:`load_index`.
        queries: ``(m, d) float32`` unit vectors.
        k: neighbours wanted, >= 1.
        excluded: rows never to return (:class:`ExcludedRows`); ``None`` or empty: none.

    Returns:
        ``(scores, ids)``: ``(m, k) float32`` similarities (best first) and
        ``(m, k) int64`` row ids; ``-1`` ids (score ``-inf``) where fewer than k exist.
    """
    q = _check_vectors(queries, "queries")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if excluded is not None and len(excluded):
        scores, ids = index.search(q, int(k), params=excluded.params)
    else:
        scores, ids = index.search(q, int(k))
    scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
    return scores, ids.astype(np.int64)


def exact_search(embeddings: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product with numpy (no index), same output as :func:`index_search`."""
    x, q = _check_vectors(embeddings), _check_vectors(queries, "queries")
    m = len(q)
    scores_out = np.full((m, k), -np.inf, np.float32)
    ids_out = np.full((m, k), -1, np.int64)
    if len(x) == 0:
        return scores_out, ids_out
    sims = q @ x.T
    kk = min(k, len(x))
    part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    part_scores = np.take_along_axis(sims, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    ids_out[:, :kk] = np.take_along_axis(part, order, axis=1)
    scores_out[:, :kk] = np.take_along_axis(part_scores, order, axis=1)
    return scores_out, ids_out


def merge_top_k(results: list[tuple[np.ndarray, np.ndarray]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge several ``(scores (k_i,), ids (k_i,))`` result lists of one query
    (ids already in one id space) into the best ``k``, dropping ``-1`` ids and
    duplicates (the higher score wins). Returns ``(scores, ids)``, best first."""
    best: dict[int, float] = {}
    for scores, ids in results:
        for s, i in zip(np.asarray(scores).ravel(), np.asarray(ids).ravel()):
            if i >= 0 and float(s) > best.get(int(i), -np.inf):
                best[int(i)] = float(s)
    top = sorted(best.items(), key=lambda t: (-t[1], t[0]))[:k]
    return np.array([s for _, s in top], np.float32), np.array([i for i, _ in top], np.int64)


def seed_loop_search(features: np.ndarray, query: np.ndarray, k: int = 10) -> list[int]:
    """The seed's search (section 8, ``find_similar_images.py``): a Python loop
    of ``np.linalg.norm`` over every stored vector, then ``sorted``. Kept as the
    baseline that ``bench/search.py`` measures against."""
    distances = [(np.linalg.norm(features[j] - query), j) for j in range(len(features))]
    distances = sorted(distances)
    return [j for _, j in distances[:k]]


def save_index(index: Any, path: str | os.PathLike) -> Path:
    """Write with ``faiss.write_index`` to a temporary name, then rename."""
    import faiss

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{os.getpid()}-{path.name}")
    faiss.write_index(index, str(tmp))
    os.replace(tmp, path)
    return path


def load_index(path: str | os.PathLike, spec: IndexSpec) -> Any:
    """Read an index written by :func:`save_index` and apply ``spec``'s search parameters."""
    import faiss

    index = faiss.read_index(str(path))
    configure_index(index, spec)
    return index


def index_bytes(index: Any) -> int:
    """Serialized size of an index in bytes (``faiss.write_index`` to a
    temporary file, so no second in-memory copy), a measure of its memory footprint."""
    import tempfile

    import faiss

    with tempfile.NamedTemporaryFile(suffix=".faiss") as tmp:
        faiss.write_index(index, tmp.name)
        return os.path.getsize(tmp.name)


@dataclass(frozen=True, eq=False)
class Clustering:
    """K-means groups of a gallery (seed section 8, "K-Mean").

    Attributes:
        labels: ``(n,) int64`` cluster of each row, 0..k-1.
        centers: ``(k, d) float32``.
        representatives: per cluster, row indices nearest to its center first.
    """

    labels: np.ndarray
    centers: np.ndarray
    representatives: tuple[tuple[int, ...], ...]


KMEANS_FIT_SAMPLE = 20_000
"""At most this many rows (a seeded sample) fit the k-means centres; every row
is then assigned to its nearest centre. scikit-learn would copy a gallery of a
million 1280-d rows whole (5 GB, beside the index being built: the 1,000,000
photo build ran out of 24 GB) and take minutes; 20,000 rows still give the
few centres browsing needs thousands of points each (FAISS's own k-means
samples at most 256 points per centre, ``max_points_per_centroid``)."""


def kmeans_clusters(embeddings: np.ndarray, k: int, *, per_cluster: int = 6, random_state: int = 0) -> Clustering:
    """Group embeddings with scikit-learn's ``KMeans`` (k-means++ init, as the seed).

    Past :data:`KMEANS_FIT_SAMPLE` rows the centres are fitted on a seeded
    sample and every row is assigned to its nearest centre, in chunks (no copy
    of the embeddings).

    Args:
        embeddings: ``(n, d) float32``.
        k: clusters wanted; capped at n.
        per_cluster: representatives kept per cluster (the rows nearest its centre).
        random_state: seed.

    Returns:
        ``Clustering``: ``labels`` ``(n,)`` int64, ``centers`` ``(k, d)`` float32, and the
        representatives' row numbers per cluster.

    Raises:
        ValueError: no embedding.
    """
    from sklearn.cluster import KMeans

    x = _check_vectors(embeddings)
    if len(x) == 0:
        raise ValueError("clustering needs at least one embedding")
    k = max(1, min(int(k), len(x)))
    sample = None
    if len(x) > KMEANS_FIT_SAMPLE:
        sample = np.sort(np.random.default_rng(random_state).choice(len(x), KMEANS_FIT_SAMPLE, replace=False))
    km = KMeans(n_clusters=k, random_state=random_state, n_init=4).fit(x if sample is None else x[sample])
    centers = km.cluster_centers_.astype(np.float32)
    if sample is None:
        labels = km.labels_.astype(np.int64)
        own = np.linalg.norm(x - centers[labels], axis=1)
    else:
        labels, own = np.empty(len(x), np.int64), np.empty(len(x), np.float32)
        c_sq = np.einsum("ij,ij->i", centers, centers)
        for s in range(0, len(x), 50_000):
            part = x[s:s + 50_000]
            d2 = np.einsum("ij,ij->i", part, part)[:, None] - 2 * part @ centers.T + c_sq[None, :]
            labels[s:s + len(part)] = d2.argmin(axis=1)
            own[s:s + len(part)] = np.sqrt(np.maximum(d2.min(axis=1), 0))
    reps = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        reps.append(tuple(int(r) for r in rows[np.argsort(own[rows], kind="stable")][:per_cluster]))
    return Clustering(labels, centers, tuple(reps))


def precision_at_k(embeddings: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean precision@k of leave-one-out retrieval: each row queries all the
    others (itself excluded, as the seed's ``j != i``); a hit is a row of the
    same label. Exact inner-product search.

    Args:
        embeddings: ``(n, d) float32`` unit vectors, n > k.
        labels: ``(n,)`` class of each row.
    """
    x = _check_vectors(embeddings)
    labels = np.asarray(labels)
    if len(x) <= k:
        raise ValueError(f"precision@{k} needs more than {k} rows")
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return float((labels[top] == labels[:, None]).mean())


def retrieval_metrics(embeddings: np.ndarray, labels: np.ndarray, k: int = 10) -> dict:
    """Leave-one-out retrieval quality of an embedding, as "A Metric Learning
    Reality Check" (Musgrave et al. 2020) reports it: each row queries all the
    others by cosine similarity; a hit is a row of the same label; R is the
    number of other rows with the query's label.

    Args:
        embeddings: ``(n, d)`` float vectors (normalised here: cosine similarity).
        labels: ``(n,)`` group of each row; every group needs at least two rows.
        k: for ``precision_at_k``; lowered to n - 1 for fewer rows (the returned ``k`` says).

    Returns:
        ``{"r_at_1", "r_precision", "map_at_r", "precision_at_k", "k", "n"}``, floats 0..1:
        R@1 (= P@1), R-Precision (hits among the first R), MAP@R (mean over queries of the
        precision at each hit among the first R, divided by R), precision@k.

    Raises:
        ValueError: a group with a single row.
    """
    x = np.asarray(embeddings, np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    labels = np.asarray(labels)
    groups, counts = np.unique(labels, return_counts=True)
    if (counts < 2).any():
        raise ValueError(f"Every group needs at least two photos; {groups[counts < 2][0]!r} has one.")
    k = min(k, len(x) - 1)
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    order = np.argsort(-sims, axis=1, kind="stable")
    rel = labels[order] == labels[:, None]  # (n, n): hit at rank j of query i
    r = (labels[:, None] == labels[None, :]).sum(axis=1) - 1  # other rows of the query's group
    ranks = np.arange(1, len(x) + 1)
    within = ranks[None, :] <= r[:, None]
    hits_r = (rel & within).sum(axis=1)
    precision = np.cumsum(rel, axis=1) / ranks[None, :]
    map_r = (precision * (rel & within)).sum(axis=1) / r
    return {"r_at_1": float(rel[:, 0].mean()), "r_precision": float((hits_r / r).mean()),
            "map_at_r": float(map_r.mean()), "precision_at_k": float(rel[:, :k].mean()), "k": int(k), "n": int(len(x))}


def recall_at_k(approx_ids: np.ndarray, exact_ids: np.ndarray) -> float:
    """Share of the exact top-k ids that the approximate search also returned
    (both ``(m, k)``; ``-1`` entries of the exact list are ignored)."""
    a, e = np.asarray(approx_ids), np.asarray(exact_ids)
    hits = total = 0
    for ra, re_ in zip(a, e):
        want = set(int(i) for i in re_ if i >= 0)
        hits += len(want & set(int(i) for i in ra))
        total += len(want)
    return hits / total if total else 1.0
