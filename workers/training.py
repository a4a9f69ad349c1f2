"""Training-area tasks: classifier training, prediction, activation maps."""

from __future__ import annotations

from workers.base import run_job
from workers.celery import app


@app.task(name="workers.training.classifier", bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def classifier(self, job_id: int) -> str:
    from webapp.training.processing import train_classifier

    return run_job(self, job_id, train_classifier)


@app.task(name="workers.training.predict", bind=True, soft_time_limit=120, time_limit=150)
def predict(self, job_id: int) -> str:
    from webapp.training.processing import predict_photo

    return run_job(self, job_id, predict_photo)


@app.task(name="workers.training.activations", bind=True, soft_time_limit=120, time_limit=150)
def activations(self, job_id: int) -> str:
    from webapp.training.processing import activation_maps

    return run_job(self, job_id, activation_maps)
