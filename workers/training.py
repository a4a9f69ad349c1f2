"""Training-area tasks: classifier, embedding, text-line reader and detector
training (batch queue); prediction, activation maps and reading a line (interactive queue)."""

from webapp.celery import app
from webapp.jobs.runner import run_job
from webapp.training import jobs, processing
from webapp.training.detectors import processing as detector_processing


@app.task(name=jobs.CLASSIFIER.task, bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def classifier(self, job_id: int) -> str:
    return run_job(self, job_id, processing.classifier_train)


@app.task(name=jobs.EMBEDDING.task, bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def embedding(self, job_id: int) -> str:
    return run_job(self, job_id, processing.embedding_train)


@app.task(name=jobs.OCR.task, bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def ocr(self, job_id: int) -> str:
    return run_job(self, job_id, processing.ocr_train)


@app.task(name=jobs.PREDICT.task, bind=True, soft_time_limit=120, time_limit=150)
def predict(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_predict)


@app.task(name=jobs.ACTIVATIONS.task, bind=True, soft_time_limit=120, time_limit=150)
def activations(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_activations)


@app.task(name=jobs.READ.task, bind=True, soft_time_limit=120, time_limit=150)
def read(self, job_id: int) -> str:
    return run_job(self, job_id, processing.photo_read)


@app.task(name=jobs.DETECTOR.task, bind=True, soft_time_limit=6 * 3600, time_limit=6 * 3600 + 300)
def detector(self, job_id: int) -> str:
    return run_job(self, job_id, detector_processing.detector_train)
