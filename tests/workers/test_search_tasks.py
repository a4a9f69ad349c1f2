"""Search-by-image jobs called in-process: embeddings, index builds,
searches (with photos added after the build, and deleted ones), ImageNet
classification."""

import numpy as np
import pytest
import skimage.data

from tests.workers.search_helpers import category_photo, make_gallery, png_bytes, run, upload
from webapp.datasets.models import DatasetImage
from webapp.registry.models import ModelVersion
from webapp.search import services
from webapp.search.models import ImageEmbedding

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("efficientnet_weights")]


def _search(ds, image=None, photo=None, k=5, min_score=None):
    r = services.image_search(dataset=ds, image=image, upload=photo, k=k, min_score=min_score)
    job = run(r.job)
    assert job.state == "succeeded", (job.error, job.traceback[-2000:])
    return job.result


def _label(ds, image_id):
    return DatasetImage.objects.get(pk=image_id).original_name.split("_")[0]


def test_embed_job_stores_unit_float32_rows_with_backbone_version():
    ds, report, job = make_gallery()
    assert report.added == 6 and job.state == "succeeded" and job.result["embedded"] == 6
    rows = ImageEmbedding.objects.filter(dataset=ds)
    assert rows.count() == 6
    for e in rows:
        v = e.array
        assert e.backbone == "efficientnet_lite0" and e.backbone_version == "lite0-57934424"
        assert v.shape == (1280,) and v.dtype == np.float32 and abs(np.linalg.norm(v) - 1) < 1e-4
    assert run(services.gallery_embed_start(dataset=ds)).result["embedded"] == 0  # nothing left to do


def test_unreadable_stored_file_is_reported_and_skipped():
    ds, _, _ = make_gallery(embed=False)
    victim = ds.images.order_by("id").first()
    with victim.file.open("wb") as fh:  # the disk copy got truncated after upload
        fh.write(b"\xff\xd8\xff\xe0 truncated")
    job = run(services.gallery_embed_start(dataset=ds))
    assert job.state == "succeeded" and job.result["embedded"] == 5
    (bad,) = job.result["unreadable"]
    assert bad["image_id"] == victim.pk and "truncated or damaged" in bad["reason"]
    victim.refresh_from_db()
    assert victim.status == "unreadable" and victim.error


def test_search_by_gallery_photo_without_index_is_exact_and_excludes_query():
    ds, _, _ = make_gallery()
    query = ds.images.filter(original_name="sunflower_0.jpg").get()
    res = _search(ds, image=query, k=5)
    ids = [h["image_id"] for h in res["hits"]]
    assert query.pk not in ids and len(ids) == 5 and res["index"] is None and res["exact_searched"] == 5
    assert [_label(ds, i) for i in ids[:2]] == ["sunflower", "sunflower"]
    scores = [h["score"] for h in res["hits"]]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)


@pytest.mark.parametrize("kind", ["flat", "pca_flat", "ivf", "hnsw"])
def test_index_build_then_new_and_deleted_photos(kind):
    ds, _, _ = make_gallery()
    job = run(services.search_index_build_start(dataset=ds, kind=kind, clusters=2))
    assert job.state == "succeeded", job.error
    mv = ModelVersion.objects.get(pk=job.result["model_version_id"])
    assert mv.active and mv.kind == "search_index" and mv.version == 1 and mv.params["kind"] == kind
    assert mv.metrics["n_vectors"] == 6 and len(mv.params["clusters"]) == 2
    # a photo added after the build is searchable at once (appended to the index in the worker's memory)
    report, ejob = services.gallery_photos_add(dataset=ds, files=[upload(category_photo("sunflower", 5))])
    run(ejob)
    new = ds.images.order_by("-id").first()
    query = ds.images.get(original_name="sunflower_0.jpg")
    res = _search(ds, image=query, k=6)
    ids = [h["image_id"] for h in res["hits"]]
    assert res["index"]["version"] == 1 and res["added_since_build"] == 1 and new.pk in ids
    assert new.pk in ids[:3]  # another sunflower ranks among the sunflowers
    # a deleted photo leaves the results at once, without a rebuild
    gone = ids[0]
    services.gallery_photo_delete(image=DatasetImage.objects.get(pk=gone))
    assert gone not in [h["image_id"] for h in _search(ds, image=query, k=6)["hits"]]


