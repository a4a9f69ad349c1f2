"""Search work done inside workers: embedding gallery photos, building
indexes, answering searches, ImageNet classification. This is the one place
that converts between rows and ``vision`` arrays for the search app. Called
only from ``workers/search.py`` (it loads TensorFlow and FAISS through
``vision``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from vision import registry
from vision.errors import InvalidImageError, WeightsMissingError
from vision.imagenet import top_k_classes
from vision.search import (
    ExcludedRows,
    IndexSpec,
    build_index,
    delta_index,
    delta_spec,
    exact_search,
    index_bytes,
    index_search,
    kmeans_clusters,
    load_index,
    merge_top_k,
    save_index,
)
from webapp.core.uploads import stored_image
from webapp.datasets.models import Dataset, DatasetImage
from webapp.jobs.errors import JobCancelled, JobFailed
from webapp.jobs.models import Job
from webapp.jobs.services import cancel_checker
from webapp.registry.models import ModelVersion
from webapp.registry.services import model_version_next, model_version_register
from webapp.search import changes
from webapp.search.backbones import backbone_load, backbone_spec
from webapp.search.models import ImageEmbedding, QueryPhoto, SearchRun, SearchTombstone
from webapp.search.selectors import gallery_vectors, search_backbone, search_hits_cut_off, search_index_active


def _load_pixels(field_file) -> np.ndarray:
    return stored_image(field_file).pixels


def embeddings_compute(*, dataset_id: int, backbone_name: str, progress,
                  should_stop: Callable[[], bool] | None = None) -> dict:
    """Embed every readable photo of the gallery that has no embedding under
    this backbone (or one from older weights), in batches. A photo whose
    file can no longer be read is marked unreadable with the reason and
    skipped; the batch goes on.

    Args:
        progress: ``progress(fraction, message, force=False)``.
        should_stop: asked before each batch (``cancel_checker``); when it
            answers True the work stops there.

    Returns:
        ``{dataset_id, backbone, backbone_version, embedded, unreadable, dim}``.

    Raises:
        JobFailed: the gallery was deleted (``"deleted"``).
        JobCancelled: ``should_stop`` said so; every batch embedded before
            it is kept (each is saved in one transaction), and the result
            (as above, plus ``cancelled: True``) says how many.
    """
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        raise JobFailed("The gallery was deleted before its photos were embedded.", "deleted")
    backbone = _search_backbone_load(backbone_name)
    version = backbone.spec.version
    done, unreadable, batch = 0, [], settings.SEARCH_EMBED_BATCH
    attempted: set[int] = set()
    total = 0
    # Photos uploaded while this job runs are picked up too: the upload asks
    # for the same job, which is already running, so it goes round again.
    for _round in range(50):
        todo = list(DatasetImage.objects.filter(dataset=dataset, status=DatasetImage.Status.OK)
                    .exclude(embeddings__backbone=backbone_name, embeddings__backbone_version=version)
                    .exclude(pk__in=attempted).order_by("id"))
        if not todo:
            break
        attempted.update(img.pk for img in todo)
        total += len(todo)
        for start in range(0, len(todo), batch):
            if should_stop is not None and should_stop():
                kept = _embed_result(dataset, backbone_name, backbone, done, unreadable)
                raise JobCancelled(f"Cancelled after embedding {done} of {total} photos; those are kept.",
                                   result={**kept, "cancelled": True})
            rows, pixels = [], []
            for img in todo[start:start + batch]:
                try:
                    pixels.append(_load_pixels(img.file))
                    rows.append(img)
                except (InvalidImageError, OSError) as err:
                    reason = getattr(err, "message", None) or "The stored file is missing."
                    DatasetImage.objects.filter(pk=img.pk).update(status=DatasetImage.Status.UNREADABLE, error=reason[:300])
                    # an older index may hold it (another backbone version): searches must skip it
                    SearchTombstone.objects.create(dataset_id=dataset.pk, image_id=img.pk)
                    unreadable.append({"image_id": img.pk, "file": img.original_name, "reason": reason})
            if rows:
                vectors = backbone.embeddings(pixels)
                with transaction.atomic():
                    for img, vec in zip(rows, vectors):
                        if not DatasetImage.objects.filter(pk=img.pk).exists():
                            continue  # deleted meanwhile
                        ImageEmbedding.objects.update_or_create(
                            image=img, backbone=backbone_name,
                            defaults={"dataset": dataset, "backbone_version": version, "dim": int(vec.shape[0]),
                                      "vector": vec.astype("<f4").tobytes()})
                done += len(rows)
            n = total - len(todo) + min(start + batch, len(todo))
            progress(n / max(1, total), f"Embedded {done} of {total} photos")
    return _embed_result(dataset, backbone_name, backbone, done, unreadable)


def _embed_result(dataset: Dataset, backbone_name: str, backbone, embedded: int, unreadable: list[dict]) -> dict:
    return {"dataset_id": dataset.pk, "backbone": backbone_name, "backbone_version": backbone.spec.version,
            "embedded": embedded, "unreadable": unreadable, "dim": backbone.spec.embedding_dim}


def index_build(*, params: dict, progress, job=None, should_stop: Callable[[], bool] | None = None) -> dict:
    """Build a new index version over the gallery's embeddings, compute
    k-means groups for browsing, save it under ``SEARCH_INDEX_DIR/<dataset>/``
    and register it (``ModelVersion`` kind ``search_index``, made active).

    Args:
        params: ``{dataset_id, backbone, kind, nlist, nprobe, clusters, embed_missing}`` (a job's
            params); with ``embed_missing`` the photos without an embedding under ``backbone``
            are embedded first (:func:`embeddings_compute`, the first half of the progress bar).
        progress: ``progress(fraction, message, force=False)``.
        job: the Job recorded on the ModelVersion, if any.
        should_stop: asked after the build and after the grouping, before
            anything is written (``cancel_checker``).

    Returns:
        ``{model_version_id, version, kind, n_vectors, build_seconds, clusters}``.

    Raises:
        JobFailed: the gallery was deleted, or has no embedding yet.
        JobCancelled: ``should_stop`` said so; no file is written and the
            active index stays as it was.
    """
    p = params
    dataset = Dataset.objects.filter(pk=p["dataset_id"]).first()
    if dataset is None:
        raise JobFailed("The gallery was deleted.", "deleted")
    if p.get("embed_missing"):
        embeddings_compute(dataset_id=dataset.pk, backbone_name=p["backbone"], should_stop=should_stop,
                      progress=lambda f, m="", force=False: progress(0.5 * (f or 0), m, force=force))
        progress = _second_half(progress)
    # Marks taken before the vectors are read: a photo deleted after this point has a newer tombstone
    # (searches skip it), a photo embedded after the read has a higher embedding id (searched exactly).
    tombstone_mark = SearchTombstone.objects.filter(dataset_id=dataset.pk).aggregate(m=Max("id"))["m"] or 0
    ids, x, watermark = gallery_vectors(dataset=dataset, backbone=p["backbone"], with_watermark=True)
    if len(ids) == 0:
        raise JobFailed("No photo of this gallery has an embedding yet: compute the embeddings first.", "no_embeddings")
    spec = IndexSpec(kind=p["kind"], nlist=p.get("nlist", 0), nprobe=p.get("nprobe", 8)).resolved(*x.shape)

    def stop_here():  # before anything is written
        if should_stop is not None and should_stop():
            raise JobCancelled("Cancelled before the index was saved; the active index is unchanged.",
                               result={"n_vectors": int(len(ids)), "cancelled": True})

    progress(0.1, f"Building the {spec.kind} index over {len(ids)} photos…", force=True)
    t0 = time.perf_counter()
    index = build_index(x, spec)
    build_s = time.perf_counter() - t0
    stop_here()
    progress(0.6, "Grouping photos with k-means…", force=True)
    clusters = kmeans_clusters(x, p.get("clusters", 8), per_cluster=6)
    groups = [{"size": int((clusters.labels == c).sum()), "image_ids": [int(ids[r]) for r in reps]}
              for c, reps in enumerate(clusters.representatives)]
    groups.sort(key=lambda g: -g["size"])
    stop_here()
    version = model_version_next(kind=ModelVersion.Kind.SEARCH_INDEX, dataset=dataset)
    folder = Path(settings.SEARCH_INDEX_DIR) / f"gallery-{dataset.pk}"
    path = save_index(index, folder / f"v{version}-{spec.kind}.faiss")
    np.save(folder / f"v{version}-{spec.kind}.ids.npy", ids)
    mv = model_version_register(
        kind=ModelVersion.Kind.SEARCH_INDEX, name=f"{spec.kind}:{p['backbone']}", dataset=dataset, job=job,
        path=str(path), activate=True,
        params={"kind": spec.kind, "factory": spec.factory_string(), "nlist": spec.nlist, "nprobe": spec.nprobe,
                "pca_dim": spec.pca_dim, "hnsw_m": spec.hnsw_m, "ef_search": spec.ef_search,
                "backbone": p["backbone"], "backbone_version": registry_version(p["backbone"]),
                "ids_path": str(folder / f"v{version}-{spec.kind}.ids.npy"), "clusters": groups,
                "watermark": int(watermark), "tombstone_mark": int(tombstone_mark)},
        metrics={"n_vectors": int(len(ids)), "dim": int(x.shape[1]), "build_seconds": round(build_s, 4),
                 "bytes_per_vector": round(index_bytes(index) / len(ids), 1)})
    # tombstones up to the mark concern photos this index never held: no search needs them again
    SearchTombstone.objects.filter(dataset_id=dataset.pk, id__lte=tombstone_mark).delete()
    return {"model_version_id": mv.pk, "version": mv.version, "kind": spec.kind, "n_vectors": int(len(ids)),
            "build_seconds": round(build_s, 4), "clusters": len(groups)}


def _second_half(progress):
    """``progress`` mapped onto 0.5..1 (the first half was spent embedding)."""
    return lambda f, m="", force=False: progress(None if f is None else 0.5 + 0.5 * f, m, force=force)


def registry_version(backbone_name: str) -> str:
    """The weights version embeddings of ``backbone_name`` carry (an ImageNet backbone's, or a
    learned embedding's: its base's and its own)."""
    spec = backbone_spec(backbone_name)
    if spec is None:
        raise JobFailed(f"The backbone “{backbone_name}” is not known here (a learned embedding deleted?).",
                        "unknown_backbone")
    return spec.version


class _LoadedIndex:
    """An active index as a worker holds it (issue 14): the FAISS index and
    the image id of each of its rows; the photos embedded since the build
    (read incrementally by embedding id from the index's watermark) in a
    small index of their own beside it (``vision.search.delta_index``: adding
    them to the built index would reallocate all of it); and the rows of
    photos deleted since the build (tombstones, read incrementally by id),
    excluded inside both searches. A search reads those rows only when the
    gallery's marks show something new (one query, or on PostgreSQL none
    while nothing changed: ``webapp.search.changes``), then runs FAISS."""

    def __init__(self, mv: ModelVersion):
        self.spec = IndexSpec(kind=mv.params["kind"], nlist=mv.params["nlist"], nprobe=mv.params["nprobe"],
                              pca_dim=mv.params["pca_dim"], hnsw_m=mv.params["hnsw_m"],
                              ef_search=mv.params["ef_search"])
        self.index = load_index(mv.path, self.spec)
        self.ids = np.load(mv.params["ids_path"]).astype(np.int64)
        self._order = np.argsort(self.ids, kind="stable")
        self.delta = None  # created with the first photo embedded since the build
        self.delta_ids = np.zeros(0, np.int64)
        self.dataset_id, self.backbone = mv.dataset_id, mv.params["backbone"]
        self.last_embedding = int(mv.params["watermark"])
        self.last_tombstone = int(mv.params.get("tombstone_mark", 0))
        self.deleted_rows = np.zeros(0, np.int64)  # of the built index
        self.deleted_delta = np.zeros(0, np.int64)  # of the delta index
        self.excluded: ExcludedRows | None = None
        self.delta_excluded: ExcludedRows | None = None

    @property
    def added(self) -> int:
        """Photos embedded since the build (rows of the delta index)."""
        return len(self.delta_ids)

    @property
    def live(self) -> int:
        return len(self.ids) + len(self.delta_ids) - len(self.deleted_rows) - len(self.deleted_delta)

    def refresh(self, newest_embedding: int | None = None, newest_tombstone: int | None = None) -> None:
        """Take in the photos embedded and deleted since the last look. With the
        newest embedding and tombstone ids known (:func:`_gallery_marks`), the
        rows are only read when there is something new."""
        new = []
        if newest_embedding is None or newest_embedding > self.last_embedding:
            new = list(ImageEmbedding.objects.filter(dataset_id=self.dataset_id, backbone=self.backbone,
                                                     id__gt=self.last_embedding)
                       .order_by("id").values_list("id", "image_id", "vector"))
        if new:
            self.last_embedding = new[-1][0]
            x = np.stack([np.frombuffer(bytes(v), dtype="<f4") for _, _, v in new]).astype(np.float32)
            if self.delta is None:
                self.delta = delta_index(x.shape[1], self.spec)
            self.delta.add(x)  # delta rows len(delta_ids) .. len(delta_ids) + len(new) - 1
            self.delta_ids = np.concatenate([self.delta_ids, np.array([i for _, i, _ in new], np.int64)])
        gone = []
        if newest_tombstone is None or newest_tombstone > self.last_tombstone:
            gone = list(SearchTombstone.objects.filter(dataset_id=self.dataset_id, id__gt=self.last_tombstone)
                        .order_by("id").values_list("id", "image_id"))
        if gone:
            self.last_tombstone = gone[-1][0]
            image_ids = np.array([i for _, i in gone], np.int64)
            sorted_ids = self.ids[self._order]
            at = np.searchsorted(sorted_ids, image_ids, side="left")
            rows = []
            for image_id, a in zip(image_ids, at):  # every row of that photo (re-embedded: more than one)
                while a < len(sorted_ids) and sorted_ids[a] == image_id:
                    rows.append(self._order[a])
                    a += 1
            if rows:
                self.deleted_rows = np.union1d(self.deleted_rows, np.array(rows, np.int64))
                self.excluded = ExcludedRows(self.deleted_rows, self.spec)
            in_delta = np.flatnonzero(np.isin(self.delta_ids, image_ids))
            if len(in_delta):
                self.deleted_delta = np.union1d(self.deleted_delta, in_delta)
                self.delta_excluded = ExcludedRows(self.deleted_delta, delta_spec(self.spec))

    def search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` live photos for one ``(1, d)`` query over the built and the
        delta index: ``(scores, image ids)``, best first (fewer when fewer live)."""
        parts = []
        for index, ids, deleted, excluded in ((self.index, self.ids, self.deleted_rows, self.excluded),
                                              (self.delta, self.delta_ids, self.deleted_delta, self.delta_excluded)):
            live = len(ids) - len(deleted)
            if live > 0:
                scores, rows = index_search(index, q, min(live, k), excluded=excluded)
                ok = rows[0] >= 0
                parts.append((scores[0][ok], ids[rows[0][ok]]))
        return merge_top_k(parts, k)


