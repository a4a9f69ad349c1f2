"""FAISS index kinds, exact search, merging, k-means groups and the
retrieval metrics, on small synthetic clustered vectors."""

import numpy as np
import pytest

from vision import search as S


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((8, 64)).astype(np.float32)
    labels = rng.integers(0, 8, 2000)
    x = centers[labels] + 0.6 * rng.standard_normal((2000, 64)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_exact_search_matches_the_seed_loop(clustered):
    x, _ = clustered
    scores, ids = S.exact_search(x, x[:5], 10)
    assert scores.shape == (5, 10) and ids.dtype == np.int64 and (ids[:, 0] == np.arange(5)).all()
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    for i in range(5):  # same neighbours as the seed's Euclidean loop (unit vectors)
        assert S.seed_loop_search(x, x[i], 10) == ids[i].tolist()


def test_exact_search_with_fewer_rows_than_k_pads():
    x = np.eye(3, dtype=np.float32)
    scores, ids = S.exact_search(x, x[:1], 5)
    assert ids[0, :3].tolist() == [0, 1, 2] or ids[0, 0] == 0
    assert (ids[0, 3:] == -1).all() and np.isneginf(scores[0, 3:]).all()


@pytest.mark.parametrize("spec, min_recall", [
    (S.IndexSpec("flat"), 0.999), (S.IndexSpec("hnsw"), 0.95), (S.IndexSpec("ivf", nprobe=8), 0.9),
    (S.IndexSpec("pca_flat", pca_dim=32), 0.4)])  # isotropic noise: half the dims drop half the signal
def test_index_kinds_recall_against_exact(clustered, spec, min_recall):
    x, _ = clustered
    q = x[:200]
    _, truth = S.exact_search(x, q, 10)
    index = S.build_index(x, spec)
    scores, ids = S.index_search(index, q, 10)
    assert ids.shape == (200, 10) and scores.dtype == np.float32
    assert S.recall_at_k(ids, truth) >= min_recall


def test_ivf_nprobe_trades_speed_for_recall(clustered):
    x, _ = clustered
    _, truth = S.exact_search(x, x[:300], 10)
    index = S.build_index(x, S.IndexSpec("ivf", nlist=32, nprobe=1))
    low = S.recall_at_k(S.index_search(index, x[:300], 10)[1], truth)
    S.configure_index(index, S.IndexSpec("ivf", nlist=32, nprobe=32))
    full = S.recall_at_k(S.index_search(index, x[:300], 10)[1], truth)
    assert low < full and full >= 0.999  # nprobe = K scans every cluster: exact


def test_small_collections_fit_the_spec():
    spec = S.IndexSpec("pca_flat").resolved(5, 1280)
    assert spec.pca_dim == 5 and spec.factory_string() == "PCA5,L2norm,Flat"
    assert S.IndexSpec("ivf", nlist=100).resolved(50, 8).nlist == 1  # >= 39 training points per cluster
    x = np.eye(4, dtype=np.float32)
    for kind in S.INDEX_KINDS:
        assert S.index_search(S.build_index(x, S.IndexSpec(kind)), x[:1], 2)[1][0, 0] == 0


def test_bad_specs_and_vectors_are_refused():
    with pytest.raises(ValueError, match="Unknown index kind"):
        S.IndexSpec("lsh")
    with pytest.raises(ValueError):
        S.IndexSpec("ivf", nprobe=0)
    with pytest.raises(ValueError, match="NaN"):
        S.build_index(np.array([[np.nan, 1.0]], np.float32), S.IndexSpec())
    with pytest.raises(ValueError):
        S.build_index(np.zeros((0, 4), np.float32), S.IndexSpec())
    with pytest.raises(ValueError):
        S.exact_search(np.zeros(4, np.float32), np.zeros((1, 4), np.float32), 3)


def test_save_and_load_roundtrip(tmp_path, clustered):
    x, _ = clustered
    spec = S.IndexSpec("hnsw", ef_search=32)
    index = S.build_index(x, spec)
    path = S.save_index(index, tmp_path / "v1-hnsw.faiss")
    again = S.load_index(path, spec)
    assert np.array_equal(S.index_search(index, x[:20], 5)[1], S.index_search(again, x[:20], 5)[1])
    assert S.index_bytes(index) > x.nbytes  # vectors + graph
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_merge_top_k_dedupes_and_orders():
    scores, ids = S.merge_top_k([(np.array([0.9, 0.5, -np.inf]), np.array([4, 2, -1])),
                                 (np.array([0.7, 0.6]), np.array([8, 2]))], 3)
    assert ids.tolist() == [4, 8, 2] and np.allclose(scores, [0.9, 0.7, 0.6])


def test_kmeans_groups_and_precision(clustered):
    x, labels = clustered
    c = S.kmeans_clusters(x, 8, per_cluster=4)
    assert c.labels.shape == (2000,) and c.centers.shape == (8, 64) and all(len(r) == 4 for r in c.representatives)
    for k, reps in enumerate(c.representatives):
        assert all(c.labels[r] == k for r in reps)
    assert S.precision_at_k(x, labels, 10) > 0.9
    assert S.precision_at_k(x, np.random.default_rng(1).permutation(labels), 10) < 0.3  # shuffled labels: chance
    assert S.recall_at_k(np.array([[1, 2]]), np.array([[2, 3]])) == 0.5


def test_kmeans_on_a_sample_assigns_every_row_as_the_full_fit_does(clustered, monkeypatch):
    """Past KMEANS_FIT_SAMPLE rows the centres come from a sample (a million rows would be copied
    whole by scikit-learn); every row is still assigned, and the groups are the same."""
    x, _ = clustered
    full = S.kmeans_clusters(x, 8, per_cluster=4)
    monkeypatch.setattr(S, "KMEANS_FIT_SAMPLE", 400)
    sampled = S.kmeans_clusters(x, 8, per_cluster=4)
    assert sampled.labels.shape == (2000,) and sampled.centers.shape == (8, 64)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(full.labels, sampled.labels) > 0.95
    for k, reps in enumerate(sampled.representatives):
        assert len(reps) == 4 and all(sampled.labels[r] == k for r in reps)
        d = np.linalg.norm(x[sampled.labels == k] - sampled.centers[k], axis=1)
        assert np.linalg.norm(x[reps[0]] - sampled.centers[k]) <= d.min() + 1e-5  # the nearest row first


@pytest.mark.parametrize("kind", ["flat", "pca_flat", "ivf", "hnsw"])
def test_excluded_rows_are_never_returned_and_k_live_rows_come_back(kind):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2000, 64)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    spec = S.IndexSpec(kind, nlist=16, nprobe=16, pca_dim=32, ef_search=128).resolved(*x.shape)
    index = S.build_index(x, spec)
    q = x[:5] + 0.01
    _, before = S.index_search(index, q, 10)
    gone = np.unique(before[:, :5])  # the best half of every query's answer is deleted
    excluded = S.ExcludedRows(gone, spec)
    scores, after = S.index_search(index, q, 10, excluded=excluded)
    assert not np.isin(after, gone).any() and (after >= 0).all() and after.shape == (5, 10)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # still best first
    # the search-time parameters survive: the same answer as an exact search without those rows
    keep = np.setdiff1d(np.arange(len(x)), gone)
    _, exact = S.exact_search(x[keep], q, 10)
    if kind in ("flat", "ivf"):  # nprobe = nlist: exhaustive
        assert np.array_equal(np.sort(keep[exact], axis=1), np.sort(after, axis=1))


