"""The detector pages: start training on a detection dataset (with its pre-check in words), the
detectors trained and their jobs; a trained detector's page (``training:model`` of a
``detector`` version)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from webapp.annotation.detectors import trained_detector_id
from webapp.datasets.models import Dataset, DatasetImage
from webapp.registry.models import ModelVersion
from webapp.training.detectors import PR_CURVE_FILE
from webapp.training.detectors.forms import DetectorForm
from webapp.training.detectors.services import detector_backbones, detector_check, detector_start
from webapp.training.jobs import DETECTOR
from webapp.training.views import _datasets, _listed

#: Validation photos drawn on a detector's page.
SAMPLES_SHOWN = 24
#: The detector's files its page offers (``training.views.model_file`` serves them).
DETECTOR_FILES = ("detector.keras", "detector.json", "detector.tflite")


def detector_home(request):
    """Train an object detector on a detection dataset; the detectors trained and the recent jobs.
    The chosen dataset's pre-check (``?dataset=`` or the one posted) is listed before queuing."""
    datasets = _datasets(request.user, Dataset.Kind.DETECTION)
    only = datasets.first() if datasets.count() == 1 else None  # one dataset: nothing to choose
    chosen = request.POST.get("dataset") or request.GET.get("dataset") or (only.pk if only else None)
    form = DetectorForm(request.POST or None, datasets=datasets, backbones=detector_backbones(),
                        initial={"dataset": chosen})
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            job = detector_start(dataset=c["dataset"], user=request.user, backbone=c["backbone"],
                                 input_size=c["input_size"], epochs=c["epochs"], fine_tune_epochs=c["fine_tune_epochs"])
        except ValidationError as err:
            form.add_error(None, err)
        else:
            return redirect("training:job", job_id=job.pk)
    dataset = datasets.filter(pk=int(chosen)).first() if str(chosen or "").isdigit() else None
    models, jobs = _listed(request.user, datasets, ModelVersion.Kind.DETECTOR, DETECTOR)
    return render(request, "training/detectors.html", {
        "form": form, "models": models[:50], "jobs": jobs[:10], "dataset": dataset,
        "check": detector_check(dataset=dataset) if dataset else None})


def _samples(mv: ModelVersion) -> list[dict]:
    """The first :data:`SAMPLES_SHOWN` validation photos with their photo's thumbnail (``None`` once
    the photo is deleted) and boxes as the box-drawing script takes them: ``{box, label, score}``."""
    shown = mv.metrics.get("samples", [])[:SAMPLES_SHOWN]
    images = {i.pk: i for i in DatasetImage.objects.filter(pk__in=[s.get("image_id") for s in shown],
                                                            dataset_id=mv.dataset_id)}
    out = []
    for s in shown:
        img = images.get(s.get("image_id"))
        url = (img.thumbnail or img.file).url if img is not None and (img.thumbnail or img.file) else None
        out.append({"name": s["name"], "url": url, "width": s["width"], "height": s["height"],
                    "truth": [{"box": t[:4], "label": t[4]} for t in s["truth"]],
                    "found": [{"box": f[:4], "label": f[4], "score": f[5]} for f in s["found"]]})
    return out


def detector_detail(request, mv: ModelVersion):
    """A trained detector's page: mAP@0.5 and COCO AP, AP per class with its best-F1 threshold
    and precision/recall picture, validation photos with true and found boxes, curves,
    versions (one active per dataset), downloads."""
    m = mv.metrics
    folder = Path(mv.path).parent
    rows = [{**c, "threshold": m.get("thresholds", {}).get(c["label"]),
             "picture": PR_CURVE_FILE.format(i) if (folder / PR_CURVE_FILE.format(i)).is_file() else None}
            for i, c in enumerate(m.get("per_class", []))]
    versions = ModelVersion.objects.filter(kind=mv.kind, dataset=mv.dataset)
    return render(request, "training/detector.html", {
        "mv": mv, "m": m, "rows": rows, "samples": _samples(mv), "n_samples": len(m.get("samples", [])),
        "versions": versions, "detector_id": trained_detector_id(mv),
        "files": {n: (folder / n).is_file() for n in DETECTOR_FILES}})