def test_search_by_upload_with_cut_off():
    ds, _, _ = make_gallery()
    res = _search(ds, photo=upload(category_photo("bluebell", 7)), k=6)
    assert _label(ds, res["hits"][0]["image_id"]) == "bluebell"
    cut = res["hits"][2]["score"]
    res2 = _search(ds, photo=upload(category_photo("bluebell", 7)), k=6, min_score=cut)
    assert len(res2["hits"]) == 3 and all(h["score"] >= cut for h in res2["hits"])


def test_second_build_is_a_new_active_version():
    ds, _, _ = make_gallery()
    run(services.search_index_build_start(dataset=ds, kind="flat", clusters=2))
    job = run(services.search_index_build_start(dataset=ds, kind="hnsw", clusters=3))
    versions = ModelVersion.objects.filter(kind="search_index", dataset=ds).order_by("version")
    assert [v.version for v in versions] == [1, 2] and [v.active for v in versions] == [False, True]
    assert job.result["kind"] == "hnsw"


def test_index_without_embeddings_fails_with_sentence():
    ds = services.gallery_create(name="empty")
    job = run(services.search_index_build_start(dataset=ds, kind="flat"))
    assert job.state == "failed" and job.error_code == "no_embeddings" and "embeddings first" in job.error


def test_classify_cat_photo():
    qp = services.imagenet_classify(upload=upload(name="cat.png", data=png_bytes(skimage.data.chelsea())))
    job = run(qp.job)
    assert job.state == "succeeded", job.error
    top = job.result["top5"]
    assert len(top) == 5 and top[0]["class_id"] in (285, 282, 281)
    assert top[0]["name"] in ("Egyptian cat", "tiger cat", "tabby") and 0 < top[0]["probability"] <= 1


@pytest.mark.usefixtures("_restore_backbones")
def test_classify_with_missing_keras_weights_fails_with_where_to_put_them(tmp_path, settings):
    from webapp.core.models_setup import models_setup

    settings.KERAS_WEIGHTS_DIRS = [str(tmp_path)]  # an empty folder: as on a machine without the file
    models_setup()
    qp = services.imagenet_classify(upload=upload(name="cat.png", data=png_bytes(skimage.data.chelsea())),
                                    backbone="vgg16")
    job = run(qp.job)
    assert job.state == "failed" and job.error_code == "weights_missing"
    assert "vgg16_weights_tf_dim_ordering_tf_kernels.h5" in job.error and str(tmp_path) in job.error


@pytest.fixture
def _restore_backbones():
    yield
    from webapp.core.models_setup import models_setup

    models_setup()


def test_photos_uploaded_while_embedding_are_embedded_too(monkeypatch):
    from vision import registry
    from webapp.datasets.services import dataset_image_add

    ds, _, _ = make_gallery(embed=False)
    backbone = registry.load("efficientnet_lite0")
    original = backbone.embeddings
    extra = category_photo("tigerlily", 0)
    calls = []

    def embeddings_and_an_upload_meanwhile(pixels):
        if not calls:  # someone uploads while the first batch is being embedded
            dataset_image_add(dataset=ds, name="tigerlily.jpg", data=extra.read_bytes())
        calls.append(len(pixels))
        return original(pixels)

    monkeypatch.setattr(type(backbone), "embeddings", lambda self, px: embeddings_and_an_upload_meanwhile(px))
    job = run(services.gallery_embed_start(dataset=ds))
    assert job.result["embedded"] == 7 and ImageEmbedding.objects.filter(dataset=ds).count() == 7


class _MeanColourBackbone:
    """A stand-in for a backbone without TensorFlow: the unit mean RGB of a
    photo, padded with zeros to the spec's width."""

    def __init__(self, spec):
        self.spec = spec

    def embeddings(self, images):
        out = np.zeros((len(images), self.spec.embedding_dim), np.float32)
        for row, px in zip(out, images):
            mean = px.reshape(-1, 3).mean(axis=0)
            row[:3] = mean / max(float(np.linalg.norm(mean)), 1e-6)
        return out


@pytest.fixture
def requested_backbones(monkeypatch):
    """Every name passed to ``registry.load``; ``mobilenet_v2`` answered by
    :class:`_MeanColourBackbone` (its Keras weights are not needed)."""
    from vision import registry
    from vision.backbones import SPECS

    names, real_load = [], registry.load

    def load(name):
        names.append(name)
        return _MeanColourBackbone(SPECS[name]) if name == "mobilenet_v2" else real_load(name)

    monkeypatch.setattr(registry, "load", load)
    return names


def _index_record(ds, backbone):
    """An active index row as an index build records it, for a file that is not there."""
    from webapp.registry.services import model_version_register

    return model_version_register(kind="search_index", name=f"flat:{backbone}", dataset=ds, path="/nowhere.faiss",
                                  activate=True, params={"kind": "flat", "backbone": backbone, "clusters": []})


