"""Worker-side face work: the one place that converts between check-in rows
and ``vision`` types. Called by ``workers.checkin``; never by the web process."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Max

from vision import faces as vfaces
from vision.errors import VisionError
from vision.images import crop_box, image_to_jpeg_bytes, load_image, thumbnail
from vision.matching import Gallery
from webapp.checkin.models import CheckIn, CheckInPhoto, FaceSample, Member, embedding_to_bytes, embeddings_from_bytes
from webapp.jobs.errors import JobFailed
from webapp.jobs.runner import job_row

_gallery_cache: dict = {"key": None, "gallery": None}


def _detect(pixels: np.ndarray) -> list[vfaces.Face]:
    return vfaces.detect_faces(pixels, detector=settings.FACE_DETECTOR, upsample=settings.FACE_UPSAMPLE)


def _crop_file(pixels: np.ndarray, box) -> ContentFile:
    crop = thumbnail(crop_box(pixels, box, margin=0.25), 200)
    return ContentFile(image_to_jpeg_bytes(crop, quality=88), name=f"{uuid.uuid4().hex}.jpg")


def _accepted_samples():
    return FaceSample.objects.filter(status=FaceSample.Status.ACCEPTED, member__active=True)


def gallery_load(*, exclude_member_id: int | None = None) -> Gallery:
    """All accepted embeddings of active members in one query, as a ``Gallery``
    labelled by member id. The full gallery is cached per worker process and
    reloaded when a cheap fingerprint query (count, newest id, last member
    change) says it changed."""
    qs = _accepted_samples()
    if exclude_member_id is not None:
        rows = list(qs.exclude(member_id=exclude_member_id).values_list("member_id", "embedding"))
        return Gallery(embeddings_from_bytes([r[1] for r in rows]), [r[0] for r in rows])
    fp = qs.aggregate(n=Count("id"), last=Max("id"), changed=Max("member__updated_at"))
    key = (fp["n"], fp["last"], fp["changed"], Member.objects.filter(active=True).count())
    if _gallery_cache["key"] != key:
        rows = list(qs.values_list("member_id", "embedding"))
        _gallery_cache["gallery"] = Gallery(embeddings_from_bytes([r[1] for r in rows]), [r[0] for r in rows])
        _gallery_cache["key"] = key
    return _gallery_cache["gallery"]


def sample_process(sample: FaceSample) -> dict:
    """Find the face of one enrolment photo; accept or reject the sample with
    a reason, and warn when the face is closer than the match threshold to
    another member's samples. Idempotent. Returns a summary dict."""
    try:
        pixels = load_image(sample.photo.path, max_pixels=settings.MAX_IMAGE_PIXELS).pixels
        found = _detect(pixels)
        face = vfaces.enrolment_face(pixels, found, min_size=settings.FACE_MIN_SIZE,
                                     min_sharpness=settings.FACE_MIN_SHARPNESS)
    except (VisionError, OSError) as err:
        reason = err.message if isinstance(err, VisionError) else "The stored photo could not be read."
        sample.status, sample.reason = FaceSample.Status.REJECTED, reason
        sample.save(update_fields=["status", "reason"])
        return {"sample_id": sample.pk, "file": sample.original_name, "status": "rejected", "reason": reason}
    warning = ""
    others = gallery_load(exclude_member_id=sample.member_id)
    if len(others):
        match = others.match(face.embedding[None, :], settings.FACE_MATCH_THRESHOLD)[0]
        if match.nearest_label is not None and match.distance < settings.FACE_MATCH_THRESHOLD:
            other = Member.objects.filter(pk=match.nearest_label).first()
            warning = (f"This face is close to {other} (distance {match.distance:.2f} < "
                       f"{settings.FACE_MATCH_THRESHOLD}): a relative, a twin, or a wrong photo?")
    if sample.crop:
        sample.crop.delete(save=False)
    sample.crop = _crop_file(pixels, face.box)
    sample.status, sample.reason, sample.warning = FaceSample.Status.ACCEPTED, "", warning
    sample.box, sample.embedding = list(face.box), embedding_to_bytes(face.embedding)
    sample.detector_score, sample.face_size = face.score, face.size
    sample.sharpness = vfaces.face_sharpness(pixels, face.box)
    sample.save()
    return {"sample_id": sample.pk, "file": sample.original_name, "status": "accepted", "warning": warning}


