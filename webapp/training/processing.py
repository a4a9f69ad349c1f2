"""Worker-side training, prediction and inspection: the one place that turns
dataset rows into ``vision.training`` calls and results back into rows
(Keras and TensorFlow stay inside ``vision``)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from vision.errors import TrainingCancelled
from vision.training import classifier as trainer
from vision.training import data, inspect
from vision.training.classifier import ClassifierOptions, Example
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import dataset_split_assign
from webapp.jobs.errors import JobCancelled, JobFailed
from webapp.jobs.models import Job
from webapp.jobs.services import CANCEL_CHECK_INTERVAL, cancel_checker
from webapp.registry.models import ModelVersion
from webapp.jobs.runner import job_row
from webapp.registry.services import model_version_active, model_version_register
from webapp.training.services import embedding_options_from_params, ocr_options_from_params, options_from_params


def _models_dir() -> Path:
    return Path(settings.TRAINED_MODELS_DIR)


def _stop_checker(job_id: int, dataset_id: int):
    """``jobs.services.cancel_checker`` that also fails the job, in words, once
    its dataset is gone; polled after every batch, reads at most once a second."""
    cancelled = cancel_checker(job_id)
    state = {"t": None}

    def should_stop() -> bool:
        now = time.monotonic()
        if state["t"] is None or now - state["t"] >= CANCEL_CHECK_INTERVAL:
            state["t"] = now
            if not Dataset.objects.filter(pk=dataset_id).exists():
                raise JobFailed("The dataset was deleted while the model was training; nothing was saved.", "deleted")
        return cancelled()

    return should_stop


def _split_ensure(dataset: Dataset) -> None:
    """Give readable photos not yet assigned a train/validation split one (``dataset_split_assign``:
    seeded by the dataset, so a photo stays on its side across jobs while the dataset is unchanged)."""
    if dataset.images.filter(status=DatasetImage.Status.OK, split="").exists():
        dataset_split_assign(dataset=dataset)


def _rows(dataset: Dataset, *, split: bool = True):
    """Readable photos with a label and the classes in use (label-map order); with ``split``,
    photos not yet assigned a train/validation split get one first (an embedding splits by
    group instead, and a photo split could not even be drawn from 4 groups of 2 photos)."""
    if split:
        _split_ensure(dataset)
    rows = list(dataset.images.filter(status=DatasetImage.Status.OK, label__isnull=False)
                .select_related("label").order_by("id"))
    used = sorted({r.label for r in rows}, key=lambda c: c.class_id)
    return rows, used


def _options(p: dict, seed: int) -> ClassifierOptions:
    """The job's parameters (``services.training_start``) as ``ClassifierOptions``."""
    return options_from_params(p, seed)


