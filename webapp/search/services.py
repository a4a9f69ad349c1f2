"""Writes for search by image (web side): galleries and their photos, and
starting the jobs that embed, index, search and classify. The ML work runs
in workers (``processing.py``); nothing here imports TensorFlow or FAISS."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from vision.backbones import SPECS
from vision.search import INDEX_KINDS, IndexSpec
from webapp.core.uploads import display_name, image_upload_check, stored_file
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import AddReport, dataset_image_add, dataset_upload
from webapp.jobs.models import Job
from webapp.jobs.services import job_create
from webapp.search.jobs import BUILD_INDEX, CLASSIFY, EMBED, QUERY
from webapp.search.models import QueryPhoto, SearchRun
from webapp.search.backbones import backbone_spec
from webapp.search.selectors import search_backbone

MAX_K = 100


def _backbone_check(backbone: str) -> str:
    """``backbone`` if it is an ImageNet backbone or a learned embedding (``webapp.search.backbones``)."""
    if backbone_spec(backbone) is None:
        raise ValidationError(f"Unknown backbone “{backbone}”; choose one of {', '.join(SPECS)} or a learned "
                              "embedding.", code="invalid")
    return backbone


def gallery_create(*, name: str, user=None, description: str = "") -> Dataset:
    """A new, empty gallery (a Dataset of kind ``gallery``)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError("Give the gallery a name.", code="required")
    ds = Dataset.objects.create(name=name[:200], kind=Dataset.Kind.GALLERY, description=description,
                                created_by=user if getattr(user, "is_authenticated", False) else None)
    return ds


def gallery_upload(*, dataset: Dataset, files: list, user=None) -> Job:
    """Upload photos and/or zip files to a gallery through the one upload
    service (``datasets.services.dataset_upload``): they are staged and a
    ``datasets.import`` job imports them (paths escaping the folder, hidden
    files and oversize entries skipped and reported; folders inside a zip
    are just looked through). When it has added photos, that job starts the
    embedding job (``gallery_embed_start``), as an upload always did.

    Returns:
        The import Job.

    Raises:
        ValidationError: no file, a file over the size limit, a zip that is not one.
        QueueUnavailable: the broker is down (nothing is kept).
    """
    if not files:
        raise ValidationError("Choose at least one photo or a zip file.", code="required")
    archives = [f for f in files if _is_zip(f)]
    photos = [f for f in files if not any(f is a for a in archives)]
    try:
        return dataset_upload(dataset=dataset, photos=photos, archives=archives, user=user)
    except ValueError as err:
        raise ValidationError(str(err), code="invalid") from err


def gallery_photos_add(*, dataset: Dataset, files: list, user=None, backbone: str | None = None) -> tuple[AddReport, Job | None]:
    """Add photos to a gallery in this process, then start the embedding job
    for the new photos (scripts and tests; pages use ``gallery_upload``).

    Each photo is checked by content and size; an unreadable one is kept as
    an ``unreadable`` row with the reason; the same content twice is stored once.

    Returns:
        ``(report, job)``; ``job`` is None when nothing new was added.

    Raises:
        ValidationError: no file at all, or a zip (use ``gallery_upload``).
        QueueUnavailable: the broker is down (the photos stay stored).
    """
    if not files:
        raise ValidationError("Choose at least one photo or a zip file.", code="required")
    if any(_is_zip(f) for f in files):
        raise ValidationError("Zip files are imported by a job: upload them with gallery_upload.", code="invalid")
    report = AddReport()
    for f in files:
        name = display_name(f)
        size = getattr(f, "size", None)
        if size is not None and size > settings.MAX_UPLOAD_BYTES:
            report.skipped.append((name, f"{size / 1e6:.1f} MB; the limit is {settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB."))
            continue
        f.seek(0)
        data = f.read(settings.MAX_UPLOAD_BYTES + 1)
        if len(data) > settings.MAX_UPLOAD_BYTES:
            report.skipped.append((name, f"Larger than the {settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB limit."))
            continue
        with transaction.atomic():
            dataset_image_add(dataset=dataset, name=name, data=data, report=report)
    job = gallery_embed_start(dataset=dataset, user=user, backbone=backbone) if report.added else None
    return report, job


def _is_zip(f) -> bool:
    """A zip by its first bytes (``PK\\x03\\x04``) or by its name."""
    f.seek(0)
    head = f.read(4)
    f.seek(0)
    return head == b"PK\x03\x04" or display_name(f).lower().endswith(".zip")


def gallery_photo_delete(*, image: DatasetImage) -> None:
    """Delete a gallery photo, its files and its embeddings. It leaves search
    results at once: searches only return photos whose embedding row still
    exists, and pages drop hits whose photo is gone."""
    image.delete()