def test_search_embeds_the_query_with_the_backbone_of_the_index(requested_backbones):
    ds, _, _ = make_gallery(embed=False)
    assert run(services.gallery_embed_start(dataset=ds, backbone="mobilenet_v2")).state == "succeeded"
    job = run(services.search_index_build_start(dataset=ds, kind="flat", clusters=2, backbone="mobilenet_v2"))
    assert job.state == "succeeded", job.error
    requested_backbones.clear()
    res = _search(ds, photo=upload(category_photo("bluebell", 7)), k=3)
    assert requested_backbones == ["mobilenet_v2"]  # not settings.SEARCH_BACKBONE
    assert res["backbone"] == "mobilenet_v2" and res["index"]["version"] == 1 and len(res["hits"]) == 3
    # a gallery photo's stored embedding under the index's backbone is the query as it is
    query = ds.images.get(original_name="sunflower_0.jpg")
    res = _search(ds, image=query, k=3)
    assert requested_backbones == ["mobilenet_v2"] and res["backbone"] == "mobilenet_v2"
    assert query.pk not in [h["image_id"] for h in res["hits"]] and len(res["hits"]) == 3


@pytest.mark.usefixtures("_restore_backbones")
def test_search_with_an_index_whose_backbone_weights_are_missing_fails_in_words(tmp_path, settings):
    from webapp.core.models_setup import models_setup

    settings.KERAS_WEIGHTS_DIRS = [str(tmp_path)]  # no MobileNetV2 file on this worker
    models_setup()
    ds, _, _ = make_gallery(embed=False, per_class=1)
    _index_record(ds, "mobilenet_v2")
    r = services.image_search(dataset=ds, upload=upload(category_photo("bluebell", 7)), k=3)
    job = run(r.job)
    assert job.state == "failed" and job.error_code == "weights_missing"
    assert "index was built with MobileNetV2" in job.error
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5" in job.error and str(tmp_path) in job.error


def test_search_with_an_index_of_an_unknown_backbone_fails_in_words():
    ds, _, _ = make_gallery(embed=False, per_class=1)
    _index_record(ds, "resnet_retired")
    job = run(services.image_search(dataset=ds, upload=upload(category_photo("bluebell", 7)), k=3).job)
    assert job.state == "failed" and job.error_code == "unknown_backbone"
    assert "resnet_retired" in job.error and "rebuild the index" in job.error


def test_embed_job_cancelled_between_batches_keeps_what_it_embedded(settings, cancel_when, requested_backbones):
    from webapp.jobs.services import job_retry

    settings.SEARCH_EMBED_BATCH = 2
    ds, _, _ = make_gallery(embed=False)  # 6 photos: 3 batches
    cancel_when(_MeanColourBackbone, "embeddings", after=1)  # cancelled while the first batch is embedded
    job = run(services.gallery_embed_start(dataset=ds, backbone="mobilenet_v2"))
    assert job.state == "cancelled" and job.finished_at is not None and not job.error
    assert job.message == "Cancelled after embedding 2 of 6 photos; those are kept."
    assert job.result["cancelled"] is True and job.result["embedded"] == 2
    assert ImageEmbedding.objects.filter(dataset=ds, backbone="mobilenet_v2").count() == 2
    # queued again, it does the rest only
    assert job_retry(job=job)
    job = run(job)
    assert job.state == "succeeded" and job.result["embedded"] == 4
    assert ImageEmbedding.objects.filter(dataset=ds, backbone="mobilenet_v2").count() == 6


def test_index_build_cancelled_writes_no_file_and_keeps_the_active_index(cancel_when, settings):
    from pathlib import Path

    from webapp.search import processing

    ds, _, _ = make_gallery(per_class=2)
    first = run(services.search_index_build_start(dataset=ds, kind="flat", clusters=2))
    folder = Path(settings.SEARCH_INDEX_DIR) / f"gallery-{ds.pk}"
    files = sorted(folder.iterdir())
    cancel_when(processing, "kmeans_clusters")
    job = run(services.search_index_build_start(dataset=ds, kind="hnsw", clusters=2))
    assert job.state == "cancelled" and "active index is unchanged" in job.message and job.result["cancelled"]
    assert sorted(folder.iterdir()) == files  # nothing half-written
    (active,) = ModelVersion.objects.filter(kind="search_index", dataset=ds, active=True)
    assert active.pk == first.result["model_version_id"] and ModelVersion.objects.filter(dataset=ds).count() == 1

