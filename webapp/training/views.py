from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from vision import cnn
from vision.images import thumbnail
from vision.ocr.text import card_grouped
from vision.training.classifier import ClassifierOptions
from vision.training.transfer import FEATURE_LAYOUT
from webapp.core.backbones import backbones_available
from webapp.core.forms import first_form_error
from webapp.core.uploads import image_upload_check
from webapp.core.views import json_error
from webapp.datasets.models import Dataset
from webapp.datasets.selectors import datasets_visible
from webapp.jobs.models import Job
from webapp.jobs.selectors import job_get, job_to_dict
from webapp.jobs.waiting import MAX_WAIT_SECONDS, job_wait
from webapp.registry.models import ModelVersion
from webapp.training import services
from webapp.training.forms import (OCR_PRESET_CHOICES, ActivationsForm, EmbeddingForm, OcrForm, PhotoForm,
                                   PlaygroundForm, ReadForm, TrainForm)
from webapp.training.jobs import ACTIVATIONS, CLASSIFIER, DETECTOR, EMBEDDING, OCR, READ

MODEL_FILES = {"model.keras": "application/octet-stream", "model.tflite": "application/octet-stream",
               "confusion.png": "image/png", "kernels.png": "image/png", "model.json": "application/json",
               "reader.keras": "application/octet-stream", "reader.json": "application/json",
               "reader.tflite": "application/octet-stream",
               "detector.keras": "application/octet-stream", "detector.json": "application/json",
               "detector.tflite": "application/octet-stream"}
#: A detector's precision/recall picture per class (``detectors.processing.PR_CURVE_FILE``).
PR_CURVE_NAME = re.compile(r"pr-\d{1,4}\.png")


def _datasets(user, kind: str = Dataset.Kind.CLASSIFICATION):
    return datasets_visible(user=user).filter(kind=kind)


def _model_for(user, mv_id, kinds=(ModelVersion.Kind.CLASSIFIER,)) -> ModelVersion:
    mv = get_object_or_404(ModelVersion.objects.select_related("dataset"), pk=mv_id, kind__in=kinds)
    if not user.is_staff and (mv.dataset is None or not datasets_visible(user=user).filter(pk=mv.dataset_id).exists()):
        raise PermissionDenied("This model belongs to a dataset that is not shared with you.")
    return mv


def _listed(user, datasets, model_kind: str, job_type):
    """A training page's lists: the models of ``model_kind`` on ``datasets``, and the jobs of
    ``job_type`` (a user's own; staff see everyone's)."""
    models = ModelVersion.objects.filter(kind=model_kind, dataset__in=datasets).select_related("dataset")
    jobs = Job.objects.filter(kind=job_type.kind)
    return models, jobs if user.is_staff else jobs.filter(created_by=user)


def training_home(request):
    datasets = _datasets(request.user)
    only = datasets.first() if datasets.count() == 1 else None  # one dataset: nothing to choose
    form = TrainForm(request.POST or None, datasets=datasets, backbones=backbones_available(),
                     initial={"dataset": request.GET.get("dataset") or (only.pk if only else None)})
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            job = services.training_start(dataset=c["dataset"], model_kind=c["model_kind"], user=request.user,
                                          epochs=c["epochs"], image_size=c["image_size"], patience=c["patience"],
                                          augment=c["augment"], fine_tune=c["fine_tune"],
                                          backbone=c["backbone"] or ClassifierOptions.backbone)
        except ValidationError as err:
            form.add_error(None, err)
        else:
            return redirect("training:job", job_id=job.pk)
    models, jobs = _listed(request.user, datasets, ModelVersion.Kind.CLASSIFIER, CLASSIFIER)
    try:
        choices = request.POST if request.method == "POST" else {
            "dataset": str(form["dataset"].value() or ""), "fine_tune": "on" if form["fine_tune"].value() else ""}
        estimate = _estimate_for(request.user, choices)["text"]
    except ValueError as err:
        estimate = str(err)
    return render(request, "training/home.html", {"form": form, "models": models[:50], "jobs": jobs[:10],
                                                  "problems": {d.pk: services.training_check(dataset=d) for d in datasets},
                                                  "estimate": estimate})


