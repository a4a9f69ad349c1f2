"""Members, their face samples (biometric data) and the check-in log."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models

from vision.matching import DEFAULT_POLICY, POLICIES

EMBEDDING_DIM = 128
#: Accepted photos each member should have: with 3 the real-photo test identifies 98.8 % at the
#: balanced policy against 97.9 % with 2 (issue 18; vision.matching's docstring).
MIN_SAMPLES = 3


class Mode(models.TextChoices):
    """How a check-in photo is read (issue 18)."""

    KIOSK = "kiosk", "Kiosk: the person in front"
    GROUP = "group", "Group: everyone in the photo"


def embedding_to_bytes(vector: np.ndarray) -> bytes:
    """``(128,)`` float -> 512 raw bytes (little-endian float32)."""
    v = np.asarray(vector, dtype="<f4").reshape(-1)
    if v.shape != (EMBEDDING_DIM,):
        raise ValueError(f"an embedding has {EMBEDDING_DIM} values, got {v.shape}")
    return v.tobytes()


def embeddings_from_bytes(blobs) -> np.ndarray:
    """Many 512-byte blobs -> ``(n, 128)`` float32 in one copy."""
    blobs = [bytes(b) for b in blobs]
    if not blobs:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), EMBEDDING_DIM).astype(np.float32)


class Member(models.Model):
    """A person who can check in."""

    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True, null=True, unique=True,
                                   help_text="Optional id from another system (staff number, card number).")
    active = models.BooleanField(default=True, help_text="Inactive members are never matched.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name"])]

    def __str__(self):
        return self.name


class FaceSample(models.Model):
    """One enrolment photo of a member and, once a worker has processed it,
    its face: box (pixel ``xmin, ymin, xmax, ymax`` of the EXIF-corrected
    photo), 128-d dlib embedding (512 bytes, float32), detector score, face
    size in pixels. Only ``accepted`` samples are matched."""

    class Status(models.TextChoices):
        PENDING = "pending", "Processing"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="samples")
    photo = models.FileField(upload_to="faces/samples/%Y/%m/")
    original_name = models.CharField(max_length=255, blank=True, help_text="As uploaded; shown, never used as a path.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    reason = models.CharField(max_length=300, blank=True, help_text="Why the photo was rejected.")
    warning = models.CharField(max_length=300, blank=True, help_text="E.g. close to another member's face.")
    box = models.JSONField(null=True, blank=True)
    embedding = models.BinaryField(null=True, blank=True)
    detector_score = models.FloatField(null=True, blank=True)
    face_size = models.PositiveIntegerField(null=True, blank=True)
    sharpness = models.FloatField(null=True, blank=True)
    crop = models.FileField(upload_to="faces/crops/%Y/%m/", blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "member"])]

    def __str__(self):
        return f"{self.member} sample #{self.pk} ({self.status})"

    @property
    def embedding_array(self) -> np.ndarray | None:
        return None if self.embedding is None else embeddings_from_bytes([self.embedding])[0]


class MatchingSettings(models.Model):
    """The deployment's check-in decision, one row (``pk=1``), set by staff on
    the calibration page: the policy of ``vision.matching.POLICIES``."""

    policy = models.CharField(max_length=10, default=DEFAULT_POLICY,
                              choices=[(k, p.label) for k, p in POLICIES.items()])
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name_plural = "matching settings"

    def __str__(self):
        return f"Check-in policy: {self.policy}"

    @classmethod
    def current(cls) -> "MatchingSettings":
        """The one row, created with the default policy when missing."""
        return cls.objects.get_or_create(pk=1)[0]


class CheckInPhoto(models.Model):
    """A photo submitted at the kiosk; its job writes one ``CheckIn`` per
    face it logs. A camera burst keeps its later frames as ``CheckInFrame`` rows."""

    class Source(models.TextChoices):
        UPLOAD = "upload", "Upload"
        CAMERA = "camera", "Camera"
        API = "api", "API"

    photo = models.FileField(upload_to="checkins/photos/%Y/%m/")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.UPLOAD)
    mode = models.CharField(max_length=6, choices=Mode.choices, default=Mode.KIOSK)
    policy = models.CharField(max_length=10, blank=True, help_text="The matching policy that decided it.")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(Member, blank=True, related_name="checkin_photos",
                                     help_text="Members recognised in this photo, logged or not (deleted with them).")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"Check-in photo #{self.pk}"


class CheckInFrame(models.Model):
    """Frame 2, 3, ... of a camera burst (frame 1 is ``CheckInPhoto.photo``)."""

    photo = models.ForeignKey(CheckInPhoto, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveSmallIntegerField()
    image = models.FileField(upload_to="checkins/photos/%Y/%m/")

    class Meta:
        ordering = ["photo", "index"]


class CheckIn(models.Model):
    """One logged face: a member (or ``None`` for a stranger), the Euclidean
    distance to the nearest member (lower is surer), the margin to the
    second-best member, the face box and crop."""

    time = models.DateTimeField(db_index=True)
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.CASCADE, related_name="checkins")
    distance = models.FloatField(null=True, blank=True)
    margin = models.FloatField(null=True, blank=True)
    box = models.JSONField(default=list)
    crop = models.FileField(upload_to="checkins/crops/%Y/%m/", blank=True)
    photo = models.ForeignKey(CheckInPhoto, null=True, blank=True, on_delete=models.SET_NULL, related_name="checkins")
    source = models.CharField(max_length=10, choices=CheckInPhoto.Source.choices, default=CheckInPhoto.Source.UPLOAD)
    mode = models.CharField(max_length=6, choices=Mode.choices, default=Mode.KIOSK)

    class Meta:
        ordering = ["-time", "-id"]
        indexes = [models.Index(fields=["member", "time"])]

    def __str__(self):
        return f"{self.member or 'Stranger'} at {self.time:%Y-%m-%d %H:%M}"

    @property
    def is_stranger(self) -> bool:
        return self.member_id is None
