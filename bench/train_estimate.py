"""Checks the Train page's estimate against the product's own job path:
prints figures, tests nothing.

Run: ``.venv/bin/python bench/train_estimate.py [--set categories] [--backbone efficientnet_lite2]
[--fine-tune]``

In a temporary ``VAR_DIR`` (SQLite, empty feature cache; the converted
weights are read from ``WEIGHTS_DIR``, default the checkout's ``var/weights``)
it imports ``../shared/datasets/<set>`` into a classification dataset
(``dataset_import``), starts a training job with the job's defaults
(``webapp.training.services.training_start``, which stores the estimate),
runs the task function in this process (``workers.training.classifier``,
no broker), and prints the estimate, the wall time, and every 30 s the time
left that the job page would show (``Job.eta_seconds``, from the job's own
pace) against the time actually left.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", default="categories")
    ap.add_argument("--backbone", default=None, help="default: the job's (ClassifierOptions.backbone)")
    ap.add_argument("--fine-tune", action="store_true")
    args = ap.parse_args(argv)
    var = tempfile.mkdtemp(prefix="bench-train-estimate-")
    for k in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "CACHE_DIR", "TRAINED_MODELS_DIR"):
        os.environ.pop(k, None)
    os.environ.update(DJANGO_SETTINGS_MODULE="webapp.settings.local", VAR_DIR=var,
                      WEIGHTS_DIR=os.environ.get("WEIGHTS_DIR", str(REPO / "var" / "weights")))
    import django

    django.setup()
    from django.core.management import call_command

    import webapp.jobs.services as job_services
    from vision.training.classifier import ClassifierOptions
    from webapp.datasets.models import Dataset
    from webapp.datasets.services import dataset_import
    from webapp.jobs.models import Job
    from webapp.training import services
    from workers.training import classifier

    call_command("migrate", verbosity=0)
    ds = Dataset.objects.create(name=args.set, kind="classification")
    t = time.perf_counter()
    report = dataset_import(dataset=ds, source=REPO.parent / "shared" / "datasets" / args.set)
    print(f"import: {report.added} photos in {time.perf_counter() - t:.0f} s; skipped {report.skipped}", flush=True)
    job_services.job_enqueue = lambda job: None  # the task runs below, in this process
    job = services.training_start(dataset=ds, model_kind="transfer", fine_tune=args.fine_tune,
                                  backbone=args.backbone or ClassifierOptions.backbone)
    print(f"estimate: {job.params.get('estimate')}", flush=True)
    samples, start = [], time.perf_counter()

    def watch():
        while True:
            j = Job.objects.get(pk=job.pk)
            samples.append((time.perf_counter() - start, j.progress, j.eta_seconds()))
            if not j.is_active:
                return
            time.sleep(30)

    threading.Thread(target=watch, daemon=True).start()
    classifier.apply(args=[job.pk])
    total = time.perf_counter() - start
    job.refresh_from_db()
    print(f"job {job.state} in {total:.0f} s (estimated {job.params.get('estimate_seconds')} s): {job.message}")
    for s, p, eta in samples:
        shown = "—" if eta is None else f"{eta:.0f} s"
        print(f"  at {s:4.0f} s: progress {p:.3f}, time left shown {shown}, actually left {total - s:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