def gallery_embed_start(*, dataset: Dataset, user=None, backbone: str | None = None) -> Job:
    """Start (or return the running) job that embeds the gallery's photos
    that have no embedding yet under ``backbone``."""
    backbone = _backbone_check(backbone or search_backbone(dataset=dataset))  # the gallery's: its index's
    job, _ = job_create(EMBED, user=user, key=f"{EMBED.key('dataset', dataset.pk)}:{backbone}",
                        params={"dataset_id": dataset.pk, "backbone": backbone})
    return job


def search_index_build_start(*, dataset: Dataset, kind: str = "hnsw", nlist: int = 0, nprobe: int = 8,
                             clusters: int = 8, user=None, backbone: str | None = None,
                             embed_missing: bool = False) -> Job:
    """Start the job that builds a new index version (and the k-means groups
    for browsing) over the gallery's embeddings under ``backbone``; with
    ``embed_missing`` the job first embeds the photos that have none under it
    (choosing another backbone on the gallery page)."""
    backbone = _backbone_check(backbone or search_backbone(dataset=dataset))  # the gallery's: its index's
    if kind not in INDEX_KINDS:
        raise ValidationError(f"Unknown index kind “{kind}”.", code="invalid")
    try:
        IndexSpec(kind=kind, nlist=int(nlist), nprobe=int(nprobe))
    except (ValueError, TypeError) as err:
        raise ValidationError(str(err), code="invalid") from err
    if not 1 <= int(clusters) <= 100:
        raise ValidationError("Clusters must be between 1 and 100.", code="invalid")
    job, _ = job_create(BUILD_INDEX, user=user, key=BUILD_INDEX.key("dataset", dataset.pk),
                        params={"dataset_id": dataset.pk, "backbone": backbone, "kind": kind, "nlist": int(nlist),
                                "nprobe": int(nprobe), "clusters": int(clusters), "embed_missing": bool(embed_missing)})
    return job


def _query_photo_store(*, upload, purpose: str, user) -> QueryPhoto:
    loaded, data = image_upload_check(upload)
    return QueryPhoto.objects.create(purpose=purpose, photo=stored_file(loaded, data), width=loaded.width,
                                     height=loaded.height,
                                     created_by=user if getattr(user, "is_authenticated", False) else None)


def image_search(*, dataset: Dataset, upload=None, image: DatasetImage | None = None, k: int = 12,
                 min_score: float | None = None, user=None) -> SearchRun:
    """Search a gallery with an uploaded photo or one of its own photos; the
    job answers with the top-k hits.

    Raises:
        ValidationError: neither or both queries, a bad upload, bad k or cut-off.
        QueueUnavailable: the broker is down.
    """
    if (upload is None) == (image is None):
        raise ValidationError("Upload a photo or pick one from the gallery.", code="required")
    if not 1 <= int(k) <= MAX_K:
        raise ValidationError(f"k must be between 1 and {MAX_K}.", code="invalid")
    if min_score is not None and not -1.0 <= float(min_score) <= 1.0:
        raise ValidationError("The similarity cut-off must be between -1 and 1.", code="invalid")
    if image is not None and (image.dataset_id != dataset.pk or image.status != DatasetImage.Status.OK):
        raise ValidationError("That photo is not a readable photo of this gallery.", code="invalid")
    with transaction.atomic():
        qp = _query_photo_store(upload=upload, purpose=QueryPhoto.Purpose.SEARCH, user=user) if upload else None
        run = SearchRun.objects.create(dataset=dataset, query_photo=qp, query_image=image, k=int(k),
                                       min_score=min_score, created_by=qp.created_by if qp else (
                                           user if getattr(user, "is_authenticated", False) else None))
        run.job, _ = job_create(QUERY, user=user,
                                params={"search_run_id": run.pk, "dataset_id": dataset.pk})
        run.save(update_fields=["job"])
    return run


def imagenet_classify(*, upload, user=None, backbone: str = "efficientnet_lite0") -> QueryPhoto:
    """Store a photo and start the job that names what is in it (top-5
    ImageNet classes; seed section 4).

    Raises:
        ValidationError: a bad upload or unknown backbone.
        QueueUnavailable: the broker is down.
    """
    _backbone_check(backbone)
    with transaction.atomic():
        qp = _query_photo_store(upload=upload, purpose=QueryPhoto.Purpose.CLASSIFY, user=user)
        qp.job, _ = job_create(CLASSIFY, user=user,
                               params={"query_photo_id": qp.pk, "backbone": backbone})
        qp.save(update_fields=["job"])
    return qp
