"""Open-set matching of face embeddings against an enrolled gallery.

Seed section 6: two faces are the same person when the Euclidean distance
between their 128-d dlib embeddings is under a threshold (0.6 for dlib's
ResNet model, the value dlib's author gives for LFW: 99.38% accuracy). A
check-in is open-set: the nearest *member* wins only if it is under the
threshold; otherwise the face is a stranger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.6
"""Euclidean distance under which two dlib embeddings are the same person.
Lower is stricter: fewer strangers taken for members, more members missed."""


def face_distance(embeddings: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Euclidean distance from one embedding to many (seed section 6, d(x, y)).

    Args:
        embeddings: ``(n, d)`` float array.
        query: ``(d,)`` float array.

    Returns:
        ``(n,)`` float32 distances, >= 0.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    query = np.asarray(query, dtype=np.float32)
    if embeddings.ndim != 2 or query.shape != embeddings.shape[1:]:
        raise ValueError(f"shapes {embeddings.shape} and {query.shape} do not match")
    return np.linalg.norm(embeddings - query, axis=1)


def pairwise_distances(queries: np.ndarray, embeddings: np.ndarray, sq_norms: np.ndarray | None = None) -> np.ndarray:
    """All Euclidean distances between ``(f, d)`` queries and ``(n, d)``
    embeddings in one matrix product: ``|q|^2 + |e|^2 - 2 q.e``.

    Returns:
        ``(f, n)`` float32, >= 0.
    """
    q = np.asarray(queries, dtype=np.float32)
    e = np.asarray(embeddings, dtype=np.float32)
    if sq_norms is None:
        sq_norms = np.einsum("ij,ij->i", e, e)
    d2 = np.einsum("ij,ij->i", q, q)[:, None] + sq_norms[None, :] - 2.0 * (q @ e.T)
    np.maximum(d2, 0.0, out=d2)  # rounding can give tiny negatives
    return np.sqrt(d2, out=d2)


@dataclass(frozen=True)
class Match:
    """The decision for one face.

    Attributes:
        label: the matched member's label, or ``None`` for a stranger.
        distance: Euclidean distance to the nearest sample of the nearest
            member still available (``inf`` for an empty gallery).
        nearest_label: that nearest member, even when it is over the threshold.
        margin: distance to the second-best member minus ``distance``
            (``None`` when fewer than two members); larger is more certain.
    """

    label: Hashable | None
    distance: float
    nearest_label: Hashable | None
    margin: float | None

    @property
    def is_stranger(self) -> bool:
        return self.label is None


class Gallery:
    """Enrolled embeddings grouped by member, matched in one vectorised step.

    Args:
        embeddings: ``(n, 128)`` float32, one row per enrolled sample.
        labels: ``n`` member labels (any hashable, e.g. database ids).

    Raises:
        ValueError: mismatched lengths or a non-2-D embedding array.
    """

    def __init__(self, embeddings: np.ndarray, labels: Sequence[Hashable]):
        embeddings = np.asarray(embeddings, dtype=np.float32)
        labels_arr = np.asarray(labels)
        if embeddings.ndim != 2 or len(labels_arr) != len(embeddings):
            raise ValueError(f"need (n, d) embeddings and n labels, got {embeddings.shape} and {len(labels_arr)}")
        order = np.argsort(labels_arr, kind="stable")  # group samples by member for reduceat
        self.embeddings = np.ascontiguousarray(embeddings[order])
        sorted_labels = labels_arr[order]
        self.labels, self._offsets = np.unique(sorted_labels, return_index=True)
        self._sq_norms = np.einsum("ij,ij->i", self.embeddings, self.embeddings)

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def n_members(self) -> int:
        return len(self.labels)

    def member_distances(self, queries: np.ndarray) -> np.ndarray:
        """Distance from each query to each member's closest sample.

        Args:
            queries: ``(f, d)`` float32 embeddings.

        Returns:
            ``(f, n_members)`` float32; columns follow ``self.labels``.
        """
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if len(self) == 0:
            return np.zeros((len(queries), 0), dtype=np.float32)
        d = pairwise_distances(queries, self.embeddings, self._sq_norms)
        return np.minimum.reduceat(d, self._offsets, axis=1)

    def match(self, queries: np.ndarray, threshold: float = DEFAULT_THRESHOLD) -> list[Match]:
        """Decide every face of one photo at once.

        Each face goes to its nearest member under ``threshold``; no two faces
        of one photo get the same member: the closer face wins and the other
        is re-decided among the remaining members (greedy assignment by
        ascending distance).

        Args:
            queries: ``(f, d)`` float32 embeddings of the faces of one photo.
            threshold: see ``DEFAULT_THRESHOLD``.

        Returns:
            ``f`` ``Match`` objects in the order of ``queries``.
        """
        if not threshold > 0:
            raise ValueError("threshold must be positive")
        dist = self.member_distances(queries)
        n_faces, n_members = dist.shape
        assigned: dict[int, int] = {}
        taken: set[int] = set()
        if n_members:
            faces_idx, members_idx = np.nonzero(dist < threshold)
            for k in np.argsort(dist[faces_idx, members_idx], kind="stable"):
                f, m = int(faces_idx[k]), int(members_idx[k])
                if f not in assigned and m not in taken:
                    assigned[f] = m
                    taken.add(m)
        results = []
        for f in range(n_faces):
            row = dist[f]
            if f in assigned:
                m = assigned[f]
                others = np.delete(row, m)
                margin = float(others.min() - row[m]) if len(others) else None
                results.append(Match(self.labels[m].item(), float(row[m]), self.labels[m].item(), margin))
                continue
            # stranger: report the nearest member not taken by a closer face
            free = np.array([m for m in range(n_members) if m not in taken], dtype=int)
            if len(free) == 0:
                results.append(Match(None, math.inf, None, None))
                continue
            best = free[np.argmin(row[free])]
            rest = np.setdiff1d(free, [best])
            margin = float(row[rest].min() - row[best]) if len(rest) else None
            results.append(Match(None, float(row[best]), self.labels[best].item(), margin))
        return results