def classifier_train(job: Job, progress) -> tuple[dict, str]:
    """Train the model ``job.params`` describes on its dataset
    (``vision.training.classifier.classifier_train``); register a ``ModelVersion``.
    Idempotent across retries: the run folder and the history on the Job let a
    restarted job resume (at most one epoch lost)."""
    p = job.params
    dataset = Dataset.objects.filter(pk=p["dataset_id"]).first()
    if dataset is None:
        raise JobFailed("The dataset was deleted before training started.", "deleted")
    rows, used = _rows(dataset)
    counts = {c.pk: 0 for c in used}
    for r in rows:
        counts[r.label_id] += 1
    notes = [f"Class “{c.name}” has no photos and was left out." for c in dataset.classes.all() if c not in used]
    if len(used) < 2 or min(counts.values()) < 2:
        raise JobFailed("A classifier needs at least two classes with at least two photos each.", "not_trainable")
    index = {c.pk: i for i, c in enumerate(used)}
    names = [c.name for c in used]
    train = [r for r in rows if r.split == DatasetImage.Split.TRAIN]
    val = [r for r in rows if r.split == DatasetImage.Split.VALIDATION]
    if not train or not val:
        raise JobFailed("The train/validation split left one side empty; add more photos.", "split")
    run_dir = _models_dir() / "runs" / f"job-{job.pk}"

    def on_epoch(history: dict, phase: str) -> None:
        """Stores the curves so far on the Job row after every epoch (the job page draws them)."""
        Job.objects.filter(pk=job.pk).update(result={"history": history, "phase": phase, "classes": names})

    try:
        trained = trainer.classifier_train(
            [Example(r.file.path, index[r.label_id], r.sha256) for r in train],
            [Example(r.file.path, index[r.label_id], r.sha256) for r in val],
            class_names=names, options=_options(p, dataset.split_seed), work_dir=run_dir,
            cache_dir=Path(settings.CACHE_DIR), on_progress=progress, on_epoch=on_epoch,
            should_stop=_stop_checker(job.pk, dataset.pk), history=dict((job.result or {}).get("history") or {}))
    except TrainingCancelled as err:  # before any model existed: nothing to register
        raise JobCancelled(err.message) from err
    probs = trained.probabilities
    misclassified = [
        {"image_id": r.pk, "thumbnail": r.thumbnail.url if r.thumbnail else "", "name": r.original_name,
         "true": names[t], "predicted": names[q], "probability": round(float(probs[i, q]), 4)}
        for i, (r, t, q) in enumerate(zip(val, trained.validation_labels.tolist(), trained.predictions.tolist()))
        if t != q][:100]
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        raise JobFailed("The dataset was deleted while the model was training; nothing was saved.", "deleted")
    folder = _models_dir() / "classifiers" / f"dataset-{dataset.pk}" / f"job-{job.pk}"
    saved = trained.save(folder, extra={"misclassified": misclassified, "notes": notes})
    mv = model_version_register(
        kind=ModelVersion.Kind.CLASSIFIER, name=trained.name, dataset=dataset, path=str(saved.model_path), params=p,
        metrics=saved.metrics, classes=names, job=job,
        activate=model_version_active(kind=ModelVersion.Kind.CLASSIFIER, dataset=dataset) is None)
    shutil.rmtree(run_dir, ignore_errors=True)
    verb = "Cancelled; the best model so far was saved" if trained.cancelled else "Trained"
    ft = trained.fine_tune_epochs_run
    outcome = {"history": trained.history, "model_version_id": mv.pk, "accuracy": trained.accuracy, "classes": names,
               "notes": notes}
    message = (f"{verb}: validation accuracy {trained.accuracy:.1%} after {trained.epochs_run} "
               f"epoch{'s' if trained.epochs_run != 1 else ''}"
               f"{f' + {ft} fine-tuning' if ft else ''}"
               f"{' (not kept: the frozen model was better)' if trained.fine_tune_kept is False else ''}"
               f" (v{mv.version})")
    if trained.cancelled:  # the job stays cancelled; its row says what was kept
        raise JobCancelled(message, result=outcome)
    return outcome, message


def embedding_train(job: Job, progress) -> tuple[dict, str]:
    """Learn a similarity embedding from a classification dataset's classes as groups
    (``vision.training.ranking.embedding_train``), the groups split seeded by the
    dataset's split seed so validation groups are never trained on; register an
    ``embedding`` ``ModelVersion``, made active only when it retrieves at least as well
    as the frozen backbone on the validation groups (MAP@R)."""
    from vision.training.ranking import GroupedPhoto, embedding_train as train_embedding, split_by_group

    p = job.params
    dataset = Dataset.objects.filter(pk=p["dataset_id"]).first()
    if dataset is None:
        raise JobFailed("The dataset was deleted before training started.", "deleted")
    rows, used = _rows(dataset, split=False)
    index = {c.pk: i for i, c in enumerate(used)}
    coarse_ids = {name: i for i, name in enumerate(sorted({c.coarse_group for c in used if c.coarse_group}))}
    coarse = {c.pk: coarse_ids.get(c.coarse_group, -1) for c in used}  # -1: no coarse group
    photos = [GroupedPhoto(r.file.path, index[r.label_id], coarse=coarse[r.label_id], key=r.sha256) for r in rows]
    try:
        train, val = split_by_group(photos, validation_share=p.get("validation_share", 0.5), seed=dataset.split_seed)
        options = embedding_options_from_params(p, dataset.split_seed)
    except ValueError as err:
        raise JobFailed(str(err), "not_trainable") from err
    run_dir = _models_dir() / "runs" / f"job-{job.pk}"
    names = [c.name for c in used]

    def on_epoch(history: dict, phase: str) -> None:
        Job.objects.filter(pk=job.pk).update(result={"history": history, "phase": phase})

    try:
        trained = train_embedding(train, val, options=options, work_dir=run_dir, cache_dir=Path(settings.CACHE_DIR),
                                  on_progress=progress, on_epoch=on_epoch,
                                  should_stop=_stop_checker(job.pk, dataset.pk),
                                  history=dict((job.result or {}).get("history") or {}))
    except TrainingCancelled as err:
        raise JobCancelled(err.message) from err
    except ValueError as err:  # e.g. every photo of a side unreadable
        raise JobFailed(str(err), "not_trainable") from err
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        raise JobFailed("The dataset was deleted while the embedding was training; nothing was saved.", "deleted")
    folder = _models_dir() / "embeddings" / f"dataset-{dataset.pk}" / f"job-{job.pk}"
    path = trained.save(folder)
    held_out = sorted({names[v.group] for v in val})
    metrics = {**trained.report(), "validation_groups": held_out}
    mv = model_version_register(kind=ModelVersion.Kind.EMBEDDING, name=f"{options.backbone}+ranking{options.dim}",
                                dataset=dataset, path=str(path), params=p, metrics=metrics, classes=names, job=job,
                                activate=trained.better_than_frozen)
    shutil.rmtree(run_dir, ignore_errors=True)
    m, f = trained.metrics, trained.frozen_metrics
    verdict = ("made active" if trained.better_than_frozen else
               "not made active: it retrieves worse than the frozen backbone on the validation groups")
    message = (f"{'Cancelled; the best so far was saved' if trained.cancelled else 'Trained'}: MAP@R "
               f"{m['map_at_r']:.3f} against the frozen backbone's {f['map_at_r']:.3f} on {len(held_out)} held-out "
               f"groups (v{mv.version}, {verdict})")
    outcome = {"history": trained.history, "model_version_id": mv.pk, "metrics": m, "frozen_metrics": f,
               "better_than_frozen": trained.better_than_frozen, "note": trained.note}
    if trained.cancelled:
        raise JobCancelled(message, result=outcome)
    return outcome, message