def _estimate_for(user, query) -> dict:
    """The Train form's choices (``query``: a GET or POST) -> the estimate as JSON-ready data.

    Raises:
        ValueError: no dataset chosen, or a choice out of range or never measured (sentence).
    """
    dataset = _datasets(user).filter(pk=int(query["dataset"])).first() if query.get("dataset", "").isdigit() else None
    if dataset is None:
        raise ValueError("Choose a dataset to see how long training will take.")
    kind = query.get("model_kind") or ClassifierOptions.model_kind
    numbers = {k: int(query[k]) for k in ("image_size", "epochs") if query.get(k, "").isdigit()}
    options = ClassifierOptions(model_kind=kind, backbone=query.get("backbone") or ClassifierOptions.backbone,
                                fine_tune=query.get("fine_tune") in ("on", "true", "1"), **numbers)
    est = services.training_estimate(dataset=dataset, options=options)
    return {"seconds": round(est.seconds), "text": est.sentence(), "features_seconds": round(est.features),
            "head_seconds": round(est.head), "fine_tune_seconds": round(est.fine_tune),
            "save_seconds": round(est.save), "photos": est.n_photos, "cached": est.n_cached}


def training_estimate(request):
    """``GET /training/estimate/?dataset=&model_kind=&backbone=&image_size=&epochs=&fine_tune=``:
    how long training would take on this machine (the Train page asks as its choices change).
    200 ``{seconds, text, ...}``; 400 ``{message, code: "no_estimate"}``."""
    try:
        return JsonResponse(_estimate_for(request.user, request.GET))
    except ValueError as err:
        return JsonResponse({"message": str(err), "code": "no_estimate", "fields": {}}, status=400)


def embedding_home(request):
    """Learn a similarity embedding from a classification dataset's classes; the embeddings learned."""
    datasets = _datasets(request.user)
    form = EmbeddingForm(request.POST or None, datasets=datasets, initial={"dataset": request.GET.get("dataset")})
    return _start_page(request, form, datasets, lambda c: services.embedding_start(
        dataset=c["dataset"], user=request.user, epochs=c["epochs"], mining=c["mining"],
        architecture=c["architecture"]), check=services.embedding_check, model_kind=ModelVersion.Kind.EMBEDDING,
        job_type=EMBEDDING, template="training/embeddings.html")


def _start_page(request, form, datasets, start, *, check, model_kind: str, job_type, template: str):
    """A page that starts a training job from ``form`` (``start(cleaned_data) -> Job``, raising
    ``ValidationError`` in words, shown on the form) and lists the ``model_kind`` versions on
    ``datasets``, the recent jobs of ``job_type`` and each dataset's ``check`` problems."""
    if request.method == "POST" and form.is_valid():
        try:
            job = start(form.cleaned_data)
        except ValidationError as err:
            form.add_error(None, err)
        else:
            return redirect("training:job", job_id=job.pk)
    models, jobs = _listed(request.user, datasets, model_kind, job_type)
    return render(request, template, {"form": form, "models": models[:50], "jobs": jobs[:10],
                                      "problems": {d.pk: check(dataset=d) for d in datasets}})


def _readers(user, *, active_only: bool = False):
    """Reader versions on the text-lines datasets ``user`` may open (``active_only``: the ones
    offered to read with and to fine-tune from)."""
    readers = ModelVersion.objects.filter(kind=ModelVersion.Kind.OCR, dataset__in=_datasets(
        user, Dataset.Kind.TEXT_LINES)).select_related("dataset")
    return readers.filter(active=True) if active_only else readers


def reader_home(request):
    """Train a text-line reader on a text-lines dataset; the readers trained and the recent jobs."""
    datasets = _datasets(request.user, Dataset.Kind.TEXT_LINES)
    form = OcrForm(request.POST or None, datasets=datasets, readers=_readers(request.user, active_only=True),
                   initial={"dataset": request.GET.get("dataset")})
    return _start_page(request, form, datasets, lambda c: services.ocr_start(
        dataset=c["dataset"], user=request.user, preset=c["preset"], epochs=c["epochs"], pattern=c["pattern"],
        base_model_version_id=c["base"].pk if c["base"] else None), check=services.ocr_check,
        model_kind=ModelVersion.Kind.OCR, job_type=OCR, template="training/readers.html")


def training_job(request, job_id: int):
    job = job_get(user=request.user, job_id=job_id)
    if job is None or job.kind not in (CLASSIFIER.kind, EMBEDDING.kind, OCR.kind, DETECTOR.kind):
        raise Http404("No such training job")
    mv = ModelVersion.objects.filter(job=job).first()
    dataset = Dataset.objects.filter(pk=job.params.get("dataset_id")).first()
    base = ModelVersion.objects.filter(pk=job.params.get("base_model_version_id")).first()  # a fine-tuned reader's start
    return render(request, "training/job.html", {"job": job, "job_json": job_to_dict(job), "model": mv,
                                                 "dataset": dataset, "base": base,
                                                 "preset": dict(OCR_PRESET_CHOICES).get(job.params.get("preset"))})


