"""Build galleries through the services and run the search tasks in-process."""

from __future__ import annotations

import io
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.jobs.models import Job
from webapp.search import services


def category_photo(cls: str, n: int) -> Path:
    folder = shared_path("datasets", "categories", cls)
    return sorted(folder.glob("*.jpg"))[n]


def upload(path: Path | None = None, name: str | None = None, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, data if data is not None else path.read_bytes(), content_type="image/jpeg")


def png_bytes(pixels) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG")
    return buf.getvalue()


def run(job: Job) -> Job:
    from webapp.celery import app

    app.loader.import_default_modules()  # the task modules, as a worker loads them
    app.tasks[job.task_name].apply(args=[job.pk])
    job.refresh_from_db()
    return job


def make_gallery(classes=("sunflower", "bluebell"), per_class=3, embed=True, name="flowers"):
    ds = services.gallery_create(name=name)
    files = [upload(category_photo(c, i), name=f"{c}_{i}.jpg") for c in classes for i in range(per_class)]
    report, job = services.gallery_photos_add(dataset=ds, files=files)
    if embed and job:
        job = run(job)
    return ds, report, job
