"""Worker-side training, prediction and inspection: the one place that turns
dataset rows into ``vision.training`` calls and results back into rows."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from vision.training import data, evaluate, export, fit, inspect, models
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import dataset_split_assign
from webapp.jobs.models import Job
from webapp.jobs.services import CANCEL_CHECK_INTERVAL, JobCancelled, JobFailed, cancel_checker
from webapp.registry.models import ModelVersion
from webapp.registry.services import model_version_active, model_version_register


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


def _rows(dataset: Dataset):
    """Readable photos with a label, their split, and the classes in use (label-map order)."""
    if dataset.images.filter(status=DatasetImage.Status.OK, split="").exists():
        dataset_split_assign(dataset=dataset)
    rows = list(dataset.images.filter(status=DatasetImage.Status.OK, label__isnull=False)
                .select_related("label").order_by("id"))
    used = sorted({r.label for r in rows}, key=lambda c: c.class_id)
    return rows, used


def train_classifier(job: Job, progress) -> tuple[dict, str]:
    """Train the model ``job.params`` describes on its dataset; register a
    ``ModelVersion``. Idempotent across retries: the run folder and the
    history on the Job let a restarted job resume (at most one epoch lost)."""
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
    history = dict((job.result or {}).get("history") or {})
    should_stop = _stop_checker(job.pk, dataset.pk)
    size, bs, kind = p["image_size"], p["batch_size"], p["model_kind"]
    import keras

    keras.utils.set_random_seed(dataset.split_seed)  # same data and settings: same starting weights, comparable runs

    def live(phase: str, before: dict | None = None, prefix: str = ""):
        """Stores the curves so far after every epoch; fine-tuning's go after the head's (``before``) as ``fine_tune_*``."""
        def on_epoch(epoch, metrics, hist):
            shown = {**(before or {}), **{prefix + k: v for k, v in hist.items()}}
            Job.objects.filter(pk=job.pk).update(result={"history": shown, "phase": phase, "classes": names})
            progress(None, f"{phase}: epoch {epoch + 1} done, val_accuracy {metrics['val_accuracy']:.3f}", force=True)
        return on_epoch

    def on_batch_for(lo, hi, phase):
        return lambda frac, epoch, batch: progress(lo + (hi - lo) * frac, f"{phase}: epoch {epoch + 1}, batch {batch + 1}")

    if kind == "scratch":
        model = models.build_scratch_cnn(len(names), size)
        train_ds = data.image_dataset([r.file.path for r in train], [index[r.label_id] for r in train], image_size=size,
                                      batch_size=bs, shuffle=True, augment=p["augment"], seed=dataset.split_seed)
        val_ds = data.image_dataset([r.file.path for r in val], [index[r.label_id] for r in val], image_size=size, batch_size=bs)
        result = fit.fit(model, train_ds, val_ds, epochs=p["epochs"], learning_rate=p["learning_rate"],
                         patience=p["patience"], work_dir=run_dir, steps_per_epoch=-(-len(train) // bs),
                         on_batch=on_batch_for(0.0, 0.95, "Training"), on_epoch=live("Training"),
                         should_stop=should_stop, history=history)
        x_val = np.stack([data.load_resized(r.file.path, size) for r in val])
        probs = np.asarray(model.predict(x_val, verbose=0))
        final, extra = model, {}
    else:
        final, probs, result, extra = _train_transfer(p, dataset, train, val, index, names, run_dir, history,
                                                      should_stop, progress, live, on_batch_for, notes)
    y_true = [index[r.label_id] for r in val]
    y_pred = probs.argmax(1).tolist()
    metrics = evaluate.classification_metrics(y_true, y_pred, names)
    metrics["misclassified"] = [
        {"image_id": r.pk, "thumbnail": r.thumbnail.url if r.thumbnail else "", "name": r.original_name,
         "true": names[t], "predicted": names[q], "probability": round(float(probs[i, q]), 4)}
        for i, (r, t, q) in enumerate(zip(val, y_true, y_pred)) if t != q][:100]
    metrics.update(history=result.history, best_epoch=result.best_epoch, epochs_run=result.epochs_run,
                   stopped_early=result.stopped_early, cancelled=result.cancelled,
                   n_train=len(train), n_val=len(val), notes=notes, **extra)
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        raise JobFailed("The dataset was deleted while the model was training; nothing was saved.", "deleted")
    mv = _save(job, dataset, final, names, p, metrics)
    shutil.rmtree(run_dir, ignore_errors=True)
    verb = "Cancelled; the best model so far was saved" if result.cancelled else "Trained"
    ft = len(result.history.get("fine_tune_loss", []))
    outcome = {"history": result.history, "model_version_id": mv.pk, "accuracy": metrics["accuracy"], "classes": names,
               "notes": notes}
    message = (f"{verb}: validation accuracy {metrics['accuracy']:.1%} after {result.epochs_run} epochs"
               f"{f' + {ft} fine-tuning' if ft else ''}"
               f"{' (not kept: the frozen model was better)' if extra.get('fine_tune_kept') is False else ''}"
               f" (v{mv.version})")
    if result.cancelled:  # the job stays cancelled; its row says what was kept
        raise JobCancelled(message, result=outcome)
    return outcome, message


def _train_transfer(p, dataset, train, val, index, names, run_dir, history, should_stop, progress, live, on_batch_for,
                    notes):
    """Frozen backbone: features computed once and cached, then the head
    trains on them in seconds; optionally fine-tune the top blocks on cached
    activations of each photo and its mirror image."""
    import tensorflow as tf

    from vision import registry
    from vision.training import features as feats
    from vision.training.transfer import FEATURE_LAYOUT, FINE_TUNE_EPOCHS, cache_folders, extractor_parts, \
        feature_extractor, fine_tune_cached, frozen_part

    backbone = registry.load(p["backbone"])
    s, ft = p["image_size"], p["fine_tune"]
    extractor = feature_extractor(backbone, s)
    features_dir, activations_dir = cache_folders(p["backbone"], s)
    cache = Path(settings.CACHE_DIR) / "features" / features_dir
    act_dir = Path(settings.CACHE_DIR) / "activations" / activations_dir
    everything = train + val
    paths, keys = [r.file.path for r in everything], [r.sha256 for r in everything]
    if ft:  # one pass of the frozen blocks per view gives both the head's features and fine-tuning's activations
        f_all, files = feats.cached_features_and_activations(
            frozen_part(extractor), extractor_parts(extractor)[1], paths, keys, image_size=s, features_dir=cache,
            activations_dir=act_dir,
            progress=lambda f: progress(0.4 * f, "Computing backbone features and activations (cached for next time)"))
    else:
        f_all = feats.cached_features(extractor, paths, keys, image_size=s, cache_dir=cache,
                                      progress=lambda f: progress(0.5 * f, "Computing backbone features (cached for next time)"))
    ok = ~np.isnan(f_all).any(axis=1)
    f_tr, f_va = f_all[: len(train)], f_all[len(train):]
    y_tr = np.array([index[r.label_id] for r in train])
    y_va = np.array([index[r.label_id] for r in val])
    ok_tr, ok_va = ok[: len(train)], ok[len(train):]
    bs = p["batch_size"]
    tr_ds = tf.data.Dataset.from_tensor_slices((f_tr[ok_tr], y_tr[ok_tr])).shuffle(len(train), seed=dataset.split_seed).batch(bs)
    va_ds = tf.data.Dataset.from_tensor_slices((f_va[ok_va], y_va[ok_va])).batch(bs)
    # a retried job's stored curves: the head's are rewritten as it runs again; fine-tuning's continue from its backup
    ft_hist = {k.removeprefix("fine_tune_"): history.pop(k) for k in list(history) if k.startswith("fine_tune_")}
    head = models.build_head(f_all.shape[1], len(names))
    result = fit.fit(head, tr_ds, va_ds, epochs=p["epochs"], learning_rate=p["learning_rate"], patience=p["patience"],
                     work_dir=run_dir / "head", steps_per_epoch=-(-int(ok_tr.sum()) // bs),
                     on_batch=on_batch_for(0.4 if ft else 0.5, 0.45 if ft else 0.95, "Training the head"),
                     on_epoch=live("Training the head"), should_stop=should_stop, history=history)
    probs = np.asarray(head.predict(np.nan_to_num(f_va), verbose=0))
    extra: dict = {"features": FEATURE_LAYOUT}  # the model page says what the head sees
    if ft and not result.cancelled:
        head_acc = float((probs.argmax(1) == y_va).mean())
        tr_files, va_files = files[: len(train)], files[len(train):]
        tr_keep = [i for i, f in enumerate(tr_files) if f is not None]
        va_keep = [i for i, f in enumerate(va_files) if f is not None]
        ft_result, tuned = fine_tune_cached(
            head, extractor, [tr_files[i] for i in tr_keep], y_tr[tr_keep].tolist(), [va_files[i] for i in va_keep],
            y_va[va_keep].tolist(), seed=dataset.split_seed, epochs=min(FINE_TUNE_EPOCHS, p["epochs"]),
            work_dir=run_dir / "fine_tune", on_batch=on_batch_for(0.45, 0.95, "Fine-tuning the top blocks"),
            on_epoch=live("Fine-tuning the top blocks", dict(result.history), "fine_tune_"), should_stop=should_stop,
            history=ft_hist)
        result.history.update({f"fine_tune_{k}": v for k, v in ft_hist.items()})
        # Cancel pressed during fine-tuning cancels the whole run, as during the head
        result = dataclasses.replace(result, cancelled=ft_result.cancelled)
        f_va = f_va.copy()
        f_va[va_keep] = tuned
        probs = np.asarray(head.predict(np.nan_to_num(f_va), verbose=0))
        after = float((probs.argmax(1) == y_va).mean())
        note = (f"Fine-tuning the top blocks took validation accuracy from {head_acc:.1%} (frozen backbone) "
                f"to {after:.1%}." if ft_result.kept else
                "Fine-tuning did not lower the validation loss, so the model with the frozen backbone was kept "
                f"({head_acc:.1%}).")  # what happened, not a warning: apart from ``notes``
        extra.update(frozen_accuracy=head_acc, fine_tune_kept=ft_result.kept, fine_tune_note=note)
    return models.build_transfer_model(extractor, head), probs, result, extra


def _save(job, dataset, model, names, p, metrics) -> ModelVersion:
    from vision.training.inspect import kernels_png, model_summary

    folder = _models_dir() / "classifiers" / f"dataset-{dataset.pk}" / f"job-{job.pk}"
    folder.mkdir(parents=True, exist_ok=True)
    path = export.save_classifier(model, folder / "model.keras", class_names=names, image_size=p["image_size"],
                                  extra={"model_kind": p["model_kind"], "backbone": p.get("backbone", "")})
    export.export_tflite(model, folder / "model.tflite")
    (folder / "confusion.png").write_bytes(evaluate.confusion_matrix_png(metrics["confusion"], names))
    png = kernels_png(model)
    if png:
        (folder / "kernels.png").write_bytes(png)
    metrics["summary"] = model_summary(model)
    metrics["layers"] = inspect.conv_layer_names(model)
    (folder / "metrics.json").write_text(json.dumps(metrics, default=float))
    name = "scratch_cnn" if p["model_kind"] == "scratch" else f"{p['backbone']}+head"
    return model_version_register(
        kind=ModelVersion.Kind.CLASSIFIER, name=name, dataset=dataset, path=str(path), params=p, metrics=metrics,
        classes=names, job=job, activate=model_version_active(kind=ModelVersion.Kind.CLASSIFIER, dataset=dataset) is None)


def _model_and_photo(job: Job):
    """The job's classifier version (cached per worker process) and its
    staged photo resized to the model's input: ``(model, metadata, (s, s, 3) float32)``."""
    from vision import registry
    from vision.training.export import load_classifier

    mv = ModelVersion.objects.filter(pk=job.params["model_version_id"]).first()
    if mv is None:
        raise JobFailed("This model version was deleted.", "deleted")
    model, meta = registry.cached(f"classifier:{mv.pk}", lambda: load_classifier(Path(mv.path)))
    img = data.load_resized(job.params["path"], meta["image_size"])
    if img is None:
        raise JobFailed("The photo could not be read.", "invalid_image")
    return mv, model, meta, img