TRAINED_KINDS = (ModelVersion.Kind.CLASSIFIER, ModelVersion.Kind.EMBEDDING, ModelVersion.Kind.OCR,
                 ModelVersion.Kind.DETECTOR)


def model_detail(request, mv_id: int):
    mv = _model_for(request.user, mv_id, kinds=TRAINED_KINDS)
    if mv.kind == ModelVersion.Kind.EMBEDDING:
        return _embedding_detail(request, mv)
    if mv.kind == ModelVersion.Kind.OCR:
        return _reader_detail(request, mv)
    if mv.kind == ModelVersion.Kind.DETECTOR:
        from webapp.training.detectors.views import detector_detail  # it imports this module's helpers

        return detector_detail(request, mv)
    layers = mv.metrics.get("layers", [])
    act_job = job_get(user=request.user, job_id=int(request.GET["act_job"])) if request.GET.get("act_job", "").isdigit() else None
    shown_layer = act_job.params.get("layer") if act_job and act_job.kind == ACTIVATIONS.kind else None
    versions = ModelVersion.objects.filter(kind=mv.kind, dataset=mv.dataset)
    active = next((v for v in versions if v.active), None)
    better = (not mv.active and active is not None
              and mv.metrics.get("accuracy", 0) > active.metrics.get("accuracy", 0))
    return render(request, "training/model.html", {"better_than_active": active if better else None,
        "mv": mv, "m": mv.metrics, "predict_form": PhotoForm(), "act_form": ActivationsForm(layers=layers, initial={"layer": shown_layer}),
        "versions": versions, "class_peaks": mv.metrics.get("features") == FEATURE_LAYOUT,
        "files": {n: (Path(mv.path).parent / n).exists() for n in MODEL_FILES}})


EMBEDDING_METRICS = (("r_at_1", "R@1"), ("r_precision", "R-Precision"), ("map_at_r", "MAP@R"),
                     ("precision_at_k", "Precision@10"))


def _embedding_detail(request, mv: ModelVersion):
    """An embedding's page: how it retrieves on the held-out groups beside the frozen
    backbone, its curves, its versions; whether it was made active and why not."""
    m = mv.metrics
    rows = [(label, m.get("frozen_metrics", {}).get(key), m.get("whitening_metrics", {}).get(key),
             m.get("metrics", {}).get(key)) for key, label in EMBEDDING_METRICS]
    versions = ModelVersion.objects.filter(kind=mv.kind, dataset=mv.dataset)
    return render(request, "training/embedding.html", {"mv": mv, "m": m, "rows": rows, "versions": versions})


def _reader_detail(request, mv: ModelVersion):
    """A text-line reader's page: its validation figures, curves, readings, look-alike
    confusions, the lines it skipped and why, its versions."""
    versions = ModelVersion.objects.filter(kind=mv.kind, dataset=mv.dataset)
    confusions = [(*pair.split(">", 1), n) for pair, n in mv.metrics["metrics"]["confusions"].items()]  # "O>0"
    return render(request, "training/reader.html", {"mv": mv, "m": mv.metrics, "versions": versions,
                                                    "confusions": confusions,
                                                    "files": {n: (Path(mv.path).parent / n).is_file()
                                                              for n in ("reader.keras", "reader.json", "reader.tflite")},
                                                    "preset": dict(OCR_PRESET_CHOICES).get(mv.metrics.get("preset"))})


#: Below this confidence a character is marked on the Read page: the reader gave it less than even odds.
LOW_CONFIDENCE = 0.5


def _reading(job: Job | None) -> dict | None:
    """A succeeded read job's result for the Read page, with ``groups``: the characters as
    ``card_grouped`` spaces them (a card number in fours; other text one group), each with
    its confidence (a group never breaks across lines on a phone)."""
    if job is None or job.state != Job.State.SUCCEEDED:
        return None
    r = job.result
    confidences = iter(r["confidences"])
    groups = [[{"char": c, "confidence": conf, "percent": round(conf * 100), "low": conf < LOW_CONFIDENCE}
               for c, conf in zip(word, confidences)] for word in r["grouped"].split(" ") if word]
    return {**r, "groups": groups, "suggestion_grouped": card_grouped(r["suggestion"])}