def _gallery_marks(dataset: Dataset, backbone: str) -> tuple[int | None, str, int, int]:
    """In one round trip (on PostgreSQL only after a change: ``webapp.search.changes``):
    the gallery's active index version id (or ``None``)
    and file path, its newest embedding id under ``backbone`` and its newest tombstone id (0
    when none); each one backward step on an index, whatever the gallery's
    size. Plain SQL: composing it with the ORM cost more than running it
    (about 2 ms against 0.3 ms per search, measured with bench/search.py)."""
    global _marks_sql
    if _marks_sql is None:
        mv, emb, tomb = (m._meta.db_table for m in (ModelVersion, ImageEmbedding, SearchTombstone))
        active = f"FROM {mv} WHERE kind = %s AND dataset_id = %s AND active LIMIT 1"
        _marks_sql = (f"SELECT (SELECT id {active}), (SELECT path {active}),"
                      f" (SELECT id FROM {emb} WHERE dataset_id = %s AND backbone = %s ORDER BY id DESC LIMIT 1),"
                      f" (SELECT id FROM {tomb} WHERE dataset_id = %s ORDER BY id DESC LIMIT 1)")
    with connection.cursor() as cur:
        index = [ModelVersion.Kind.SEARCH_INDEX, dataset.pk]
        cur.execute(_marks_sql, [*index, *index, dataset.pk, backbone, dataset.pk])
        mv_id, path, emb_id, tomb_id = cur.fetchone()
    return mv_id, path or "", emb_id or 0, tomb_id or 0


