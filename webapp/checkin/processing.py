"""Worker-side face work: the one place that converts between check-in rows
and ``vision`` types. Called by ``workers.checkin``; never by the web process."""

from __future__ import annotations

import uuid
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from vision import faces as vfaces
from vision.errors import VisionError
from vision.images import crop_box, image_to_jpeg_bytes, load_image, thumbnail
from vision.matching import Match, Policy, policy_get
from webapp.checkin.models import (
    CheckIn,
    CheckInPhoto,
    FaceSample,
    MatchingSettings,
    Member,
    Mode,
    embedding_to_bytes,
)
from webapp.checkin.gallery import gallery_load
from webapp.jobs.runner import job_row

def _detect(pixels: np.ndarray, progress=None) -> list[vfaces.Face]:
    """Faces of one photo with the deployment's detector, on a working copy of at most
    ``FACE_WORKING_SIDE``. The CNN detector on a CPU reads the photo smaller still, so it
    ends in about ``FACE_CNN_MAX_SECONDS``, and says how long it will take before it starts."""
    side = settings.FACE_WORKING_SIDE
    if settings.FACE_DETECTOR == "cnn" and vfaces.cnn_on_cpu():
        h, w = pixels.shape[:2]
        side = min(side, vfaces.cnn_side_within(h, w, settings.FACE_UPSAMPLE, settings.FACE_CNN_MAX_SECONDS))
        scale = min(1.0, side / max(h, w))
        eta = vfaces.cnn_seconds(round(h * scale), round(w * scale), settings.FACE_UPSAMPLE)
        if progress is not None:
            progress(None, f"Finding faces with the CNN detector on the CPU: about {max(1, round(eta))} s", force=True)
    return vfaces.detect_faces(pixels, detector=settings.FACE_DETECTOR, upsample=settings.FACE_UPSAMPLE,
                               max_side=side)


def _crop_file(pixels: np.ndarray, box) -> ContentFile:
    crop = thumbnail(crop_box(pixels, box, margin=0.25), 200)
    return ContentFile(image_to_jpeg_bytes(crop, quality=88), name=f"{uuid.uuid4().hex}.jpg")


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
        # the check-in decision itself: would this face be checked in (or be "not sure") as someone else?
        policy = policy_current()
        cut = others.cut(policy, settings.FACE_MATCH_THRESHOLD)
        match = others.decide(face.embedding[None, :], policy, settings.FACE_MATCH_THRESHOLD)[0]
        if match.nearest_label is not None and (match.label is not None or match.ambiguous):
            other = Member.objects.filter(pk=match.nearest_label).first()
            shown_d, shown_cut = shown_below(match.distance, cut.threshold)
            warning = (f"This face is close to {other} (distance {shown_d}, under the {policy.name} cut of "
                       f"{shown_cut}): it could be checked in as them. A relative, a twin, or a wrong photo?")
    if sample.crop:
        sample.crop.delete(save=False)
    sample.crop = _crop_file(pixels, face.box)
    sample.status, sample.reason, sample.warning = FaceSample.Status.ACCEPTED, "", warning
    sample.box, sample.embedding = list(face.box), embedding_to_bytes(face.embedding)
    sample.detector_score, sample.face_size = face.score, face.size
    sample.sharpness = vfaces.face_sharpness(pixels, face.box)
    sample.save()
    return {"sample_id": sample.pk, "file": sample.original_name, "status": "accepted", "warning": warning}


def policy_current() -> Policy:
    """The matching policy staff chose on the calibration page (``MatchingSettings``)."""
    return policy_get(MatchingSettings.current().policy)


def shown_below(value: float, bound: float) -> tuple[str, str]:
    """``value`` and ``bound`` (``value < bound``) as text with the fewest
    decimals (2 to 6) that keep them different, so a sentence "0.597 under
    0.6" never reads "0.60 under 0.6"."""
    for k in range(2, 7):
        a, b = f"{value:.{k}f}", f"{bound:.{k}f}"
        if a != b:
            return a, b
    return f"{value:.6f}", f"{bound:.6f}"