def ocr_train(job: Job, progress) -> tuple[dict, str]:
    """Train a text-line reader on a text-lines dataset (``vision.training.ocr.ocr_train``):
    its readable photos with a text, split by photo with the dataset's seeded split (each
    photo is one line: no two lines share a photo to leak across the split); register an
    ``ocr`` ``ModelVersion``, made active when its validation full-line accuracy is at least
    the dataset's active reader's (or none is active). Resumes from the last finished epoch
    after a restart; a cancel keeps the best reader so far."""
    from vision import catalog
    from vision.training.ocr import TextLine, ocr_train as train_reader

    p = job.params
    dataset = Dataset.objects.filter(pk=p["dataset_id"]).first()
    if dataset is None:
        raise JobFailed("The dataset was deleted before training started.", "deleted")
    _split_ensure(dataset)
    rows = list(dataset.images.filter(status=DatasetImage.Status.OK).exclude(text="").order_by("id"))
    sides = {s: [TextLine(r.file.path, r.text, r.original_name) for r in rows if r.split == s]
             for s in (DatasetImage.Split.TRAIN, DatasetImage.Split.VALIDATION)}
    if not all(sides.values()):
        raise JobFailed("The train/validation split left one side empty; add more photos.", "split")
    try:
        options = ocr_options_from_params(p, dataset.split_seed)
    except ValueError as err:
        raise JobFailed(str(err), "not_trainable") from err
    init = None
    if p.get("base_model_version_id"):
        base = job_row(job, ModelVersion, "base_model_version_id", "The reader to fine-tune was deleted.")
        init = catalog.trained_load(ModelVersion.Kind.OCR, base.pk, base.path)[0]
    run_dir = _models_dir() / "runs" / f"job-{job.pk}"

    def on_epoch(history: dict, phase: str) -> None:
        Job.objects.filter(pk=job.pk).update(result={"history": history, "phase": phase})

    try:
        trained = train_reader(sides[DatasetImage.Split.TRAIN], sides[DatasetImage.Split.VALIDATION],
                               options=options, work_dir=run_dir, init=init, on_progress=progress,
                               on_epoch=on_epoch, should_stop=_stop_checker(job.pk, dataset.pk),
                               history=dict((job.result or {}).get("history") or {}))
    except TrainingCancelled as err:
        raise JobCancelled(err.message) from err
    except ValueError as err:  # no usable line on a side (every label outside the alphabet, ...)
        raise JobFailed(str(err), "not_trainable") from err
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        raise JobFailed("The dataset was deleted while the reader was training; nothing was saved.", "deleted")
    path = trained.save(_models_dir() / "readers" / f"dataset-{dataset.pk}" / f"job-{job.pk}")
    m = trained.metrics
    active = model_version_active(kind=ModelVersion.Kind.OCR, dataset=dataset)
    active_accuracy = active.metrics["metrics"]["accuracy"] if active else None
    better = active is None or m["accuracy"] >= active_accuracy
    mv = model_version_register(kind=ModelVersion.Kind.OCR, name=f"crnn-{p['preset']}", dataset=dataset,
                                path=str(path), params=p, metrics={**trained.report(), "preset": p["preset"]},
                                job=job, activate=better)
    shutil.rmtree(run_dir, ignore_errors=True)
    verdict = ("made active" if better else
               f"not made active: the active reader v{active.version} reads {active_accuracy:.1%} of the lines exactly")
    skipped = f"; {len(trained.skipped)} line{'s' if len(trained.skipped) != 1 else ''} skipped" if trained.skipped else ""
    message = (f"{'Cancelled; the best so far was saved' if trained.cancelled else 'Trained'}: {m['accuracy']:.1%} of "
               f"{trained.n_val} validation lines read exactly, CER {m['cer']:.2%}{skipped} (v{mv.version}, {verdict})")
    outcome = {"history": trained.history, "model_version_id": mv.pk, "metrics": m, "skipped": len(trained.skipped)}
    if trained.cancelled:
        raise JobCancelled(message, result=outcome)
    return outcome, message