def test_retrieval_metrics_on_a_hand_checked_ranking():
    """Four photos on a line, groups A A B B: worked by hand (Musgrave et al. 2020's definitions)."""
    x = np.array([[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]], np.float32)
    m = S.retrieval_metrics(x, np.array(["A", "A", "B", "B"]), k=2)
    # each query's nearest other photo: 0->1 (A, hit), 1->2? cos(1,2)=0.96 > cos(1,0)=0.8: miss; 2->1 miss; 3->2 hit
    assert m["r_at_1"] == 0.5 and m["r_precision"] == 0.5 and m["map_at_r"] == 0.5
    assert m["precision_at_k"] == 0.5  # top 2 of each: one hit each
    perfect = S.retrieval_metrics(np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1]], np.float32), np.array([0, 0, 1, 1]),
                                  k=1)
    assert perfect["map_at_r"] == perfect["r_at_1"] == 1.0


def test_retrieval_metrics_map_at_r_is_at_most_r_precision_and_k_is_capped():
    """MAP@R weighs the hits among the first R by their precision, so it never exceeds R-Precision."""
    x = np.array([[1, 0, 0], [0.9, 0.1, 0], [0.7, 0.7, 0], [0.6, 0, 0.8], [0, 0, 1], [0, 1, 0]], np.float32)
    m = S.retrieval_metrics(x, np.array([0, 0, 1, 0, 1, 1]), k=1)
    assert 0 < m["map_at_r"] <= m["r_precision"] <= 1
    with pytest.raises(ValueError, match="at least two"):
        S.retrieval_metrics(x, np.array([0, 0, 1, 1, 1, 2]))
    assert S.retrieval_metrics(x, np.array([0, 0, 1, 0, 1, 1]), k=10)["k"] == 5  # fewer photos than k
