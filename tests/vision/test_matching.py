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
