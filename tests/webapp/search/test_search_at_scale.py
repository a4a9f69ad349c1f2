"""Search cost that does not grow with the gallery (issue 14), on synthetic
embedding rows filled in bulk (``webapp.search.bulk``, as the benchmark
does): deleted photos are excluded inside the index search (tombstones),
photos embedded after the build are found by the index's watermark, a
rebuild is queued by itself past ``SEARCH_REBUILD_SHARE``; and the awkward
cases: a photo deleted between the build's marks and its read, a gallery
emptied, an index file missing, an index of another backbone."""

import os

import numpy as np
import pytest
from django.core.management import call_command

from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job
from webapp.search import processing
from webapp.search.bulk import embeddings_import
from webapp.search.models import ImageEmbedding, SearchTombstone

pytestmark = pytest.mark.django_db
BACKBONE, VERSION = "efficientnet_lite0", "lite0-57934424"


def _unit(rng, n, d=64):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def gallery(settings, tmp_path):
    settings.SEARCH_INDEX_DIR = tmp_path / "indexes"
    rng = np.random.default_rng(14)
    ds = Dataset.objects.create(name="bulk", kind=Dataset.Kind.GALLERY)
    x = _unit(rng, 600)
    ids = embeddings_import(dataset=ds, vectors=x, backbone=BACKBONE, backbone_version=VERSION, batch=250)
    return ds, x, ids, rng


def _build(ds, kind="flat"):
    return processing.index_build(params={"dataset_id": ds.pk, "backbone": BACKBONE, "kind": kind, "nprobe": 64},
                                  progress=lambda *a, **k: None)


def _hits(ds, q, k=10, **kw):
    return processing.gallery_search(dataset=ds, query=q, k=k, backbone=BACKBONE, **kw)


@pytest.mark.embedded
def test_bulk_import_stores_rows_in_order(gallery):
    ds, x, ids, _ = gallery
    assert ds.images.count() == 600 and ImageEmbedding.objects.filter(dataset=ds).count() == 600
    e = ImageEmbedding.objects.get(image_id=ids[123])
    assert np.allclose(e.array, x[123]) and e.backbone_version == VERSION
    with pytest.raises(ValueError, match="unit length"):
        embeddings_import(dataset=ds, vectors=x * 2, backbone=BACKBONE, backbone_version=VERSION)


@pytest.mark.embedded
@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_deleted_photos_are_never_returned_and_new_ones_are_found(gallery, kind):
    ds, x, ids, rng = gallery
    mv_result = _build(ds, kind)
    assert mv_result["n_vectors"] == 600
    q = x[7]
    before = [h["image_id"] for h in _hits(ds, q)["hits"]]
    assert before[0] == ids[7]
    # delete the top five answers: tombstones, excluded inside FAISS, k live hits still come back
    DatasetImage.objects.filter(pk__in=before[:5]).delete()
    res = _hits(ds, q)
    after = [h["image_id"] for h in res["hits"]]
    assert len(after) == 10 and not set(after) & set(before[:5]) and res["index"] is not None
    # photos embedded since the build: appended to the worker's copy of the index, found at once
    new = embeddings_import(dataset=ds, vectors=np.stack([q, _unit(rng, 1)[0]]), backbone=BACKBONE,
                            backbone_version=VERSION, name_prefix="new")
    res = _hits(ds, q)
    assert res["added_since_build"] == 2 and res["hits"][0]["image_id"] == new[0]
    # ... and a deleted new photo is gone too
    DatasetImage.objects.filter(pk=new[0]).delete()
    res = _hits(ds, q)
    assert new[0] not in [h["image_id"] for h in res["hits"]] and len(res["hits"]) == 10


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_photos_added_since_the_build_go_to_a_small_index_beside_it(gallery, kind):
    """The built index is never grown (at a million rows its first add reallocated 5 GB and took
    seconds); a photo added and then deleted is excluded in the small one too."""
    ds, x, ids, rng = gallery
    r = _build(ds, kind)
    new_x = _unit(rng, 5)
    new = embeddings_import(dataset=ds, vectors=new_x, backbone=BACKBONE, backbone_version=VERSION, name_prefix="n")
    res = _hits(ds, new_x[2])
    assert res["hits"][0]["image_id"] == int(new[2]) and res["added_since_build"] == 5
    from webapp.registry.models import ModelVersion

    loaded = processing._active_index(ModelVersion.objects.get(pk=r["model_version_id"]))
    assert loaded.index.ntotal == 600 and loaded.delta.ntotal == 5
    DatasetImage.objects.filter(pk__in=[int(new[2]), int(ids[7])]).delete()
    gone = {int(new[2]), int(ids[7])}
    for v in (new_x[2], x[7]):
        assert not gone & {h["image_id"] for h in _hits(ds, v, k=600)["hits"]}
    if kind == "flat":  # exact: every live photo comes back, from both indexes (HNSW caps what a huge k finds)
        assert len(_hits(ds, x[0], k=700)["hits"]) == 603


