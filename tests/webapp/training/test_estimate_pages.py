"""The Train page says how long training will take before it starts, the job
keeps that estimate, and a running job reports its time left from its own
pace (issue 13). No training runs here: rows and arithmetic only."""

import numpy as np
import pytest
from django.utils import timezone

from vision.training.classifier import ClassifierOptions
from vision.training.estimate import duration_text
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_to_dict
from webapp.training import services

pytestmark = pytest.mark.django_db


@pytest.fixture
def flowers(staff_user, settings, tmp_path):
    """A classification dataset of 20 labelled photo rows (no files: the estimate needs counts and
    content keys only), and an empty feature cache."""
    settings.CACHE_DIR = tmp_path / "cache"
    ds = Dataset.objects.create(name="Flowers", kind="classification", created_by=staff_user)
    for c in ("daisy", "rose"):
        label = ds.classes.create(class_id=ds.classes.count() + 1, name=c)
        for i in range(10):
            DatasetImage.objects.create(dataset=ds, label=label, original_name=f"{c}{i}.jpg",
                                        sha256=f"{c}{i}".ljust(64, "0"))
    return ds


def test_the_train_page_says_how_long_before_training_starts(staff_client, flowers):
    est = ClassifierOptions().estimate(n_train=14, n_val=6)
    page = staff_client.get(f"/training/?dataset={flowers.pk}").content.decode()
    assert f"About {duration_text(est.seconds)} on this machine: backbone features of 20 photos" in page
    assert 'id="estimate"' in page


def test_the_estimate_follows_the_choices_and_the_feature_cache(staff_client, flowers, settings):
    def ask(**q):
        r = staff_client.get("/training/estimate/", {"dataset": flowers.pk, **q})
        assert r.status_code == 200, r.content
        return r.json()

    default = ask()
    assert default["photos"] == 20 and default["cached"] == 0 and default["text"].startswith("About ")
    assert ask(image_size=224)["seconds"] < default["seconds"]
    assert ask(fine_tune="on")["seconds"] > default["seconds"]
    assert ask(model_kind="scratch")["features_seconds"] == 0
    folder = settings.CACHE_DIR / "features" / "efficientnet_lite2-448px-gap-peaks"
    folder.mkdir(parents=True)
    for key in flowers.images.values_list("sha256", flat=True)[:15]:
        np.save(folder / f"{key}.npy", np.zeros(3, np.float32))
    warm = ask()
    assert warm["cached"] == 15 and warm["features_seconds"] < default["features_seconds"]
    assert "15 photos already cached" in warm["text"]
    bad = staff_client.get("/training/estimate/", {"dataset": flowers.pk, "backbone": "mobilenet_v2"})
    assert bad.status_code == 400 and "No training costs were measured" in bad.json()["message"]
    assert staff_client.get("/training/estimate/").json()["code"] == "no_estimate"


def test_a_training_job_keeps_its_estimate_and_a_double_click_still_finds_it(flowers, staff_user):
    job = services.training_start(dataset=flowers, model_kind="transfer", user=staff_user,
                                  backbone="efficientnet_lite2")
    est = ClassifierOptions().estimate(n_train=14, n_val=6)
    assert job.params["estimate_seconds"] == round(est.seconds) and job.params["estimate"] == est.sentence()
    again = services.training_start(dataset=flowers, model_kind="transfer", user=staff_user,
                                    backbone="efficientnet_lite2")
    assert again.pk == job.pk


def test_a_running_job_reports_its_time_left_from_its_own_pace(staff_client, staff_user):
    now = timezone.now()
    job = Job.objects.create(kind="training.classifier", state="running", progress=0.25, created_by=staff_user,
                             started_at=now - timezone.timedelta(seconds=100),
                             params={"dataset_id": 0, "model_kind": "transfer", "epochs": 40, "image_size": 448,
                                     "estimate": "About 6 min on this machine: …"})
    assert job.eta_seconds(now=now) == pytest.approx(300)
    assert staff_client.get(f"/api/jobs/{job.pk}").json()["eta_seconds"] == pytest.approx(300, abs=2)
    page = staff_client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "Estimated before it started" in page and "About 6 min on this machine" in page
    job.progress = 0.01  # too early to tell
    assert job.eta_seconds(now=now) is None
    job.state, job.progress = "succeeded", 1.0
    assert job.eta_seconds(now=now) is None and job_to_dict(job)["eta_seconds"] is None
