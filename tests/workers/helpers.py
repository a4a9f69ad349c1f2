"""Build rows through the services and run tasks in-process (the job path
without the broker)."""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.shared_data import shared_path
from webapp.checkin import services
from webapp.checkin.models import Member
from webapp.jobs.models import Job


def face_file(person: str, n: int | str) -> Path:
    return shared_path("datasets", "faces", person, n if isinstance(n, str) else f"{n}.jpg")


def upload(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes(), content_type="image/jpeg")


def enrol(name: str, paths: list[Path], run: bool = True):
    from workers.checkin import enrol as enroll

    member = Member.objects.create(name=name)
    outcome = services.member_enroll(member=member, photos=[upload(p) for p in paths])
    if run and outcome.job:
        enroll.apply(args=[outcome.job.pk])
        outcome.job.refresh_from_db()
    return member, outcome


def check_in(path: Path, run: bool = True, *, mode: str = "kiosk", frames: list[Path] = ()):
    from workers.checkin import checkin

    photo = services.checkin_create(upload=upload(path), mode=mode, frames=[upload(f) for f in frames])
    if run:
        checkin.apply(args=[photo.job_id])
    return photo, Job.objects.get(pk=photo.job_id)