def test_the_query_photo_itself_is_left_out(gallery):
    ds, x, ids, _ = gallery
    _build(ds)
    res = _hits(ds, x[3], k=5, exclude_image_id=int(ids[3]))
    assert len(res["hits"]) == 5 and int(ids[3]) not in [h["image_id"] for h in res["hits"]]


def test_a_photo_deleted_while_the_index_is_built_is_never_returned(gallery, monkeypatch):
    ds, x, ids, _ = gallery
    read = processing.gallery_vectors

    def delete_then_read(**kw):  # a deletion lands after the build took its marks, before it read the rows
        DatasetImage.objects.filter(pk=int(ids[9])).delete()
        return read(**kw)

    monkeypatch.setattr(processing, "gallery_vectors", delete_then_read)
    _build(ds)
    monkeypatch.setattr(processing, "gallery_vectors", read)
    assert int(ids[9]) not in [h["image_id"] for h in _hits(ds, x[9])["hits"]]
    # and one deleted after the read (it is in the index): excluded by its tombstone
    DatasetImage.objects.filter(pk=int(ids[10])).delete()
    assert int(ids[10]) not in [h["image_id"] for h in _hits(ds, x[10])["hits"]]


def test_searches_while_a_rebuild_runs_use_the_old_index_and_stay_correct(gallery, monkeypatch):
    ds, x, ids, rng = gallery
    first = _build(ds)
    DatasetImage.objects.filter(pk=int(ids[20])).delete()
    added = embeddings_import(dataset=ds, vectors=_unit(rng, 5), backbone=BACKBONE, backbone_version=VERSION,
                              name_prefix="new")
    read, during = processing.gallery_vectors, []

    def search_then_read(**kw):  # a search comes in while the rebuild reads the gallery
        during.append(_hits(ds, x[20]))
        during.append(_hits(ds, x[21]))
        return read(**kw)

    monkeypatch.setattr(processing, "gallery_vectors", search_then_read)
    second = _build(ds)
    monkeypatch.setattr(processing, "gallery_vectors", read)
    assert all(r["index"]["model_version_id"] == first["model_version_id"] for r in during)
    assert int(ids[20]) not in [h["image_id"] for h in during[0]["hits"]]
    assert during[1]["hits"][0]["image_id"] == int(ids[21])
    after = _hits(ds, x[21])
    assert after["index"]["model_version_id"] == second["model_version_id"] != first["model_version_id"]
    assert after["hits"][0]["image_id"] == int(ids[21]) and after["added_since_build"] == 0
    assert int(ids[20]) not in [h["image_id"] for h in _hits(ds, x[20])["hits"]]
    assert {int(i) for i in added} <= {h["image_id"] for h in _hits(ds, x[0], k=600)["hits"]}  # found after it


def test_a_build_forgets_the_tombstones_it_made_irrelevant(gallery):
    ds, x, ids, _ = gallery
    _build(ds)
    DatasetImage.objects.filter(pk__in=[int(i) for i in ids[:3]]).delete()
    assert SearchTombstone.objects.filter(dataset_id=ds.pk).count() == 3
    _build(ds)
    assert SearchTombstone.objects.filter(dataset_id=ds.pk).count() == 0
    assert len(_hits(ds, x[0])["hits"]) == 10


def test_an_emptied_gallery_answers_no_hits(gallery):
    ds, x, _, _ = gallery
    _build(ds)
    ds.images.all().delete()
    res = _hits(ds, x[0])
    assert res["hits"] == [] and res["index"] is not None


