"""Worker side of detector training: the ``training.detector`` job (dataset rows in through
``detectors.data``, ``vision.training.detector.detector_train``, a ``detector`` ModelVersion
out) and the precision/recall pictures of its page."""

from __future__ import annotations

import io
import shutil

from vision.errors import TrainingCancelled
from webapp.datasets.models import Dataset
from webapp.jobs.errors import JobCancelled, JobFailed
from webapp.jobs.models import Job
from webapp.registry.models import ModelVersion
from webapp.registry.services import model_version_active, model_version_register
from webapp.training.detectors import PR_CURVE_FILE
from webapp.training.detectors.data import detector_data, detector_split
from webapp.training.detectors.services import MIN_PHOTOS, detector_options_from_params
from webapp.training.processing import _models_dir, _stop_checker

def pr_curve_png(curve: dict, *, label: str, ap: float, threshold: float | None) -> bytes:
    """One class's precision/recall curve as a PNG (matplotlib, Agg backend, as
    ``vision.training.evaluate.confusion_matrix_png``), the point with the best F1 marked with its
    score threshold.

    Args:
        curve: ``{"recall": [...], "precision": [...], "scores": [...]}`` by falling score
            (``TrainedDetector.report()``'s ``per_class[i]["curve"]``), each 0..1.
        label: the class; ap: its AP@0.5; threshold: its best-F1 score threshold, or None.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    r, p = np.asarray(curve.get("recall") or [], float), np.asarray(curve.get("precision") or [], float)
    fig, ax = plt.subplots(figsize=(3.2, 2.8), dpi=100)
    if len(r):
        ax.step(r, p, where="post", color="#2456d3", linewidth=2)
        f1 = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-12), 0)
        i = int(f1.argmax())
        ax.plot([r[i]], [p[i]], "o", color="#e8590c")
        if threshold is not None:
            ax.annotate(f"F1 {f1[i]:.2f} at score ≥ {threshold:.2f}", (r[i], p[i]), textcoords="offset points",
                        xytext=(-6, -14), ha="right" if r[i] > 0.5 else "left", fontsize=8, color="#e8590c")
    else:
        ax.text(0.5, 0.5, "no detection", ha="center", va="center", color="#6b7280")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("Recall")
    ax.set_ylabel("Precision")
    ax.set_title(f"{label[:30]}: AP@0.5 {ap:.3f}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def detector_train(job: Job, progress) -> tuple[dict, str]:
    """Train a detector on a detection dataset's finished photos (``detectors.data``), split by
    the dataset's own split or seeded 70/30 (``detectors.data.detector_split``); register a
    ``detector`` ``ModelVersion`` with ``detector.keras``, ``detector.json`` and one
    precision/recall picture per class, made active when its validation mAP@0.5 is at least
    the dataset's active detector's (or none is active). The run folder under the job and the
    curves on the Job row let a job whose worker died resume from its last finished epoch when
    retried; a cancel keeps the best detector so far; the dataset deleted while it trains ends
    the job failed, nothing saved."""
    from vision.training.detector import detector_train as train_detector

    p = job.params
    dataset = Dataset.objects.filter(pk=p["dataset_id"]).first()
    if dataset is None:
        raise JobFailed("The dataset was deleted before training started.", "deleted")
    data = detector_data(dataset=dataset)
    if len(data.photos) < MIN_PHOTOS or not data.class_names:
        raise JobFailed(f"A detector needs at least {MIN_PHOTOS} finished photos with boxes; this dataset has "
                        f"{len(data.photos)} finished photos and {sum(data.boxes.values())} boxes.", "not_trainable")
    try:
        options = detector_options_from_params(p, dataset.split_seed)
    except ValueError as err:
        raise JobFailed(str(err), "not_trainable") from err
    train, val, how = detector_split(data, seed=dataset.split_seed, validation=dataset.validation_fraction)
    names = list(data.class_names)
    run_dir = _models_dir() / "runs" / f"job-{job.pk}"

    def on_epoch(history: dict, phase: str) -> None:
        """Stores the curves so far on the Job row after every epoch (the job page draws them)."""
        Job.objects.filter(pk=job.pk).update(result={"history": history, "phase": phase, "classes": names})

    try:
        trained = train_detector(train, val, class_names=names, options=options, work_dir=run_dir,
                                 on_progress=progress, on_epoch=on_epoch, should_stop=_stop_checker(job.pk, dataset.pk),
                                 history=dict((job.result or {}).get("history") or {}))
    except TrainingCancelled as err:  # before any model existed: nothing to register
        raise JobCancelled(err.message) from err
    except ValueError as err:  # every photo of a side unreadable, no usable box
        raise JobFailed(str(err), "not_trainable") from err
    if not Dataset.objects.filter(pk=dataset.pk).exists():
        raise JobFailed("The dataset was deleted while the detector was training; nothing was saved.", "deleted")
    folder = _models_dir() / "detectors" / f"dataset-{dataset.pk}" / f"job-{job.pk}"
    path = trained.save(folder)
    report = trained.report()
    for i, c in enumerate(report["per_class"]):
        (folder / PR_CURVE_FILE.format(i)).write_bytes(
            pr_curve_png(c["curve"], label=c["label"], ap=c["ap"], threshold=report["thresholds"].get(c["label"])))
    for s in report["samples"]:
        s["image_id"] = data.image_ids.get(s["name"])
    notes = data.notes()
    metrics = {**report, "notes": notes, "split": how, "tiny_boxes": data.tiny_boxes, "cancelled": trained.cancelled,
               "stopped_early": trained.stopped_early, "epochs_run": trained.epochs_run}
    active = model_version_active(kind=ModelVersion.Kind.DETECTOR, dataset=dataset)
    active_map = (active.metrics.get("mean_ap") or 0.0) if active else None
    better = active is None or (report["mean_ap"] or 0.0) >= active_map  # None: no validation box to score
    mv = model_version_register(kind=ModelVersion.Kind.DETECTOR, name=f"fcos-{options.backbone}-{options.input_size}",
                                dataset=dataset, path=str(path), params=p, metrics=metrics, classes=names, job=job,
                                activate=better)
    shutil.rmtree(run_dir, ignore_errors=True)
    verdict = "made active" if better else f"not made active: the active v{active.version} has mAP@0.5 {active_map:.3f}"
    coco = f", COCO AP {report['coco_ap']:.3f}" if report.get("coco_ap") is not None else ""
    message = (f"{'Cancelled; the best so far was saved' if trained.cancelled else 'Trained'}: validation "
               f"mAP@0.5 {report['mean_ap'] or 0:.3f}{coco} on {trained.n_val} photos after {trained.epochs_run} "
               f"epoch{'s' if trained.epochs_run != 1 else ''} (v{mv.version}, {verdict})")
    outcome = {"history": trained.history, "model_version_id": mv.pk, "mean_ap": report["mean_ap"],
               "coco_ap": report["coco_ap"], "classes": names, "notes": notes + trained.warnings}
    if trained.cancelled:
        raise JobCancelled(message, result=outcome)
    return outcome, message