_marks_sql: str | None = None
_versions: dict[tuple[int, str], ModelVersion] = {}  # index versions this process has seen (rows never change)


def _active_index(mv: ModelVersion) -> _LoadedIndex:
    """The active index, loaded once per worker process and version
    (``registry.cached`` bounds how many stay in memory)."""
    return registry.cached(f"search_index:{mv.pk}:{mv.path}", lambda: _LoadedIndex(mv))


def gallery_search(*, dataset: Dataset, query: np.ndarray, k: int, backbone: str, exclude_image_id: int | None = None) -> dict:
    """Top-k photos of a gallery for one query embedding, at a cost that does
    not grow with the gallery beyond the index itself (issue 14).

    With an active index for this backbone: :class:`_LoadedIndex` takes in
    the photos embedded and deleted since the last search, then FAISS
    answers with the deleted rows excluded inside the search. Without one (or
    when its file is missing, or it was built with another backbone), the
    search is exact over the gallery's stored embeddings.

    Args:
        query: ``(d,) float32`` unit vector.
        exclude_image_id: a photo never to return (the query itself).

    Returns:
        ``{"hits": [{image_id, score}], "index": {...} | None, "added_since_build": n}``
        with an index, ``{"hits", "index": None, "exact_searched": n}`` without.
    """
    q = query.reshape(1, -1).astype(np.float32)
    want = k + (exclude_image_id is not None)
    mv_id, path, newest_embedding, newest_tombstone = changes.marks_for(
        (dataset.pk, backbone), lambda: _gallery_marks(dataset, backbone))
    mv = None
    if mv_id is not None:
        mv = _versions.get((mv_id, path)) or _versions.setdefault((mv_id, path), ModelVersion.objects.get(pk=mv_id))
    if mv is not None and mv.params.get("backbone") == backbone and "watermark" in mv.params and Path(mv.path).is_file():
        loaded = _active_index(mv)
        loaded.refresh(newest_embedding, newest_tombstone)
        scores, ids = loaded.search(q, want)
        out = {"index": {"model_version_id": mv.pk, "version": mv.version, "kind": mv.params["kind"],
                         "n_vectors": int(mv.metrics.get("n_vectors", 0))},
               "added_since_build": loaded.added}
    else:
        ids, x = gallery_vectors(dataset=dataset, backbone=backbone)
        if exclude_image_id is not None and len(ids):
            keep = ids != exclude_image_id
            ids, x = ids[keep], x[keep]
        out = {"index": None, "exact_searched": int(len(ids))}
        scores = np.zeros(0, np.float32)
        if len(ids):
            scores, rows = exact_search(x, q, min(want, len(ids)))
            scores, ids = scores[0], ids[rows[0]]
    hits = [{"image_id": int(i), "score": round(float(s), 5)} for s, i in zip(scores, ids) if i != exclude_image_id]
    out["hits"] = hits[:k]
    return out


