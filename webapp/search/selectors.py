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


def gallery_vectors(*, dataset: Dataset, backbone: str, after_id: int | None = None,
                    with_watermark: bool = False):
    """Stored embeddings of a gallery's readable photos under one backbone.

    Args:
        after_id: only embeddings whose row id is above it (the photos embedded
            since an index was built: one range scan of the ``(dataset, backbone,
            id)`` index); ``None``: all.
        with_watermark: also return the highest embedding row id read (0 if none).

    Returns:
        ``(image_ids (n,) int64, vectors (n, d) float32)`` ordered by image id, and
        the watermark when asked.
    """
    qs = ImageEmbedding.objects.filter(dataset=dataset, backbone=backbone, image__status=DatasetImage.Status.OK)
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    rows = qs.order_by("image_id").values_list("image_id", "dim", "vector", "id")
    # filled in place, chunk by chunk: a million 1280-d rows are 5 GB once, not twice (a list, then a stack)
    ids, x, top, n = None, None, 0, 0
    for image_id, dim, blob, row_id in rows.iterator(chunk_size=2000):
        if x is None:
            cap = qs.count()
            ids, x = np.zeros(cap, np.int64), np.zeros((cap, dim), np.float32)
        if n == len(x):  # rows added since the count
            ids, x = np.concatenate([ids, np.zeros(1024, np.int64)]), np.concatenate([x, np.zeros((1024, dim), np.float32)])
        ids[n], x[n] = image_id, np.frombuffer(bytes(blob), dtype="<f4")
        top = max(top, row_id)
        n += 1
    out = (np.zeros(0, np.int64), np.zeros((0, 0), np.float32)) if x is None else (ids[:n], x[:n])
    return (*out, top) if with_watermark else out


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


def index_freshness(*, dataset: Dataset, index: ModelVersion | None) -> dict | None:
    """For the gallery page: photos embedded since ``index`` was built (searched
    with it: each worker appends them to its copy), photos deleted since
    (skipped inside the index search), and the count at which a rebuild is queued by itself
    (``SEARCH_REBUILD_SHARE`` of the index). ``None`` without an index that
    records its watermark (built before issue 14: rebuild it)."""
    if index is None or "watermark" not in index.params:
        return None
    from django.conf import settings

    from webapp.search.models import SearchTombstone

    n = index.metrics.get("n_vectors", 0)
    return {"added": ImageEmbedding.objects.filter(dataset=dataset, backbone=index.params["backbone"],
                                                   id__gt=index.params["watermark"],
                                                   image__status=DatasetImage.Status.OK).count(),
            "deleted": SearchTombstone.objects.filter(dataset_id=dataset.pk,
                                                      id__gt=index.params.get("tombstone_mark", 0)).count(),
            "rebuild_at": int(settings.SEARCH_REBUILD_SHARE * n) + 1,
            "share": round(100 * settings.SEARCH_REBUILD_SHARE)}
