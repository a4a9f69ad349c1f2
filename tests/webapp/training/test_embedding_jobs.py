"""Learning a similarity embedding as a job (issue 17), on a few real flower
photos with the species as groups: the form, the job on the batch queue's
task, the model page with the held-out groups' figures beside the frozen
backbone, the rule that an embedding retrieving worse is never made active,
and datasets that cannot train one, refused in words."""

import pytest

from tests.webapp.training.test_training_jobs import _flowers
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion
from webapp.training import services

pytestmark = pytest.mark.django_db
SPECIES = ("daisy", "sunflower", "iris", "pansy")


def _run(job):
    from workers.training import embedding

    embedding.apply(args=[job.pk])
    job.refresh_from_db()
    return job


def test_an_embedding_is_learned_from_the_classes_and_shown_beside_the_frozen_backbone(
        staff_client, efficientnet_weights, settings, tmp_path):
    settings.CACHE_DIR = tmp_path / "cache"
    ds = _flowers("Groups", SPECIES, n=6)
    r = staff_client.post("/training/embeddings/", {"dataset": ds.pk, "epochs": 2, "mining": "semi-hard"})
    job = Job.objects.get(kind="training.embedding")
    assert r.status_code == 302 and r.url == f"/training/jobs/{job.pk}/"
    assert job.queue.endswith("batch")
    job = _run(job)
    assert job.state == "succeeded", job.error + job.traceback
    mv = ModelVersion.objects.get(kind="embedding")
    m = mv.metrics
    assert len(m["validation_groups"]) == 2 and m["n_val_groups"] == 2 and m["n_train_groups"] == 2
    assert set(m["metrics"]) >= {"r_at_1", "map_at_r"} and len(m["history"]["val_map_at_r"]) == 3
    assert mv.active == m["better_than_frozen"] and "MAP@R" in job.message
    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    assert "Frozen backbone" in page and "MAP@R" in page and m["validation_groups"][0] in page
    assert "similarity embedding" in staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    listing = staff_client.get("/training/embeddings/").content.decode()
    assert mv.name in listing and "Groups" in listing


def test_an_embedding_worse_than_the_frozen_backbone_is_not_made_active(staff_client, efficientnet_weights, settings,
                                                                       tmp_path, monkeypatch):
    from vision.training.ranking import TrainedEmbedding

    settings.CACHE_DIR = tmp_path / "cache"
    monkeypatch.setattr(TrainedEmbedding, "better_than_frozen", property(lambda self: False))
    ds = _flowers("Worse", SPECIES, n=4)
    job = _run(services.embedding_start(dataset=ds))
    mv = ModelVersion.objects.get(kind="embedding")
    assert job.state == "succeeded" and not mv.active and "not made active" in job.message
    page = staff_client.get(f"/training/models/{mv.pk}/").content.decode()
    assert "Not made active" in page and "Make active" not in page
    r = staff_client.post(f"/training/models/{mv.pk}/activate/", follow=True)
    assert "cannot be made active" in r.content.decode()
    mv.refresh_from_db()
    assert not mv.active


def test_datasets_that_cannot_learn_an_embedding_are_refused_in_words(staff_client):
    from django.core.exceptions import ValidationError

    one = _flowers("One", SPECIES[:1], n=3)  # one group only
    with pytest.raises(ValidationError, match="at least four classes.*this dataset has 1"):
        services.embedding_start(dataset=one)
    three = _flowers("Three", SPECIES[:3], n=3)
    with pytest.raises(ValidationError, match="at least four classes"):
        services.embedding_start(dataset=three)
    r = staff_client.post("/training/embeddings/", {"dataset": three.pk, "epochs": 0, "mining": "semi-hard"})
    assert r.status_code == 200 and "at least four classes" in r.content.decode()
    singles = _flowers("Singles", SPECIES, n=1)  # four classes of one photo: no pairs at all
    with pytest.raises(ValidationError, match="at least two photos"):
        services.embedding_start(dataset=singles)
    assert not Job.objects.filter(kind="training.embedding").exists()
    ok = _flowers("Ok", SPECIES, n=2)
    with pytest.raises(ValidationError, match="Unknown mining"):
        services.embedding_start(dataset=ok, mining="hardest")