def reader_read(request):
    """Read the text line of a photo with an active reader: a ``training.read`` job on the
    interactive queue; ``?job=<id>`` shows its reading (the page follows it until then)."""
    form = ReadForm(request.POST or None, request.FILES or None, readers=_readers(request.user, active_only=True),
                    initial={"model_version_id": request.GET.get("reader")})
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            job = services.reading_start(model_version=c["model_version_id"], upload=c["photo"], pattern=c["pattern"],
                                         user=request.user)
        except ValidationError as err:
            form.add_error(None, err)
        else:
            return redirect(f"{reverse('training:read')}?job={job.pk}")
    job = job_get(user=request.user, job_id=int(request.GET["job"])) if request.GET.get("job", "").isdigit() else None
    job = job if job is not None and job.kind == READ.kind else None
    return render(request, "training/read.html", {"form": form, "job": job, "reading": _reading(job)})


#: Seconds ``POST /api/ocr`` waits for its reading by default: a loaded reader reads a line in
#: milliseconds; the first reading in a worker process also loads the reader.
READ_WAIT_SECONDS = 5.0
READING_FIELDS = ("text", "grouped", "confidences", "confidence", "problem", "suggestion", "model_version_id")


@require_POST
def api_read(request):
    """``POST /api/ocr``: multipart ``photo``, ``model_version_id`` (a reader version),
    optional ``pattern`` (a regular expression checked instead of the reader's rule) and
    ``wait`` (seconds, 0..``MAX_WAIT_SECONDS``, default :data:`READ_WAIT_SECONDS`).

    Returns:
        200 ``{text, grouped, confidences, confidence, problem, suggestion, model_version_id,
        job}`` once read within ``wait``; else 202 ``{job}`` (ask ``/api/jobs/<id>?wait=``, whose
        ``result`` has the same fields). 400 ``{message, code, fields}`` for a photo that is
        not an image, too small or too wide for the reader, or a bad pattern or reader id.
    """
    try:
        wait = float(request.POST.get("wait", READ_WAIT_SECONDS))
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise ValueError
    except ValueError:
        message = f"wait must be a number of seconds from 0 to {MAX_WAIT_SECONDS:g}."
        return JsonResponse({"message": message, "code": "invalid", "fields": {"wait": [message]}}, status=400)
    form = ReadForm(request.POST, request.FILES, readers=_readers(request.user))
    try:
        if not form.is_valid():
            raise first_form_error(form, "Send a photo and the model_version_id of a reader.")
        c = form.cleaned_data
        job = services.reading_start(model_version=c["model_version_id"], upload=c["photo"], pattern=c["pattern"],
                                     user=request.user)
    except ValidationError as err:
        return json_error(err)
    if wait:
        job_wait(job.pk, wait)
        job.refresh_from_db()  # ended, or its latest state for the 202
    if job.state == Job.State.SUCCEEDED:
        return JsonResponse({**{k: job.result[k] for k in READING_FIELDS}, "job": job_to_dict(job)})
    if job.state == Job.State.FAILED:  # a sentence either way; a photo the worker could not read is the client's
        status = {"invalid_image": 400, "deleted": 404}.get(job.error_code, 500)
        return JsonResponse({"message": job.error, "code": job.error_code, "fields": {}, "job": job_to_dict(job)},
                            status=status)
    return JsonResponse({"job": job_to_dict(job)}, status=202)


def model_file(request, mv_id: int, name: str):
    mv = _model_for(request.user, mv_id, kinds=(ModelVersion.Kind.CLASSIFIER, ModelVersion.Kind.OCR,
                                                ModelVersion.Kind.DETECTOR))
    content_type = MODEL_FILES.get(name) or ("image/png" if PR_CURVE_NAME.fullmatch(name) else None)
    if content_type is None:
        raise Http404("No such file")
    path = Path(mv.path).parent / name
    if not path.is_file():
        raise Http404("This file was not produced for this model")
    download = not name.endswith(".png")
    filename = f"{mv.dataset.name if mv.dataset else 'model'}-v{mv.version}-{name}".replace(" ", "_")
    return FileResponse(open(path, "rb"), content_type=content_type, as_attachment=download, filename=filename)


@require_POST
def model_activate(request, mv_id: int):
    mv = _model_for(request.user, mv_id, kinds=TRAINED_KINDS)
    if mv.kind == ModelVersion.Kind.EMBEDDING and not mv.metrics.get("better_than_frozen"):
        messages.error(request, "This embedding retrieves worse than the frozen backbone on its held-out groups, "
                                "so it cannot be made active.")
        return redirect("training:model", mv_id=mv.pk)
    services.model_activate(model_version=mv)
    messages.success(request, f"Version {mv.version} is now the active model for this dataset.")
    return redirect("training:model", mv_id=mv.pk)