def test_a_missing_index_file_or_another_backbone_falls_back_to_exact_search(gallery):
    ds, x, ids, _ = gallery
    r = _build(ds)
    from webapp.registry.models import ModelVersion

    mv = ModelVersion.objects.get(pk=r["model_version_id"])
    os.remove(mv.path)
    res = _hits(ds, x[5])
    assert res["index"] is None and res["exact_searched"] == 600 and res["hits"][0]["image_id"] == ids[5]
    mv.params = dict(mv.params, backbone="efficientnet_lite2")
    mv.save()
    assert _hits(ds, x[5])["index"] is None


def test_a_rebuild_is_queued_once_the_new_photos_pass_the_share(gallery, settings, monkeypatch):
    ds, x, ids, rng = gallery
    settings.SEARCH_REBUILD_SHARE = 0.10
    _build(ds)
    monkeypatch.setattr("webapp.jobs.services.job_enqueue", lambda job: None)  # the job row is what we look at
    embeddings_import(dataset=ds, vectors=_unit(rng, 60), backbone=BACKBONE, backbone_version=VERSION, name_prefix="a")
    assert processing.rebuild_when_grown(dataset=ds, added=60) is None  # 60 of 600: not past 10 %
    embeddings_import(dataset=ds, vectors=_unit(rng, 1), backbone=BACKBONE, backbone_version=VERSION, name_prefix="b")
    job = processing.rebuild_when_grown(dataset=ds, added=61)
    assert job is not None and job.kind == "search.build_index" and job.queue.endswith("batch")
    assert processing.rebuild_when_grown(dataset=ds, added=61).pk == job.pk  # queued once
    assert Job.objects.filter(kind="search.build_index").count() == 1


def test_import_embeddings_command(gallery, tmp_path):
    ds, _, _, rng = gallery
    path = tmp_path / "v.npy"
    x = _unit(rng, 5, 1280)
    np.save(path, x)
    call_command("import_embeddings", gallery=ds.pk, vectors=str(path))
    assert ds.images.count() == 605
    from django.core.management.base import CommandError

    np.save(path, _unit(rng, 5, 64))
    with pytest.raises(CommandError, match=r"\(n, 1280\)"):
        call_command("import_embeddings", gallery=ds.pk, vectors=str(path))


def test_gallery_page_says_what_is_searched_exactly_and_when_it_rebuilds(gallery, admin_client, settings):
    ds, x, ids, rng = gallery
    ds.created_by = None
    ds.save()
    _build(ds)
    embeddings_import(dataset=ds, vectors=_unit(rng, 3), backbone=BACKBONE, backbone_version=VERSION, name_prefix="n")
    DatasetImage.objects.filter(pk=int(ids[0])).delete()
    page = admin_client.get(f"/search/galleries/{ds.pk}/").content.decode()
    assert "3 photos added (searched with it)" in page and "1 deleted one skipped" in page
    assert "once 61 photos are new (more than 10 % of the index)" in page


def test_a_search_asks_the_database_nothing_about_rebuilding_until_one_is_due(gallery, settings, monkeypatch,
                                                                               django_assert_num_queries):
    """The rebuild check uses the index version in hand: one query per search (its
    freshness marks) until the added photos pass the share; then the rebuild is queued."""
    ds, x, ids, rng = gallery
    settings.SEARCH_REBUILD_SHARE = 0.10
    _build(ds)
    monkeypatch.setattr("webapp.jobs.services.job_enqueue", lambda job: None)
    embeddings_import(dataset=ds, vectors=_unit(rng, 60), backbone=BACKBONE, backbone_version=VERSION, name_prefix="a")
    search = lambda: processing.search_from_embedding(dataset=ds, query=x[3], k=5, backbone=BACKBONE)  # noqa: E731
    search()  # takes in the 60 added photos (reads their rows once)
    with django_assert_num_queries(1):
        res = search()
    assert res["added_since_build"] == 60 and "rebuild_queued" not in res and res["hits"][0]["image_id"] == ids[3]
    embeddings_import(dataset=ds, vectors=_unit(rng, 1), backbone=BACKBONE, backbone_version=VERSION, name_prefix="b")
    assert search()["rebuild_queued"] is True
    assert Job.objects.filter(kind="search.build_index").count() == 1