def test_a_gallery_indexed_with_a_learned_embedding_is_searched_with_it(staff_client, efficientnet_weights, settings,
                                                                       tmp_path):
    """Issue 17's use: an active learned embedding is offered on the gallery page, the gallery
    is embedded and indexed with it (batch jobs), a search embeds its query with it, and the
    search page says which embedding answered."""
    from tests.workers.search_helpers import make_gallery, run
    from webapp.registry.services import model_version_activate
    from webapp.search import services as search
    from webapp.search.backbones import learned_name
    from webapp.search.models import ImageEmbedding

    settings.CACHE_DIR = tmp_path / "cache"
    # the seed's multi-scale model: its head takes the photo's pixels beside the backbone's features,
    # so every place that embeds with it (gallery, query, evaluate_search) must hand them over
    _run(services.embedding_start(dataset=_flowers("Groups", SPECIES, n=4), epochs=1, architecture="multiscale"))
    mv = ModelVersion.objects.get(kind="embedding")
    model_version_activate(model_version=mv)  # active whatever four photos a group made of it
    name = learned_name(mv)
    gallery, _, _ = make_gallery(classes=("sunflower", "bluebell"), per_class=3)
    page = staff_client.get(f"/search/galleries/{gallery.pk}/").content.decode()
    assert f'value="{name}"' in page and "Learned from" in page
    r = staff_client.post(f"/search/galleries/{gallery.pk}/index/", {"backbone": name, "kind": "flat", "nlist": 0,
                                                                      "nprobe": 8, "clusters": 2})
    assert r.status_code == 302
    job = run(Job.objects.filter(kind="search.build_index").latest("id"))
    assert job.state == "succeeded", job.error + job.traceback
    assert mv.metrics["architecture"] == "multiscale"
    rows = ImageEmbedding.objects.filter(dataset=gallery, backbone=name)
    assert rows.count() == 6 and rows.first().array.shape == (mv.metrics["dim"],)
    query = gallery.images.get(original_name="sunflower_0.jpg")
    searched = run(search.image_search(dataset=gallery, image=query, k=3).job)
    assert searched.state == "succeeded" and searched.result["backbone"] == name
    assert searched.result["index"] is not None and len(searched.result["hits"]) == 3
    run_page = staff_client.get(f"/search/runs/{searched.params['search_run_id']}/").content.decode()
    assert "Embedding: Learned from" in run_page
    import io
    import shutil

    from django.core.management import call_command

    from tests.shared_data import shared_path

    folder = tmp_path / "eval"
    for c in ("daisy", "iris"):  # evaluate_search reports it beside the ImageNet backbones
        (folder / c).mkdir(parents=True)
        for p in sorted((shared_path("datasets", "categories") / c).glob("*.jpg"))[10:14]:
            shutil.copy(p, folder / c / p.name)
    out = io.StringIO()
    call_command("evaluate_search", "--folder", str(folder), "--k", "3", "--backbone", name, "--cache",
                 str(tmp_path / "evalcache"), stdout=out)
    assert f"{name} (Learned from" in out.getvalue() and "precision@3 = " in out.getvalue()
    assert "optimistic" in out.getvalue()
    # the embedding deleted under its index: a gallery photo's stored embedding still searches; an
    # uploaded photo, which would need the model, fails in words; the gallery page still shows
    mv.delete()
    assert run(search.image_search(dataset=gallery, image=query, k=3).job).state == "succeeded"
    from tests.workers.search_helpers import category_photo, upload

    failed = run(search.image_search(dataset=gallery, upload=upload(category_photo("sunflower", 9)), k=3).job)
    assert failed.state == "failed" and failed.error_code == "unknown_backbone" and "rebuild the index" in failed.error
    assert staff_client.get(f"/search/galleries/{gallery.pk}/").status_code == 200


def test_coarse_groups_reach_the_trainer_and_the_multiscale_model_needs_triplet_epochs(staff_client, monkeypatch):
    """A class's coarse group (from labels.csv) becomes the photos' coarse index for the hard
    negatives; classes without one get -1; the shallow multi-scale channels are refused without
    triplet epochs, on the page and in the service."""
    import vision.training.ranking as ranking
    from django.core.exceptions import ValidationError

    ds = _flowers("Coarse", SPECIES, n=2)
    ds.classes.filter(name__in=("daisy", "sunflower")).update(coarse_group="yellow")
    ds.classes.filter(name="iris").update(coarse_group="blue")
    seen = {}

    def capture(train, val, **kw):
        seen.update({p.path: p for p in [*train, *val]}, options=kw["options"])
        raise ValueError("captured")

    monkeypatch.setattr(ranking, "embedding_train", capture)
    job = _run(services.embedding_start(dataset=ds, epochs=1, mining="random", architecture="multiscale"))
    assert job.state == "failed" and "captured" in job.error
    options = seen.pop("options")
    assert options.architecture == "multiscale" and options.mining == "random"
    by_class = {im.label.name: seen[im.file.path].coarse for im in ds.images.select_related("label")}
    assert by_class["daisy"] == by_class["sunflower"] >= 0 and by_class["iris"] >= 0
    assert by_class["iris"] != by_class["daisy"] and by_class["pansy"] == -1
    r = staff_client.post("/training/embeddings/", {"dataset": ds.pk, "epochs": 0, "mining": "semi-hard",
                                                    "architecture": "multiscale"})
    assert r.status_code == 200 and "learned in triplet epochs" in r.content.decode()
    with pytest.raises(ValidationError, match="at least one epoch"):
        services.embedding_start(dataset=ds, epochs=0, architecture="multiscale")
