import math

import numpy as np
import pytest

from vision.matching import Gallery, face_distance, pairwise_distances


def _unit(rng, n, d=128):
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_distances_match_naive_euclidean():
    rng = np.random.default_rng(0)
    e, q = _unit(rng, 50), _unit(rng, 3)
    naive = np.array([[np.sqrt(((a - b) ** 2).sum()) for b in e] for a in q])
    np.testing.assert_allclose(pairwise_distances(q, e), naive, atol=1e-5)
    np.testing.assert_allclose(face_distance(e, q[0]), naive[0], atol=1e-6)
    assert pairwise_distances(q, e).dtype == np.float32


def test_face_distance_rejects_bad_shapes():
    with pytest.raises(ValueError):
        face_distance(np.zeros((3, 128)), np.zeros(64))


def _gallery():
    # member 1 at x=0, member 2 at x=1, member 3 at x=3 along one axis (two samples for member 1)
    pts = np.zeros((4, 128), np.float32)
    pts[1, 0], pts[2, 0], pts[3, 0] = 0.1, 1.0, 3.0
    return Gallery(pts, [1, 1, 2, 3])


def test_nearest_member_under_threshold_with_margin():
    g = _gallery()
    q = np.zeros((1, 128), np.float32)
    q[0, 0] = 0.3
    (m,) = g.match(q, threshold=0.6)
    assert m.label == 1 and m.distance == pytest.approx(0.2, abs=1e-5)
    assert m.margin == pytest.approx(0.7 - 0.2, abs=1e-5)  # second-best member (2) at 0.7
    assert g.n_members == 3 and len(g) == 4


def test_over_threshold_is_a_stranger_but_reports_nearest():
    g = _gallery()
    q = np.zeros((1, 128), np.float32)
    q[0, 0] = 2.0
    (m,) = g.match(q, threshold=0.6)
    assert m.is_stranger and m.label is None
    assert m.nearest_label in (2, 3) and m.distance == pytest.approx(1.0, abs=1e-5)


def test_two_faces_never_get_the_same_member():
    g = _gallery()
    q = np.zeros((2, 128), np.float32)
    q[0, 0], q[1, 0] = 0.5, 0.05  # both nearest to member 1; face 1 is closer
    a, b = g.match(q, threshold=0.6)
    assert b.label == 1
    assert a.label == 2 and a.distance == pytest.approx(0.5, abs=1e-5)  # re-decided: member 2 is 0.5 away


def test_loser_becomes_stranger_when_no_other_member_is_close():
    g = _gallery()
    q = np.zeros((2, 128), np.float32)
    q[0, 0], q[1, 0] = -0.2, 0.05
    a, b = g.match(q, threshold=0.6)
    assert b.label == 1 and a.label is None and a.nearest_label == 2


def test_empty_gallery_everyone_is_a_stranger():
    g = Gallery(np.zeros((0, 128), np.float32), [])
    (m,) = g.match(np.zeros((1, 128), np.float32))
    assert m.is_stranger and math.isinf(m.distance) and m.margin is None


def test_bad_arguments():
    with pytest.raises(ValueError):
        Gallery(np.zeros((3, 128)), [1, 2])
    with pytest.raises(ValueError):
        _gallery().match(np.zeros((1, 128)), threshold=0)


def test_vectorised_match_equals_brute_force():
    rng = np.random.default_rng(1)
    emb = _unit(rng, 500)
    labels = rng.integers(0, 60, size=500)
    g = Gallery(emb, labels)
    q = _unit(rng, 1)
    (m,) = g.match(q, threshold=10.0)
    d = np.linalg.norm(emb - q[0], axis=1)
    assert m.label == labels[np.argmin(d)] and m.distance == pytest.approx(d.min(), abs=1e-5)


# ----- the open-set decision (issue 18) -----
from vision.matching import MIN_COHORT_MEMBERS, POLICIES, policy_get  # noqa: E402


def _members(rng, n_members, per_member, spread=0.12):
    """Members as clusters: a unit centre each, samples within ``spread`` of it."""
    centres = _unit(rng, n_members)
    emb = np.concatenate([c + rng.normal(scale=spread / np.sqrt(128), size=(per_member, 128)) for c in centres])
    return centres, emb.astype(np.float32), np.repeat(np.arange(n_members), per_member)