def photo_read(job: Job, progress) -> tuple[dict, str]:
    """Read the text line of one staged photo with a reader version (cached per worker process);
    the reader's rule, or the job's pattern, is checked on the reading (``vision.ocr.decode``)."""
    from vision import catalog
    from vision.images import load_image
    from vision.ocr.text import Rule, card_grouped
    from vision.training.ocr import read_with

    mv = job_row(job, ModelVersion, "model_version_id", "This reader was deleted.")
    model, options, _report = catalog.trained_load(ModelVersion.Kind.OCR, mv.pk, mv.path)
    pattern = job.params.get("pattern") or ""
    try:
        reading = read_with(model, options, [load_image(job.params["path"]).pixels],
                            Rule("pattern", pattern) if pattern else None)[0]
    except ValueError as err:  # too small or too wide for this reader (the web side checks it first)
        raise JobFailed(str(err), "invalid_image") from err
    result = {"text": reading.text, "grouped": card_grouped(reading.text),
              "confidences": [round(c, 4) for c in reading.confidences], "confidence": round(reading.confidence, 4),
              "problem": reading.problem, "suggestion": reading.suggestion, "model_version_id": mv.pk,
              "photo_url": job.params.get("url", "")}
    return result, (f"Read “{result['grouped']}” ({reading.confidence:.0%})" if reading.text else "No text read")


def _model_and_photo(job: Job):
    """The job's classifier version (cached per worker process) and its
    staged photo resized to the model's input: ``(model, metadata, (s, s, 3) float32)``."""
    from vision import catalog

    mv = ModelVersion.objects.filter(pk=job.params["model_version_id"]).first()
    if mv is None:
        raise JobFailed("This model version was deleted.", "deleted")
    model, meta = catalog.trained_load(ModelVersion.Kind.CLASSIFIER, mv.pk, mv.path)
    img = data.load_resized(job.params["path"], meta["image_size"])
    if img is None:
        raise JobFailed("The photo could not be read.", "invalid_image")
    return mv, model, meta, img


def photo_predict(job: Job, progress) -> tuple[dict, str]:
    """Top-5 classes of one staged photo with the given model version."""
    from vision.training.export import predict_images

    mv, model, meta, img = _model_and_photo(job)
    top = predict_images(model, img[None], meta["class_names"], top_k=min(5, len(meta["class_names"])))[0]
    return ({"model_version_id": mv.pk, "top": [{"class": c, "probability": round(pr, 4)} for c, pr in top],
             "photo_url": job.params.get("url", "")}, f"{top[0][0]} ({top[0][1]:.0%})")


def photo_activations(job: Job, progress) -> tuple[dict, str]:
    """Feature maps of one staged photo after the chosen layer, as a PNG in media."""
    _mv, model, _meta, img = _model_and_photo(job)
    try:
        png = inspect.activations_png(model, img, job.params["layer"])
    except ValueError as err:
        raise JobFailed(str(err), "invalid_layer") from err
    channels = inspect.layer_channels(model, job.params["layer"])
    name = default_storage.save(job.params["out"], ContentFile(png))
    return ({"image_url": default_storage.url(name), "layer": job.params["layer"], "channels": channels,
             "shown": min(channels, inspect.ACTIVATION_MAPS)}, f"Activations after {job.params['layer']}")