def _frame_faces(path: str, progress=None) -> tuple[np.ndarray, list[vfaces.Face], int, int]:
    """Pixels, faces (largest first), width and height of one stored frame."""
    loaded = load_image(path, max_pixels=settings.MAX_IMAGE_PIXELS)
    found = sorted(_detect(loaded.pixels, progress), key=lambda f: f.area, reverse=True)
    return loaded.pixels, found, loaded.width, loaded.height


def _verdict(match: Match) -> str:
    return "unsure" if match.ambiguous else ("stranger" if match.label is None else "member")


def _entry(face: vfaces.Face, match: Match, names: dict) -> dict:
    named = match.label is not None
    return {"box": list(face.box), "member_id": match.label, "name": names.get(match.label, "Stranger") if named else
            ("Not sure" if match.ambiguous else "Stranger"),
            "distance": None if not np.isfinite(match.distance) else round(match.distance, 4),
            "margin": None if match.margin is None else round(match.margin, 4),
            "checkin_id": None, "previous_at": None}


def checkin_process(photo: CheckInPhoto, progress=None) -> dict:
    """Detect and identify the faces of a check-in photo (or camera burst) and log them.

    The decision is the open-set rule of ``vision.matching`` with the policy
    staff chose. In ``kiosk`` mode only the largest face is the person
    checking in, and only when it is at least ``KIOSK_MIN_FACE_FRACTION`` of
    the photo's shorter side (status ``too_small`` otherwise); other faces are
    boxed and labelled (status ``background``) but never logged. In a burst,
    each frame's largest face is decided alone: the person is logged when
    every frame with a face gives the same verdict and at least two frames
    have a face; otherwise the status is ``unsure`` ("try again"). ``group``
    mode logs every face of the first frame, as before issue 18.

    A member already logged within ``CHECKIN_REPEAT_MINUTES`` is not logged
    again (``repeat``); strangers are always logged; a face between two members
    (``unsure``) is not logged. Re-running for the same photo replaces its
    earlier rows (idempotent).

    Returns:
        ``{"width", "height", "mode", "policy", "threshold", "frames": [{"index",
        "faces", "verdict", "member_id"}], "faces": [{"box", "member_id", "name",
        "distance", "margin", "status", "checkin_id", "previous_at"}]}``, boxes in
        pixels of the EXIF-corrected first frame; ``status`` is one of ``logged``,
        ``repeat``, ``stranger``, ``unsure``, ``background``, ``too_small``. A photo
        (or burst) without a face is a normal outcome, not a failure (issue 13):
        ``faces`` is empty and ``no_face`` is true; nothing is logged.

    Raises:
        VisionError: an unreadable photo.
    """
    policy = policy_current()
    bound = settings.FACE_MATCH_THRESHOLD
    paths = [photo.photo.path] + [f.image.path for f in photo.frames.all()]
    pixels, found, width, height = _frame_faces(paths[0], progress)
    gallery = gallery_load()
    cut = gallery.cut(policy, bound)
    base = {"width": width, "height": height, "mode": photo.mode, "policy": policy.name,
            "threshold": round(cut.threshold, 4), "faces": [], "frames": []}
    kiosk = photo.mode == Mode.KIOSK
    # (face, match, pixels, status override): what each shown face is and whether it is logged
    shown: list[tuple[vfaces.Face, Match, np.ndarray, str | None]] = []
    if kiosk:
        mains = []
        for i, path in enumerate(paths):
            frame_pixels, frame_found = (pixels, found) if i == 0 else _frame_faces(path, progress)[:2]
            if frame_found:
                match = gallery.decide(frame_found[0].embedding[None, :], policy, bound)[0]
                mains.append((frame_found[0], match, frame_pixels))
                base["frames"].append({"index": i + 1, "faces": len(frame_found), "verdict": _verdict(match),
                                       "member_id": match.label})
            else:
                base["frames"].append({"index": i + 1, "faces": 0, "verdict": "no face", "member_id": None})
        if not mains:
            return dict(base, no_face=True)
        face, match, face_pixels = min(mains, key=lambda m: m[1].distance)  # the clearest frame is logged
        agree = len({(_verdict(m), m.label) for _, m, _ in mains}) == 1 and (len(paths) == 1 or len(mains) >= 2)
        small = face.size < settings.KIOSK_MIN_FACE_FRACTION * min(width, height)
        shown.append((face, match, face_pixels, "too_small" if small else (None if agree else "unsure")))
        if found:  # bystanders of the first frame: boxed and labelled, never logged
            rest = gallery.decide(np.stack([f.embedding for f in found[1:]]), policy, bound) if len(found) > 1 else []
            shown += [(f, m, pixels, "background") for f, m in zip(found[1:], rest)]
    else:
        if not found:
            return dict(base, no_face=True)
        matches = gallery.decide(np.stack([f.embedding for f in found]), policy, bound)
        shown = [(f, m, pixels, None) for f, m in zip(found, matches)]
        base["frames"].append({"index": 1, "faces": len(found), "verdict": "group", "member_id": None})
    labels = [m.label for _, m, _, _ in shown if m.label is not None]
    names = dict(Member.objects.filter(pk__in=labels).values_list("pk", "name"))
    window = timedelta(minutes=settings.CHECKIN_REPEAT_MINUTES)
    with transaction.atomic():
        for old in photo.checkins.all():
            old.delete()
        photo.members.set(labels)
        if photo.policy != policy.name:
            photo.policy = policy.name
            photo.save(update_fields=["policy"])
        now = photo.created_at
        for face, match, face_pixels, status in shown:
            # a stranger's nearest member is not named: it would tie that member to a stranger's photo
            entry = _entry(face, match, names)
            if status is None and match.ambiguous:
                status = "unsure"
            if status is not None:
                if status == "unsure":  # frames that disagree name no one
                    entry.update(member_id=None, name="Not sure")
                entry["status"] = status
                base["faces"].append(entry)
                continue
            if match.label is not None:
                previous = (CheckIn.objects.filter(member_id=match.label, time__gt=now - window, time__lte=now)
                            .exclude(photo=photo).order_by("-time").first())
                if previous:
                    entry.update(status="repeat", previous_at=previous.time.isoformat())
                    base["faces"].append(entry)
                    continue
            ci = CheckIn.objects.create(
                time=now, member_id=match.label, distance=entry["distance"], margin=entry["margin"],
                box=list(face.box), crop=_crop_file(face_pixels, face.box), photo=photo, source=photo.source,
                mode=photo.mode)
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
    result = checkin_process(photo, progress)
    return result, checkin_message(result)


_KIOSK_MESSAGES = {
    "logged": "Checked in: {name}", "repeat": "{name} was already checked in",
    "stranger": "Not recognised: logged as a stranger",
    "unsure": "Not sure who this is. Please look at the camera and try again.",
    "too_small": "Please come closer to the camera and try again.",
}


NO_FACE_MESSAGE = "No face found. Face the camera in good light and try again."


def checkin_message(result: dict) -> str:
    """The job's one-line outcome: the kiosk's sentence for the person in
    front, or the counts of a group photo."""
    faces = result["faces"]
    if result.get("no_face"):
        return NO_FACE_MESSAGE
    if result.get("mode") == Mode.KIOSK and faces:
        return _KIOSK_MESSAGES[faces[0]["status"]].format(name=faces[0]["name"])
    n = len(faces)
    known = sum(f["member_id"] is not None for f in faces)
    return (f"{n} face{'s' if n != 1 else ''}: {known} member{'s' if known != 1 else ''}, "
            f"{n - known} stranger{'s' if n - known != 1 else ''}")
