"""Open-set matching of face embeddings against an enrolled gallery.

Seed section 6: two faces are the same person when the Euclidean distance
between their 128-d dlib embeddings is under a threshold (0.6 for dlib's
ResNet model, the value dlib's author gives for LFW: 99.38% accuracy). That is
a *verification* threshold (one pair). A check-in is open-set *identification*
against N members, and a stranger's nearest member gets closer as N grows: the
false-positive identification rate is about N times the pairwise false-match
rate (Grother & Ngan, NIST IR 8271, FRVT Part 2: Identification, 2019). Tried
on 24 enrolled people, "nearest member under 0.6" logged 9 of 16 strangers'
check-ins as members (issue 18).

The decision (:meth:`Gallery.decide`) therefore accepts the nearest member
only when all of these hold:

1. its distance is under the policy's **threshold**, itself never above
   ``outer_bound`` (the deployment's ``FACE_MATCH_THRESHOLD``, 0.6);
2. once the gallery has at least :data:`MIN_COHORT_MEMBERS` members, its
   distance is also under the **cohort cut** ``mean - z * sd`` of the
   gallery's own impostor distances: for each enrolled sample, its distance to
   the nearest *other* member, i.e. what that person would score as a
   stranger if they were not enrolled (leave-one-member-out). This is score
   normalisation against the enrolled gallery as the cohort (Z-norm as in
   speaker verification, Auckenthaler et al., Digital Signal Processing 10,
   2000), with the same extreme-value effect a stranger faces: the more (and
   the more alike) the members, the lower the cut. ``z`` is the Normal quantile
   of the policy's target false-accept rate. Under ``MIN_COHORT_MEMBERS`` the
   impostor statistics are too few to fit and the fixed threshold alone
   applies (the small-gallery fallback);
3. when there are two or more members, the second-nearest member is at least
   the policy's **margin** further away (a face between two members is
   "not sure", never either of them).

Settings per policy (:data:`POLICIES`), chosen on enrolled people only
(``../shared/datasets/faces``, the 12 people the real-photo test enrols, 2 or 3
photos each; each person's other photos scored with them enrolled (genuine)
and, leave-one-member-out, without them (impostor); the 4 people the test keeps
out were never looked at): genuine nearest distances reached 0.578 (99th
percentile, 2 photos) and 0.528 (3 photos), at most 0.593; impostors were never
under 0.600 (1st percentile 0.616 and 0.606). Every genuine margin under 0.59
was at least 0.10, so margins up to 0.08 cost no identification there.

==========  =========  ======  ========================  ====================================
policy      threshold  margin  cohort z (target FAR)     meant for
==========  =========  ======  ========================  ====================================
strict      0.55       0.08    3.09 (0.1 %)              unattended kiosks, doors
balanced    0.57       0.05    2.33 (1 %)                the default: staffed check-in desks
lenient     0.60       0.03    1.64 (5 %)                attendance where a miss costs more
==========  =========  ======  ========================  ====================================

The strict threshold sits 0.05 under every impostor seen; the balanced one
halfway between the 3-photo genuine 99th percentile and the nearest impostor;
the lenient one is dlib's bound.

Per-member statistics were measured and are not part of the rule.
``bench/matching_rules.py`` scores a user-specific bound (Jain & Ross, ICIP
2002): a member is accepted only under ``own + slack``, ``own`` being the
largest leave-one-out distance among that member's own samples. On the same
enrolled people (82 probe photos, 3 enrolment photos each; impostors leave one
member out) it missed 11, 3 and 3 genuine photos at slack 0.04, 0.08 and 0.12
(identified 86.6 % and 96.3 %, against 98.8 % without it) and refused no more
strangers at strict and balanced (100 % either way); only at lenient did it
refuse the one impostor photo lenient takes. Three photos give a member three
own distances: too few for a spread worth trusting, so the cohort (all
members' samples together) carries the normalisation instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

DEFAULT_THRESHOLD = 0.6
"""Euclidean distance under which two dlib embeddings are the same person
(pairwise verification, dlib's value): the outer bound of every policy.
Lower is stricter: fewer strangers taken for members, more members missed."""

MIN_COHORT_MEMBERS = 8
"""Members needed before the cohort cut applies (rule 2 of the module
docstring): 8 members with 3 photos give 24 impostor distances, about the
fewest a mean and a standard deviation are worth fitting to."""

COHORT_SAMPLE = 2000
"""At most this many enrolled samples (seeded choice) are scored against the
whole gallery for the cohort statistics: enough for a mean and a standard
deviation, and it keeps the calibration of a 10,000-member gallery under a
second instead of an ``n^2`` matrix."""


@dataclass(frozen=True)
class Policy:
    """How strict the open-set decision is (module docstring, rules 1-3).

    Attributes:
        name: ``"strict"``, ``"balanced"`` or ``"lenient"``.
        threshold: fixed distance cut, Euclidean on 128-d dlib embeddings, 0..``DEFAULT_THRESHOLD``.
        margin: least distance from the nearest to the second-nearest member, >= 0.
        cohort_z: the cohort cut is ``mean - cohort_z * sd`` of the gallery's impostor distances.
        target_far: the false-accept rate ``cohort_z`` is the Normal quantile of (0..1).
        label: what the admin reads.
    """

    name: str
    threshold: float
    margin: float
    cohort_z: float
    target_far: float
    label: str


POLICIES = {
    "strict": Policy("strict", 0.55, 0.08, 3.09, 0.001, "Strict: fewest strangers let in (kiosks, doors)"),
    "balanced": Policy("balanced", 0.57, 0.05, 2.33, 0.01, "Balanced (default)"),
    "lenient": Policy("lenient", 0.60, 0.03, 1.64, 0.05, "Lenient: fewest members missed"),
}
DEFAULT_POLICY = "balanced"


def policy_get(name: str | None) -> Policy:
    """The policy called ``name`` (``None`` or ``""``: the default).

    Raises:
        ValueError: an unknown name (in words, with the choices).
    """
    name = name or DEFAULT_POLICY
    if name not in POLICIES:
        raise ValueError(f"Unknown matching policy {name!r}; choose one of {', '.join(POLICIES)}.")
    return POLICIES[name]


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
        label: the matched member's label, or ``None`` (a stranger, or not sure).
        distance: Euclidean distance to the nearest sample of the nearest
            member still available (``inf`` for an empty gallery).
        nearest_label: that nearest member, even when it is over the threshold.
        margin: distance to the second-best member minus ``distance``
            (``None`` when fewer than two members); larger is more certain.
        ambiguous: under the threshold for its nearest member, but the second
            nearest was within the policy's margin: "not sure", not a stranger.
    """

    label: Hashable | None
    distance: float
    nearest_label: Hashable | None
    margin: float | None
    ambiguous: bool = False

    @property
    def is_stranger(self) -> bool:
        return self.label is None and not self.ambiguous


@dataclass(frozen=True)
class Cut:
    """The distance cut a policy uses on one gallery (module docstring, rules 1-2).

    Attributes:
        threshold: the distance under which the nearest member may be accepted (> 0).
        source: ``"cohort"`` (the gallery's impostor statistics set it), ``"policy"``
            (the policy's fixed threshold) or ``"outer bound"``.
        margin: the policy's least margin to the second-nearest member.
        cohort: the cut from the cohort alone, or ``None`` for a gallery under
            ``MIN_COHORT_MEMBERS`` members.
    """

    threshold: float
    source: str
    margin: float
    cohort: float | None


@dataclass(frozen=True)
class Cohort:
    """The gallery's own distance statistics (leave-one-out), for the cohort cut
    and the calibration page.

    Attributes:
        genuine: ``(g,)`` float32: for each scored sample of a member with two or
            more samples, its distance to the nearest *other* sample of the same member.
        impostor: ``(i,)`` float32: for each scored sample, its distance to the
            nearest sample of any other member (empty with fewer than two members).
        n_members: members in the gallery.
    """

    genuine: np.ndarray
    impostor: np.ndarray
    n_members: int

    def cut(self, z: float) -> float | None:
        """``mean - z * sd`` of the impostor distances, or ``None`` under ``MIN_COHORT_MEMBERS`` members."""
        if self.n_members < MIN_COHORT_MEMBERS or len(self.impostor) < 2:
            return None
        return float(self.impostor.mean() - z * self.impostor.std(ddof=1))

    def rates(self, threshold: float) -> tuple[float | None, float | None]:
        """(expected false-accept rate, expected false-reject rate) at ``threshold``:
        the share of impostor distances under it and of genuine ones at or over it
        (``None`` where there is nothing to count)."""
        far = float((self.impostor < threshold).mean()) if len(self.impostor) else None
        frr = float((self.genuine >= threshold).mean()) if len(self.genuine) else None
        return far, frr


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
        self.labels, self._offsets, self._counts = np.unique(sorted_labels, return_index=True, return_counts=True)
        self._member_of = np.repeat(np.arange(len(self.labels)), self._counts)
        self._sq_norms = np.einsum("ij,ij->i", self.embeddings, self.embeddings)
        self._cohort: Cohort | None = None

    def __len__(self) -> int:
        return len(self.embeddings)

    @property
    def n_members(self) -> int:
        return len(self.labels)

    def samples_per_member(self) -> dict:
        """``{label: number of samples}``."""
        return {lab.item(): int(c) for lab, c in zip(self.labels, self._counts)}

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

    def cohort(self, seed: int = 0) -> Cohort:
        """The gallery's genuine and impostor distances (see :class:`Cohort`),
        from at most ``COHORT_SAMPLE`` samples (a seeded choice), computed once
        per ``Gallery`` and kept."""
        if self._cohort is None:
            n = len(self)
            idx = np.arange(n)
            if n > COHORT_SAMPLE:
                idx = np.sort(np.random.default_rng(seed).choice(n, COHORT_SAMPLE, replace=False))
            genuine, impostor = [], []
            for start in range(0, len(idx), 256):  # chunks keep the (chunk, n) matrix small
                rows = idx[start:start + 256]
                d = pairwise_distances(self.embeddings[rows], self.embeddings, self._sq_norms)
                d[np.arange(len(rows)), rows] = np.inf  # leave the sample itself out
                md = np.minimum.reduceat(d, self._offsets, axis=1)
                own = self._member_of[rows]
                genuine.append(md[np.arange(len(rows)), own])
                md[np.arange(len(rows)), own] = np.inf
                impostor.append(md.min(axis=1) if self.n_members > 1 else np.zeros(0, np.float32))
            g = np.concatenate(genuine) if genuine else np.zeros(0, np.float32)
            i = np.concatenate(impostor) if impostor else np.zeros(0, np.float32)
            self._cohort = Cohort(g[np.isfinite(g)].astype(np.float32), i[np.isfinite(i)].astype(np.float32),
                                  self.n_members)
        return self._cohort

    def cut(self, policy: Policy, outer_bound: float = DEFAULT_THRESHOLD) -> Cut:
        """The distance cut ``policy`` uses on this gallery: the lowest of
        ``outer_bound``, the policy's threshold and (``MIN_COHORT_MEMBERS``
        members or more) the cohort cut.

        Raises:
            ValueError: ``outer_bound`` not above 0.
        """
        if not outer_bound > 0:
            raise ValueError("the outer bound must be positive")
        cohort = self.cohort().cut(policy.cohort_z) if self.n_members >= MIN_COHORT_MEMBERS else None
        options = [(outer_bound, "outer bound"), (policy.threshold, "policy")]
        if cohort is not None:
            options.append((max(cohort, 1e-6), "cohort"))
        threshold, source = min(options, key=lambda o: o[0])
        return Cut(float(threshold), source, policy.margin, cohort)

    def decide(self, queries: np.ndarray, policy: Policy, outer_bound: float = DEFAULT_THRESHOLD) -> list[Match]:
        """The open-set decision of the module docstring for every face of one photo.

        Args:
            queries: ``(f, 128)`` float32 embeddings.
            policy: one of :data:`POLICIES`.
            outer_bound: no cut above it (the deployment's ``FACE_MATCH_THRESHOLD``).

        Returns:
            ``f`` :class:`Match` objects in the order of ``queries``.
        """
        cut = self.cut(policy, outer_bound)
        return self.match(queries, cut.threshold, min_margin=cut.margin)

    def match(self, queries: np.ndarray, threshold: float = DEFAULT_THRESHOLD, *, min_margin: float = 0.0) -> list[Match]:
        """Decide every face of one photo at once against a fixed threshold.

        Each face goes to its nearest member under ``threshold``, unless the
        second-nearest member is less than ``min_margin`` further (then it is
        ``ambiguous``); no two faces of one photo get the same member: the
        closer face wins and the other is re-decided among the remaining
        members (greedy assignment by ascending distance).

        Args:
            queries: ``(f, d)`` float32 embeddings of the faces of one photo.
            threshold: see ``DEFAULT_THRESHOLD``; > 0.
            min_margin: >= 0; 0 (the default) is the rule before issue 18.

        Returns:
            ``f`` ``Match`` objects in the order of ``queries``.

        Raises:
            ValueError: ``threshold`` not above 0 or a negative ``min_margin``.
        """
        if not threshold > 0:
            raise ValueError("threshold must be positive")
        if min_margin < 0:
            raise ValueError("the margin cannot be negative")
        dist = self.member_distances(queries)
        n_faces, n_members = dist.shape
        ambiguous: set[int] = set()
        if n_members >= 2 and min_margin > 0:
            two = np.partition(dist, 1, axis=1)[:, :2]
            ambiguous = {f for f in range(n_faces) if two[f, 0] < threshold and two[f, 1] - two[f, 0] < min_margin}
        assigned: dict[int, int] = {}
        taken: set[int] = set()
        if n_members:
            faces_idx, members_idx = np.nonzero(dist < threshold)
            for k in np.argsort(dist[faces_idx, members_idx], kind="stable"):
                f, m = int(faces_idx[k]), int(members_idx[k])
                if f not in assigned and f not in ambiguous and m not in taken:
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
            results.append(Match(None, float(row[best]), self.labels[best].item(), margin, ambiguous=f in ambiguous))
        return results
