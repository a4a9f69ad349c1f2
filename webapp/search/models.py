"""Search by image (seed section 8): one embedding per gallery photo and
backbone, and the query photos people search or classify with.

The gallery itself is a ``datasets.Dataset`` of kind ``gallery``; built
indexes are ``registry.ModelVersion`` rows of kind ``search_index``."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db import models


class ImageEmbedding(models.Model):
    """The L2-normalised, global-average-pooled penultimate features of one
    photo under one backbone: ``dim`` float32 values, little-endian bytes."""

    image = models.ForeignKey("datasets.DatasetImage", on_delete=models.CASCADE, related_name="embeddings")
    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="embeddings",
                                help_text="Denormalised from the image, to read a gallery's vectors in one query.")
    backbone = models.CharField(max_length=50)
    backbone_version = models.CharField(max_length=50)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "backbone"], name="uniq_image_backbone")]
        # (dataset, backbone, id): a search finds the photos embedded since its index was built by id
        # (the index's watermark) in one index range scan, however large the gallery (issue 14)
        indexes = [models.Index(fields=["dataset", "backbone", "id"], name="search_emb_ds_bb_id")]

    @property
    def array(self) -> np.ndarray:
        """``(dim,) float32``, unit length."""
        return np.frombuffer(bytes(self.vector), dtype="<f4").astype(np.float32)


class QueryPhoto(models.Model):
    """A photo uploaded to search a gallery or to be classified (ImageNet);
    stored under a random name, checked by content."""

    class Purpose(models.TextChoices):
        SEARCH = "search", "Search a gallery"
        CLASSIFY = "classify", "ImageNet classification"

    purpose = models.CharField(max_length=10, choices=Purpose.choices)
    photo = models.FileField(upload_to="search/queries/%Y/%m/")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class SearchRun(models.Model):
    """One search: a query (an uploaded photo or a gallery photo) against a
    gallery, and the job that answers it (hits in ``job.result``)."""

    dataset = models.ForeignKey("datasets.Dataset", on_delete=models.CASCADE, related_name="search_runs")
    query_photo = models.ForeignKey(QueryPhoto, null=True, blank=True, on_delete=models.CASCADE)
    query_image = models.ForeignKey("datasets.DatasetImage", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    k = models.PositiveIntegerField(default=12)
    min_score = models.FloatField(null=True, blank=True, help_text="Cosine similarity cut-off, -1..1.")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class SearchTombstone(models.Model):
    """A gallery photo that left the search (deleted, or no longer readable)
    after an index may have been built over it. Searches skip the index rows
    of tombstones newer than their index's ``tombstone_mark``; an index build
    deletes the ones it makes irrelevant. ``dataset_id`` is a plain integer:
    the rows are written while a gallery is being deleted, and go with it."""

    dataset_id = models.PositiveIntegerField()
    image_id = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["dataset_id", "id"], name="search_tomb_ds_id")]