def rebuild_due(*, added: int, n_vectors: int) -> bool:
    """Whether ``added`` photos embedded since a build of ``n_vectors`` pass ``SEARCH_REBUILD_SHARE``."""
    return added > settings.SEARCH_REBUILD_SHARE * n_vectors


def rebuild_when_grown(*, dataset: Dataset, added: int) -> Job | None:
    """Queue a rebuild of the gallery's active index (same settings, batch
    queue) once the photos embedded since its build pass ``SEARCH_REBUILD_SHARE``
    of it (they are searched, appended to the index in each worker's memory,
    but a fresh build is better balanced and starts workers faster); ``None``
    when not due. A build already queued or running is returned as it is."""
    mv = search_index_active(dataset=dataset)
    if mv is None or not rebuild_due(added=added, n_vectors=mv.metrics.get("n_vectors", 0)):
        return None
    from webapp.search.services import search_index_build_start

    return search_index_build_start(dataset=dataset, kind=mv.params["kind"], nlist=mv.params.get("nlist", 0),
                                    nprobe=mv.params.get("nprobe", 8), backbone=mv.params["backbone"],
                                    clusters=max(1, len(mv.params.get("clusters", [])) or 8))


def _search_backbone_load(name: str):
    """``registry.load(name)`` for a search, failing the job in words when the
    index's backbone is unknown here or its weights are not on this worker.

    Raises:
        JobFailed: code ``"unknown_backbone"`` or ``"weights_missing"``.
    """
    spec = backbone_spec(name)
    if spec is None:
        raise JobFailed(f"This gallery's index was built with the backbone “{name}”, which this platform no longer "
                        "knows (a learned embedding deleted?): rebuild the index.", "unknown_backbone")
    try:
        return backbone_load(name)
    except WeightsMissingError as err:
        raise JobFailed(f"This gallery's index was built with {spec.label}, so the query must be embedded "
                        f"with it too, but its weights are not available on this worker. {err.message}",
                        "weights_missing") from err


