"""Face tasks: enrolment embeddings and check-ins. Each takes a job id only."""

from __future__ import annotations

from django.conf import settings

from workers.base import job_row, run_job
from workers.celery import app


def preload() -> None:
    """Load dlib's detector, shape predictor and ResNet once in this process."""
    import django

    django.setup()
    from vision import registry

    for name in ("dlib_hog_detector", "dlib_landmarks_68", "dlib_resnet_v1"):
        registry.load(name)
    if settings.FACE_DETECTOR == "cnn":
        registry.load("dlib_cnn_detector")


@app.task(name="workers.faces.enroll", bind=True, soft_time_limit=600, time_limit=660)
def enroll(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.checkin.models import FaceSample
        from webapp.checkin.processing import sample_process

        ids = job.params.get("sample_ids", [])
        samples = {s.pk: s for s in FaceSample.objects.filter(pk__in=ids)}
        outcomes = []
        for i, sid in enumerate(ids):
            if sid in samples:
                outcomes.append(sample_process(samples[sid]))
            else:
                outcomes.append({"sample_id": sid, "status": "deleted", "reason": "The photo was deleted before it was processed."})
            progress((i + 1) / max(1, len(ids)), f"Processed {i + 1} of {len(ids)} photos")
        accepted = sum(o["status"] == "accepted" for o in outcomes)
        return {"samples": outcomes, "accepted": accepted}, f"{accepted} of {len(ids)} photos accepted"

    return run_job(self, job_id, work)


@app.task(name="workers.faces.checkin", bind=True, soft_time_limit=120, time_limit=150)
def checkin(self, job_id: int) -> str:
    def work(job, progress):
        from webapp.checkin.models import CheckInPhoto
        from webapp.checkin.processing import checkin_process

        photo = job_row(job, CheckInPhoto, "photo_id", "The check-in photo was deleted before it was processed.")
        result = checkin_process(photo)
        n = len(result["faces"])
        known = sum(f["member_id"] is not None for f in result["faces"])
        return result, f"{n} face{'s' if n != 1 else ''}: {known} member{'s' if known != 1 else ''}, {n - known} stranger{'s' if n - known != 1 else ''}"

    return run_job(self, job_id, work)