def test_policy_names_and_errors():
    assert policy_get(None).name == "balanced" and policy_get("strict").threshold < policy_get("lenient").threshold
    assert all(p.threshold <= 0.6 for p in POLICIES.values())
    with pytest.raises(ValueError, match="choose one of"):
        policy_get("paranoid")


def test_margin_makes_a_face_between_two_members_not_sure():
    g = _gallery()  # members 1 (x=0) and 2 (x=1)
    q = np.zeros((1, 128), np.float32)
    q[0, 0] = 0.48  # 0.38 from member 1's nearest sample, 0.52 from member 2
    (plain,) = g.match(q, threshold=0.6)
    (m,) = g.match(q, threshold=0.6, min_margin=0.2)
    assert plain.label == 1
    assert m.label is None and m.ambiguous and not m.is_stranger and m.nearest_label == 1


def test_cohort_cut_tightens_with_a_crowded_gallery():
    rng = np.random.default_rng(3)
    strict = POLICIES["strict"]
    _, emb, labels = _members(rng, MIN_COHORT_MEMBERS - 1, 3)
    assert Gallery(emb, labels).cut(strict).cohort is None  # small gallery: fixed threshold only
    # a big gallery of members close to each other: impostor distances near the policy's threshold
    centres = _unit(rng, 1)[0] + rng.normal(scale=0.4 / np.sqrt(128), size=(40, 128))
    emb = np.concatenate([c + rng.normal(scale=0.1 / np.sqrt(128), size=(3, 128)) for c in centres]).astype(np.float32)
    g = Gallery(emb, np.repeat(np.arange(40), 3))
    cut = g.cut(strict)
    cohort = g.cohort()
    assert cut.source == "cohort" and cut.threshold < strict.threshold
    assert cut.threshold == pytest.approx(cohort.impostor.mean() - strict.cohort_z * cohort.impostor.std(ddof=1), rel=1e-5)
    far, frr = cohort.rates(cut.threshold)
    assert 0 <= far < 0.05 and 0 <= frr <= 1


def test_cohort_is_leave_one_out():
    pts = np.zeros((5, 128), np.float32)
    pts[1, 0], pts[2, 0], pts[3, 0], pts[4, 0] = 0.1, 1.0, 1.3, 5.0
    g = Gallery(pts, ["a", "a", "b", "b", "c"])  # c has one sample: no genuine distance
    c = g.cohort()
    np.testing.assert_allclose(sorted(c.genuine), [0.1, 0.1, 0.3, 0.3], atol=1e-5)
    np.testing.assert_allclose(sorted(c.impostor), [0.9, 0.9, 1.0, 1.2, 3.7], atol=1e-5)


def test_edge_galleries_have_defined_outcomes():
    q = np.zeros((1, 128), np.float32)
    balanced = POLICIES["balanced"]
    # empty gallery: everyone is a stranger, the cut is the policy's
    empty = Gallery(np.zeros((0, 128), np.float32), [])
    assert empty.decide(q, balanced)[0].is_stranger and empty.cut(balanced).source == "policy"
    assert empty.cohort().genuine.size == 0 and empty.cohort().rates(0.5) == (None, None)
    # one member with one sample: no margin to check, no cohort; matched on the threshold alone
    one = Gallery(np.zeros((1, 128), np.float32), [7])
    (m,) = one.decide(q, balanced)
    assert m.label == 7 and m.margin is None
    # two members enrolled from the same photos: every face is "not sure", never either of them
    dup = Gallery(np.zeros((2, 128), np.float32), [1, 2])
    (m,) = dup.decide(q, balanced)
    assert m.label is None and m.ambiguous


def test_strict_refuses_more_than_lenient_on_the_same_faces():
    rng = np.random.default_rng(5)
    _, emb, labels = _members(rng, 20, 3, spread=0.3)
    g = Gallery(emb, labels)
    queries = np.concatenate([emb + rng.normal(scale=0.35 / np.sqrt(128), size=emb.shape), _unit(rng, 60)]).astype(np.float32)
    accepted = {name: sum(m.label is not None for m in g.decide(queries, p)) for name, p in POLICIES.items()}
    assert accepted["strict"] <= accepted["balanced"] <= accepted["lenient"]
