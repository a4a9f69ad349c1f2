"""Reads for search by image: galleries, their embeddings as arrays, the
active index, and search hits turned into rows for pages."""

from __future__ import annotations

import numpy as np
from django.conf import settings
from django.db.models import Count, Q

from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.selectors import dataset_list
from webapp.registry.models import ModelVersion
from webapp.search.models import ImageEmbedding


def gallery_list(*, user):
    """Galleries ``user`` may use (staff: all; others: created by or assigned to them)."""
    return dataset_list(user=user, kind=Dataset.Kind.GALLERY)


def gallery_get(*, user, dataset_id: int) -> Dataset | None:
    return gallery_list(user=user).filter(pk=dataset_id).first()


def gallery_vectors(*, dataset: Dataset, backbone: str, exclude_image_ids=()) -> tuple[np.ndarray, np.ndarray]:
    """Every stored embedding of a gallery under one backbone.

    Returns:
        ``(image_ids (n,) int64, vectors (n, d) float32)`` ordered by image id.
    """
    rows = (ImageEmbedding.objects.filter(dataset=dataset, backbone=backbone, image__status=DatasetImage.Status.OK)
            .exclude(image_id__in=list(exclude_image_ids)).order_by("image_id").values_list("image_id", "dim", "vector"))
    ids, vecs = [], []
    for image_id, dim, blob in rows.iterator(chunk_size=2000):
        ids.append(image_id)
        vecs.append(np.frombuffer(bytes(blob), dtype="<f4"))
    if not vecs:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return np.array(ids, np.int64), np.stack(vecs).astype(np.float32)


def gallery_status(*, dataset: Dataset, backbone: str) -> dict:
    """Counts for the gallery page: photos, readable, embedded under ``backbone``, unreadable."""
    counts = dataset.images.aggregate(
        total=Count("id"), ok=Count("id", filter=Q(status=DatasetImage.Status.OK)),
        unreadable=Count("id", filter=Q(status=DatasetImage.Status.UNREADABLE)))
    counts["embedded"] = ImageEmbedding.objects.filter(dataset=dataset, backbone=backbone,
                                                       image__status=DatasetImage.Status.OK).count()
    counts["missing"] = counts["ok"] - counts["embedded"]
    return counts


def search_index_active(*, dataset: Dataset) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=ModelVersion.Kind.SEARCH_INDEX, dataset=dataset, active=True).first()


def search_hits_cut_off(*, hits: list[dict], min_score: float | None) -> list[dict]:
    """The one place the similarity cut-off is applied: hits scoring at
    least ``min_score`` (cosine similarity, -1..1; higher is stricter),
    in their order; ``None`` keeps them all. The search job applies its
    run's cut-off with it; a page only to narrow a result further."""
    if min_score is None:
        return list(hits)
    return [h for h in hits if h["score"] >= min_score]


def hits_with_images(*, hits: list[dict], dataset: Dataset) -> list[dict]:
    """Join a job's hits ``[{image_id, score}]`` with the photos that still
    exist (a photo deleted since the search disappears at once). The hits
    are taken as the job kept them: its cut-off is already applied."""
    images = DatasetImage.objects.in_bulk([h["image_id"] for h in hits])
    out = []
    for h in hits:
        img = images.get(h["image_id"])
        if img is None or img.dataset_id != dataset.pk or img.status != DatasetImage.Status.OK:
            continue
        out.append({**h, "image": img})
    return out


def search_backbone(*, dataset: Dataset) -> str:
    """The backbone a search of ``dataset`` embeds its query with: the one
    its active index was built with (the index's vectors are comparable only
    with those), else ``SEARCH_BACKBONE`` (what embedding jobs use)."""
    mv = search_index_active(dataset=dataset)
    return (mv.params.get("backbone") if mv is not None else None) or settings.SEARCH_BACKBONE
