"""Boxes drawn on the photos of detection datasets, and each photo's
annotation state. Boxes are pixel ``(xmin, ymin, xmax, ymax)`` of the
EXIF-corrected photo (``DatasetImage.width``/``height``), whatever the
display scale, so a detector can be trained on them later."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from webapp.datasets.models import DatasetClass, DatasetImage


class Box(models.Model):
    """One object box.

    ``revision`` starts at 1 and grows with every change: a client sends the
    revision it last saw, and a save against a newer one is refused (HTTP 409)
    instead of silently overwriting another annotator's work (optimistic
    concurrency). Machine boxes (``source=machine``, with the detector's
    ``score``) stay ``accepted=False`` until a person accepts or corrects them.
    """

    class Source(models.TextChoices):
        HUMAN = "human", "Drawn by a person"
        MACHINE = "machine", "Proposed by a detector"

    image = models.ForeignKey(DatasetImage, on_delete=models.CASCADE, related_name="boxes")
    label = models.ForeignKey(DatasetClass, on_delete=models.CASCADE, related_name="boxes",
                              help_text="The box's class (label-map entry).")
    # PostgreSQL reserves the column names xmin/xmax (system columns), hence db_column.
    xmin = models.FloatField(db_column="box_xmin")
    ymin = models.FloatField(db_column="box_ymin")
    xmax = models.FloatField(db_column="box_xmax")
    ymax = models.FloatField(db_column="box_ymax")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HUMAN)
    detector = models.CharField(max_length=50, blank=True, help_text="Detector name for machine boxes.")
    score = models.FloatField(null=True, blank=True, help_text="Detector confidence for machine boxes.")
    accepted = models.BooleanField(default=True, help_text="False for machine boxes nobody has accepted yet.")
    revision = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="boxes_created")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="boxes_updated")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["image", "id"]
        verbose_name_plural = "boxes"
        constraints = [
            models.CheckConstraint(condition=Q(xmin__lt=F("xmax")) & Q(ymin__lt=F("ymax")), name="box_not_empty"),
        ]
        indexes = [models.Index(fields=["image", "accepted"])]

    def __str__(self):
        return f"{self.label.name} ({self.xmin:g}, {self.ymin:g}, {self.xmax:g}, {self.ymax:g})"

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.xmin, self.ymin, self.xmax, self.ymax)


class ImageState(models.Model):
    """Annotation state of a photo: ``no_objects`` when an annotator marked
    that nothing is to be boxed. A photo counts as annotated when it has an
    accepted box or ``no_objects`` is set (see ``selectors``)."""

    image = models.OneToOneField(DatasetImage, on_delete=models.CASCADE, related_name="annotation_state")
    no_objects = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.image}: {'no objects' if self.no_objects else 'to annotate'}"


class DetectPhoto(models.Model):
    """A photo uploaded to the Detect page; the job draws the detector's boxes."""

    file = models.FileField(upload_to="detect/%Y/%m/")
    detector = models.CharField(max_length=50)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
