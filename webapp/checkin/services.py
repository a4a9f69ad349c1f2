"""Writes for the check-in area (web side): members, enrolment uploads and
check-in uploads. Face work itself runs in workers (``processing.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from webapp.checkin.jobs import CHECKIN, ENROL
from webapp.checkin.models import CheckIn, CheckInFrame, CheckInPhoto, FaceSample, Member, Mode
from webapp.core.uploads import display_name, image_upload_check, stored_file
from webapp.jobs.models import Job
from webapp.jobs.services import job_create


@dataclass
class EnrolOutcome:
    job: Job | None
    samples: list[FaceSample] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)


def member_enroll(*, member: Member, photos: list, user=None) -> EnrolOutcome:
    """Store each readable photo as a pending sample and start one job that
    finds the face in each. Unreadable files are refused here, each with its
    reason; they never stop the others.

    Raises:
        ValidationError: no photo at all.
        QueueUnavailable: the broker is down (samples stay stored, pending).
    """
    if not photos:
        raise ValidationError("Choose at least one photo.", code="required")
    outcome = EnrolOutcome(job=None)
    checked = []
    for f in photos:
        try:
            checked.append((display_name(f), *image_upload_check(f)))
        except ValidationError as err:
            outcome.refused.append((display_name(f), err.messages[0]))
    if not checked:
        return outcome
    with transaction.atomic():
        for name, loaded, data in checked:
            outcome.samples.append(FaceSample.objects.create(member=member, photo=stored_file(loaded, data), original_name=name))
        outcome.job, _ = job_create(
            ENROL, user=user, key=ENROL.key("samples", outcome.samples[0].pk),
            params={"member_id": member.pk, "sample_ids": [s.pk for s in outcome.samples],
                    "refused": [{"file": n, "reason": r} for n, r in outcome.refused]},
        )
        FaceSample.objects.filter(pk__in=[s.pk for s in outcome.samples]).update(job=outcome.job)
    return outcome


def member_delete(*, member: Member) -> dict:
    """Delete a member and all their biometric data: samples (photos, crops,
    embeddings), check-ins (face crops) and the check-in photos they appear
    in. Files are removed when the transaction commits.

    Returns:
        Counts of what was deleted.
    """
    with transaction.atomic():
        photo_ids = set(CheckIn.objects.filter(member=member, photo__isnull=False).values_list("photo_id", flat=True))
        photo_ids |= set(member.checkin_photos.values_list("pk", flat=True))  # also photos where they were not logged again
        counts = {
            "samples": member.samples.count(),
            "checkins": member.checkins.count(),
            "photos": len(photo_ids),
        }
        photos = CheckInPhoto.objects.filter(pk__in=photo_ids)
        # their jobs' results name the member and give the face boxes
        Job.objects.filter(pk__in=photos.exclude(job=None).values_list("job_id", flat=True)).delete()
        enrol_jobs = FaceSample.objects.filter(member=member).exclude(job=None).values_list("job_id", flat=True)
        Job.objects.filter(pk__in=list(enrol_jobs)).delete()
        # .delete() on querysets still sends post_delete per row, so files go too
        photos.delete()
        member.delete()
    return counts


def checkin_create(*, upload, source: str = CheckInPhoto.Source.UPLOAD, user=None, mode: str = Mode.KIOSK,
                   frames: list | None = None) -> CheckInPhoto:
    """Store a check-in photo (and a camera burst's later ``frames``) and start its job.

    Args:
        upload: the photo, or a burst's first frame.
        mode: ``kiosk`` (the person in front) or ``group`` (everyone; staff only,
            checked by the caller).
        frames: a burst's later frames (at most ``CHECKIN_BURST_FRAMES - 1`` are kept).

    Raises:
        ValidationError: the upload or a frame is empty, too big or not a readable
            image; an unknown source or mode.
        QueueUnavailable: the broker is down (the photo stays stored, the job failed).
    """
    if source not in CheckInPhoto.Source.values:
        raise ValidationError(f"Unknown source {source!r}.", code="invalid")
    if mode not in Mode.values:
        raise ValidationError(f"Unknown check-in mode {mode!r}.", code="invalid")
    loaded, data = image_upload_check(upload)
    extra = []
    for i, f in enumerate((frames or [])[:max(0, settings.CHECKIN_BURST_FRAMES - 1)]):
        try:
            extra.append(image_upload_check(f))
        except ValidationError as err:
            raise ValidationError(f"Frame {i + 2} of the burst: {err.messages[0]}", code="invalid") from err
    with transaction.atomic():
        photo = CheckInPhoto.objects.create(
            photo=stored_file(loaded, data), source=source, mode=mode, width=loaded.width, height=loaded.height,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        for i, (frame_loaded, frame_data) in enumerate(extra):
            CheckInFrame.objects.create(photo=photo, index=i + 2, image=stored_file(frame_loaded, frame_data))
        photo.job, _ = job_create(CHECKIN, user=user, key=CHECKIN.key("photo", photo.pk),
                                  params={"photo_id": photo.pk})
        photo.save(update_fields=["job"])
    return photo


def sample_delete(*, sample: FaceSample) -> None:
    sample.delete()