def search_run_process(*, run_id: int) -> dict:
    """Answer one search: embed the query with the backbone of the gallery's
    index (:func:`search_backbone`), then :func:`gallery_search`; hits below
    the run's cut-off are dropped.

    Returns:
        ``gallery_search``'s dict plus ``search_ms`` and ``backbone``.

    Raises:
        JobFailed: the run or its query photo was deleted (``"deleted"``); the
            index's backbone is unknown or its weights are missing.
    """
    run = SearchRun.objects.select_related("dataset", "query_photo", "query_image").filter(pk=run_id).first()
    if run is None:
        raise JobFailed("The search was deleted.", "deleted")
    backbone_name = search_backbone(dataset=run.dataset)
    if run.query_image_id:
        emb = ImageEmbedding.objects.filter(image_id=run.query_image_id, backbone=backbone_name).first()
        if emb is not None:
            query = emb.array
        elif run.query_image is not None:
            query = _search_backbone_load(backbone_name).embeddings([_load_pixels(run.query_image.file)])[0]
        else:
            raise JobFailed("The query photo was deleted from the gallery.", "deleted")
    elif run.query_photo_id:
        query = _search_backbone_load(backbone_name).embeddings([_load_pixels(run.query_photo.photo)])[0]
    else:
        raise JobFailed("The query photo was deleted.", "deleted")
    return search_from_embedding(dataset=run.dataset, query=query, k=run.k, backbone=backbone_name,
                                 exclude_image_id=run.query_image_id, min_score=run.min_score)