def predict_photo(job: Job, progress) -> tuple[dict, str]:
    """Top-5 classes of one staged photo with the given model version."""
    from vision.training.export import predict_images

    mv, model, meta, img = _model_and_photo(job)
    top = predict_images(model, img[None], meta["class_names"], top_k=min(5, len(meta["class_names"])))[0]
    return ({"model_version_id": mv.pk, "top": [{"class": c, "probability": round(pr, 4)} for c, pr in top],
             "photo_url": job.params.get("url", "")}, f"{top[0][0]} ({top[0][1]:.0%})")


def activation_maps(job: Job, progress) -> tuple[dict, str]:
    """Feature maps of one staged photo after the chosen layer, as a PNG in media."""
    _mv, model, _meta, img = _model_and_photo(job)
    try:
        png = inspect.activations_png(model, img, job.params["layer"])
    except ValueError as err:
        raise JobFailed(str(err), "invalid_layer") from err
    channels = int(next(layer for layer in models.leaf_layers(model) if layer.name == job.params["layer"]).output.shape[-1])
    name = default_storage.save(job.params["out"], ContentFile(png))
    return ({"image_url": default_storage.url(name), "layer": job.params["layer"], "channels": channels,
             "shown": min(channels, inspect.ACTIVATION_MAPS)}, f"Activations after {job.params['layer']}")
