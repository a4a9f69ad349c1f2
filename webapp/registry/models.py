"""Trained or built models, versioned: classifiers, detectors, OCR models,
similarity embeddings, search indexes. One row per version; at most one
active version per (kind, dataset)."""

from __future__ import annotations

from django.db import models


class ModelVersion(models.Model):
    class Kind(models.TextChoices):
        CLASSIFIER = "classifier", "Image classifier"
        DETECTOR = "detector", "Object detector"
        OCR = "ocr", "Text-line reader"
        EMBEDDING = "embedding", "Similarity embedding"
        SEARCH_INDEX = "search_index", "Search index"

    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    name = models.CharField(max_length=200, help_text="e.g. the architecture: efficientnet_lite0+head, scratch_cnn.")
    dataset = models.ForeignKey("datasets.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="model_versions")
    version = models.PositiveIntegerField()
    path = models.CharField(max_length=500, help_text="File or folder under VAR_DIR/models.")
    params = models.JSONField(default=dict, blank=True, help_text="Hyper-parameters and preprocessing.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation figures, curves.")
    classes = models.JSONField(default=list, blank=True, help_text="Class names in output order.")
    active = models.BooleanField(default=False)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "dataset", "version"], name="uniq_model_version")]

    def __str__(self):
        return f"{self.name} v{self.version}"