@require_POST
def model_predict(request, mv_id: int):
    api = request.path.startswith("/api/")
    try:
        mv = _model_for(request.user, mv_id)
    except Http404:
        if api:  # an API client reads JSON, not the HTML error page
            return JsonResponse({"message": "There is no classifier with this id.", "code": "not_found"}, status=404)
        raise
    except PermissionDenied as err:
        if api:
            return JsonResponse({"message": str(err), "code": "forbidden"}, status=403)
        raise
    form = PhotoForm(request.POST, request.FILES)
    try:
        if not form.is_valid():
            raise first_form_error(form, "Choose a photo.")
        job = services.prediction_start(model_version=mv, upload=form.cleaned_data["photo"], user=request.user)
    except ValidationError as err:
        if api:
            return json_error(err)
        messages.error(request, " ".join(getattr(err, "messages", [str(err)])))
        return redirect("training:model", mv_id=mv.pk)
    if api:
        return JsonResponse({"job": job_to_dict(job)}, status=202)
    return redirect(f"/training/models/{mv.pk}/?predict_job={job.pk}#predict")


@require_POST
def model_activations(request, mv_id: int):
    mv = _model_for(request.user, mv_id)
    form = ActivationsForm(request.POST, request.FILES, layers=mv.metrics.get("layers", []))
    if not form.is_valid():
        messages.error(request, " ".join(m for errs in form.errors.values() for m in errs))
        return redirect("training:model", mv_id=mv.pk)
    try:
        job = services.activations_start(model_version=mv, upload=form.cleaned_data["photo"],
                                         layer=form.cleaned_data["layer"], user=request.user)
    except ValidationError as err:
        messages.error(request, " ".join(getattr(err, "messages", [str(err)])))
        return redirect("training:model", mv_id=mv.pk)
    return redirect(f"/training/models/{mv.pk}/?act_job={job.pk}#inspect")


# ----- kernel playground (numpy only: safe in the web process) -----
SEED_SQUARE = np.array([[0] * 8] + [[0, 1, 1, 1, 1, 1, 1, 0]] * 2 + [[0, 1, 1, 0, 0, 1, 1, 0]] * 2
                       + [[0, 1, 1, 1, 1, 1, 1, 0]] * 2 + [[0] * 8], dtype=float)
PLAYGROUND_SIDE = 256


def _png(a: np.ndarray, scale: int = 1) -> str:
    from PIL import Image

    img = cnn.to_display(a)
    if scale > 1:
        img = np.kron(img, np.ones((scale, scale), np.uint8))
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def playground(request):
    form = PlaygroundForm(request.POST or None, request.FILES or None)
    ctx = {"form": form}
    if request.method == "POST" and form.is_valid():
        c = form.cleaned_data
        try:
            kernel = cnn.parse_kernel(c["custom"]) if c["kernel"] == "custom" else cnn.KERNELS[c["kernel"]]
            if c["photo"]:
                loaded, _data = image_upload_check(c["photo"])  # size and content, as every upload
                pixels = thumbnail(loaded.pixels, PLAYGROUND_SIDE)
                image = cnn.to_gray(pixels)
            else:
                image = SEED_SQUARE
            conv = cnn.conv2d(image, kernel, padding=c["padding"], stride=c["stride"])
            act = cnn.relu(conv, offset=c["relu_offset"] or 0.0)
            pooled = cnn.pool2d(act, 2, mode=c["pooling"]) if c["pooling"] != "none" and min(act.shape) >= 2 else act
        except ValueError as err:
            form.add_error(None, str(err))
        except ValidationError as err:
            form.add_error(None, err)
        else:
            small = image.shape[0] <= 16
            scale = 24 if small else 1
            ctx.update(kernel=kernel.tolist(), small=small, steps=[
                ("Input (grey)", _png(image, scale), image.shape, image.tolist() if small else None),
                ("2-D convolution", _png(conv, scale), conv.shape, conv.round(2).tolist() if small else None),
                (f"ReLU (offset {c['relu_offset'] or 0:g})", _png(act, scale), act.shape, act.round(2).tolist() if small else None),
                ("Pooling" if c["pooling"] != "none" else "No pooling", _png(pooled, scale * 2 if small else 1),
                 pooled.shape, pooled.round(2).tolist() if small else None),
            ], flat=cnn.flatten(pooled).size)
    return render(request, "training/playground.html", ctx)