def checkin_process(photo: CheckInPhoto) -> dict:
    """Detect and identify every face of a check-in photo and log them.

    A member already logged within ``CHECKIN_REPEAT_MINUTES`` is not logged
    again (reported as ``repeat``); strangers are always logged. Re-running
    for the same photo replaces its earlier rows (idempotent).

    Returns:
        ``{"width", "height", "faces": [{"box", "member_id", "name",
        "distance", "margin", "status", "checkin_id", "previous_at"}]}``,
        boxes in pixels of the EXIF-corrected photo.

    Raises:
        VisionError: unreadable photo, or no face (code ``no_face``).
    """
    loaded = load_image(photo.photo.path, max_pixels=settings.MAX_IMAGE_PIXELS)
    pixels = loaded.pixels
    found = _detect(pixels)
    base = {"width": loaded.width, "height": loaded.height, "faces": []}
    if not found:
        raise JobFailed("No face was found in this photo. Face the camera in good light and try again.",
                        "no_face", result=base)
    gallery = gallery_load()
    matches = gallery.match(np.stack([f.embedding for f in found]), settings.FACE_MATCH_THRESHOLD)
    names = dict(Member.objects.filter(pk__in=[m.label for m in matches if m.label]).values_list("pk", "name"))
    window = timedelta(minutes=settings.CHECKIN_REPEAT_MINUTES)
    with transaction.atomic():
        for old in photo.checkins.all():
            old.delete()
        photo.members.set([m.label for m in matches if m.label is not None])
        now = photo.created_at
        for face, match in zip(found, matches):
            # a stranger's nearest member is not named: it would tie that member to a stranger's photo
            entry = {"box": list(face.box), "member_id": match.label, "name": names.get(match.label, "Stranger"),
                     "distance": None if not np.isfinite(match.distance) else round(match.distance, 4),
                     "margin": None if match.margin is None else round(match.margin, 4),
                     "checkin_id": None, "previous_at": None}
            if match.label is not None:
                previous = (CheckIn.objects.filter(member_id=match.label, time__gt=now - window, time__lte=now)
                            .exclude(photo=photo).order_by("-time").first())
                if previous:
                    entry.update(status="repeat", previous_at=previous.time.isoformat())
                    base["faces"].append(entry)
                    continue
            ci = CheckIn.objects.create(
                time=now, member_id=match.label, distance=entry["distance"], margin=entry["margin"],
                box=list(face.box), crop=_crop_file(pixels, face.box), photo=photo, source=photo.source)
            entry.update(status="stranger" if match.label is None else "logged", checkin_id=ci.pk)
            base["faces"].append(entry)
    return base


# ----- job entry points: (job, progress) -> (result, message), run by workers.checkin -----
def samples_enrol(job, progress) -> tuple[dict, str]:
    """Job ``checkin.enrol``: :func:`sample_process` on each of ``params.sample_ids``
    (a sample deleted meanwhile is reported, never an error)."""
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


def photo_check_in(job, progress) -> tuple[dict, str]:
    """Job ``checkin.checkin``: :func:`checkin_process` on ``params.photo_id``."""
    photo = job_row(job, CheckInPhoto, "photo_id", "The check-in photo was deleted before it was processed.")
    result = checkin_process(photo)
    n = len(result["faces"])
    known = sum(f["member_id"] is not None for f in result["faces"])
    return result, (f"{n} face{'s' if n != 1 else ''}: {known} member{'s' if known != 1 else ''}, "
                    f"{n - known} stranger{'s' if n - known != 1 else ''}")
