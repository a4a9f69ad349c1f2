"""The `evaluate` and `search_index_folder` commands on the real flower photos
(../shared/datasets/categories: 12 classes x 60). Embeddings are cached under
var/cache/eval, so only the first run pays for them (~15 s on 2 cores)."""

import io
import re

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.shared_data import shared_path

CACHE = settings.BASE_DIR / "var" / "cache" / "eval"


@pytest.fixture(scope="module")
def categories():
    return shared_path("datasets", "categories")


def test_evaluate_meets_precision_target_and_index_recall(efficientnet_weights, categories):
    from webapp.search.management.commands.evaluate_search import evaluate_folder

    lines = []
    out = evaluate_folder(folder=categories, k=10, backbone_names=["efficientnet_lite0", "vgg16"], cache_dir=CACHE,
                          write=lines.append)
    eff = out["efficientnet_lite0"]
    print("\n".join(lines))  # the figures, in the test log
    assert eff["n"] == 720 and eff["classes"] == 12
    assert eff["precision"] >= 0.85  # the target for EfficientNet-Lite0
    recall = {(r["kind"], r["nprobe"]): r["recall"] for r in eff["recall"]}
    assert recall[("flat", None)] >= 0.999  # exact vs exact (float ties aside)
    assert recall[("hnsw", None)] >= 0.95
    ivf = sorted((p, r) for (kind, p), r in recall.items() if kind == "ivf")
    assert ivf[0][0] == 1 and ivf[-1][1] >= 0.95 and ivf[-1][1] > ivf[0][1]  # more clusters probed, higher recall
    assert "error" in out["vgg16"] or out["vgg16"]["precision"] > 0  # reported either way, never silently skipped
    assert any(line.startswith("vgg16") for line in lines)


@pytest.mark.django_db  # it lists the learned embeddings too
def test_evaluate_command_prints_figures(efficientnet_weights, categories):
    buf = io.StringIO()
    call_command("evaluate_search", "--folder", str(categories), "--backbone", "efficientnet_lite0", "--cache", str(CACHE),
                 stdout=buf)
    text = buf.getvalue()
    m = re.search(r"efficientnet_lite0 .*precision@10 = (0\.\d+) over 720 photos in 12 classes", text)
    assert m and float(m.group(1)) >= 0.85, text
    assert "HNSW32,Flat" in text and "PCA256,L2norm,Flat" in text and "IVF" in text


@pytest.mark.django_db
def test_search_index_folder_command(efficientnet_weights, tmp_path, categories):
    import shutil

    from webapp.datasets.models import Dataset
    from webapp.registry.models import ModelVersion

    folder = tmp_path / "photos"
    (folder / "a").mkdir(parents=True)
    for i, p in enumerate(sorted((categories / "daisy").glob("*.jpg"))[:4]):
        shutil.copy(p, folder / "a" / f"{i}.jpg")
    shutil.copy(folder / "a" / "0.jpg", folder / "copy.jpg")  # duplicate
    (folder / "notes.txt").write_text("not a photo")
    buf = io.StringIO()
    call_command("search_index_folder", str(folder), "--gallery", "cli", "--kind", "flat", "--clusters", "2", stdout=buf)
    text = buf.getvalue()
    assert "4 added, 1 duplicates, 1 unreadable" in text and "notes.txt" in text
    ds = Dataset.objects.get(name="cli", kind="gallery")
    mv = ModelVersion.objects.get(kind="search_index", dataset=ds, active=True)
    assert mv.metrics["n_vectors"] == 4 and "index v1 (flat) over 4 photos" in text