def search_from_embedding(*, dataset: Dataset, query: np.ndarray, k: int, backbone: str,
                          exclude_image_id: int | None = None, min_score: float | None = None) -> dict:
    """A search job's work once its query is embedded (``bench/search.py``
    times this, then the result's storing, as the product path):
    :func:`gallery_search`, a rebuild queued when the photos added since the
    build pass their share (decided from the index version already in hand,
    so a search makes no query for it until one is due), the cut-off.

    Args:
        query: ``(d,) float32`` unit vector from ``backbone``.
        min_score: the run's cut-off (cosine similarity); None keeps every hit.

    Returns:
        ``gallery_search``'s dict plus ``search_ms``, ``backbone`` and, when a
        rebuild was queued, ``rebuild_queued``.
    """
    t0 = time.perf_counter()
    out = gallery_search(dataset=dataset, query=query, k=k, backbone=backbone, exclude_image_id=exclude_image_id)
    out["search_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    out["backbone"] = backbone
    due = out["index"] and rebuild_due(added=out["added_since_build"], n_vectors=out["index"]["n_vectors"])
    if due and rebuild_when_grown(dataset=dataset, added=out["added_since_build"]) is not None:
        out["rebuild_queued"] = True
    out["hits"] = search_hits_cut_off(hits=out["hits"], min_score=min_score)
    return out


def classify_process(*, query_photo_id: int, backbone_name: str) -> dict:
    qp = QueryPhoto.objects.filter(pk=query_photo_id).first()
    if qp is None:
        raise JobFailed("The photo was deleted before it was classified.", "deleted")
    backbone = registry.load(backbone_name)
    probs = backbone.probabilities([_load_pixels(qp.photo)])[0]
    return {"backbone": backbone_name, "backbone_version": backbone.spec.version,
            "top5": [{"class_id": c.class_id, "name": c.name, "probability": round(c.probability, 5)}
                     for c in top_k_classes(probs, 5)]}


# ----- job entry points: (job, progress) -> (result, message), run by workers.search -----
def gallery_embed(job, progress) -> tuple[dict, str]:
    """Job ``search.embed``: :func:`embeddings_compute` for ``params.dataset_id`` with ``params.backbone``."""
    r = embeddings_compute(dataset_id=job.params["dataset_id"], backbone_name=job.params["backbone"], progress=progress,
                      should_stop=cancel_checker(job.pk))
    bad = len(r["unreadable"])
    n = r["embedded"]
    ds = Dataset.objects.filter(pk=r["dataset_id"]).first()
    mv = search_index_active(dataset=ds) if ds else None
    if mv is not None and "watermark" in mv.params and mv.params.get("backbone") == r["backbone"]:
        rebuild_when_grown(dataset=ds, added=ImageEmbedding.objects.filter(
            dataset=ds, backbone=r["backbone"], id__gt=mv.params["watermark"]).count())
    return r, f"Embedded {n} photo{'s' * (n != 1)}" + (f"; {bad} unreadable, skipped" if bad else "")


def search_index_build(job, progress) -> tuple[dict, str]:
    """Job ``search.build_index``: :func:`index_build` with the job's parameters."""
    r = index_build(params=job.params, progress=progress, job=job, should_stop=cancel_checker(job.pk))
    return r, f"Index v{r['version']} ({r['kind']}) over {r['n_vectors']} photos"


def search_answer(job, progress) -> tuple[dict, str]:
    """Job ``search.query``: :func:`search_run_process` for ``params.search_run_id``."""
    r = search_run_process(run_id=job.params["search_run_id"])
    return r, f"{len(r['hits'])} similar photos"


def photo_classify(job, progress) -> tuple[dict, str]:
    """Job ``search.classify``: ImageNet top-5 of ``params.query_photo_id`` (:func:`classify_process`)."""
    r = classify_process(query_photo_id=job.params["query_photo_id"], backbone_name=job.params["backbone"])
    top = r["top5"][0]
    return r, f"{top['name']} ({top['probability'] * 100:.0f} %)"
