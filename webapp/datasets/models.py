"""Datasets of photos, shared by every capability: a search gallery, a
classification set (one class per photo), a detection set (boxes, owned by
the annotation app), a text-line set (one transcription per photo).

One photo is one ``DatasetImage``; the label map is ``DatasetClass`` (ids
from 1, as in a TF Object Detection ``label_map.pbtxt``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Dataset(models.Model):
    class Kind(models.TextChoices):
        GALLERY = "gallery", "Image search gallery"
        CLASSIFICATION = "classification", "Classification (one label per photo)"
        DETECTION = "detection", "Detection (boxes)"
        TEXT_LINES = "text_lines", "Text lines (OCR)"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="datasets_created")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="datasets",
                                     help_text="Users assigned to this dataset (e.g. annotators).")
    split_seed = models.PositiveIntegerField(default=42, help_text="Seed of the train/validation split.")
    validation_fraction = models.FloatField(default=0.3, help_text="Share of photos held out for validation (seed: 30%).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class DatasetClass(models.Model):
    """One entry of a dataset's label map."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="classes")
    class_id = models.PositiveIntegerField(help_text="1, 2, 3…; 0 is reserved for background.")
    name = models.CharField(max_length=200)
    coarse_group = models.CharField(max_length=200, blank=True,
                                    help_text="Coarse group (e.g. a colour): a learned similarity embedding draws "
                                              "a share of its hard negatives from other classes of the same one.")

    class Meta:
        ordering = ["dataset", "class_id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "class_id"], name="uniq_class_id"),
            models.UniqueConstraint(fields=["dataset", "name"], name="uniq_class_name"),
        ]

    def __str__(self):
        return f"{self.class_id}: {self.name}"


class DatasetImage(models.Model):
    """A photo of a dataset. ``width``/``height`` are of the EXIF-corrected
    image (the coordinates boxes use). Unreadable uploads are kept as rows
    with ``status=unreadable`` and the reason, so the user sees what failed."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        UNREADABLE = "unreadable", "Unreadable"

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        VALIDATION = "val", "Validation"

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to="datasets/%Y/%m/", blank=True)
    thumbnail = models.FileField(upload_to="datasets/thumbs/%Y/%m/", blank=True)
    original_name = models.CharField(max_length=500, help_text="Path as uploaded (shown, never used as a path).")
    sha256 = models.CharField(max_length=64, db_index=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=10, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OK, db_index=True)
    error = models.CharField(max_length=300, blank=True)
    label = models.ForeignKey(DatasetClass, null=True, blank=True, on_delete=models.SET_NULL, related_name="images")
    text = models.CharField(max_length=500, blank=True, help_text="Transcription, for text-line datasets.")
    split = models.CharField(max_length=5, choices=Split.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dataset", "id"]
        constraints = [models.UniqueConstraint(fields=["dataset", "sha256"], name="uniq_image_content")]
        indexes = [models.Index(fields=["dataset", "status"]), models.Index(fields=["dataset", "label"])]

    def __str__(self):
        return self.original_name
