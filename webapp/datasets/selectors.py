"""Reads for datasets."""

from __future__ import annotations

from django.db.models import Count, Q

from webapp.datasets.models import Dataset, DatasetImage

FEW_PHOTOS = 10  # a class with fewer photos than this gets a warning


def sharing_q(user, prefix: str = "") -> Q:
    """Rows whose dataset (reached through ``prefix``, e.g. ``"dataset__"``)
    ``user`` created or is a member of."""
    return Q(**{f"{prefix}created_by": user}) | Q(**{f"{prefix}members": user})


def datasets_visible(*, user):
    """Datasets ``user`` may open: staff see all, others their own and those shared with them."""
    return Dataset.objects.all() if user.is_staff else Dataset.objects.filter(sharing_q(user)).distinct()


def dataset_list(*, user, kind: str = ""):
    qs = datasets_visible(user=user).annotate(n_images=Count("images", filter=Q(images__status="ok")))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-created_at", "-id")


def dataset_class_counts(*, dataset: Dataset) -> list[dict]:
    """``[{id, class_id, name, coarse_group, count, few}]`` for readable photos, in label-map order."""
    counts = dict(dataset.images.filter(status=DatasetImage.Status.OK).values("label").annotate(n=Count("id"))
                  .values_list("label", "n"))
    return [{"id": c.pk, "class_id": c.class_id, "name": c.name, "coarse_group": c.coarse_group,
             "count": counts.get(c.pk, 0),
             "few": counts.get(c.pk, 0) < FEW_PHOTOS} for c in dataset.classes.all()]


def dataset_unreadable(*, dataset: Dataset):
    return dataset.images.filter(status=DatasetImage.Status.UNREADABLE)


def dataset_delete_summary(*, dataset: Dataset) -> dict:
    """What deleting ``dataset`` takes with it, for its confirm page.

    Returns:
        ``{"photos": n, "unreadable": n (of the photos), "models": n, "jobs": n, "active_jobs": [job ids queued, running, or cancelled
        and still stopping]}``:
        every photo row (unreadable ones too), every model version trained or built on it
        (classifiers, search indexes, ...) and every job that worked on it (``params.dataset_id``).
    """
    from webapp.jobs.models import Job
    from webapp.registry.models import ModelVersion

    jobs = Job.objects.filter(params__dataset_id=dataset.pk)
    busy = Q(state__in=Job.ACTIVE_STATES) | Q(state=Job.State.CANCELLED, finished_at__isnull=True)  # still stopping
    photos = dataset.images.aggregate(n=Count("id"), unreadable=Count("id", filter=~Q(status=DatasetImage.Status.OK)))
    return {"photos": photos["n"], "unreadable": photos["unreadable"],
            "models": ModelVersion.objects.filter(dataset=dataset).count(),
            "jobs": jobs.count(), "active_jobs": list(jobs.filter(busy).order_by("id").values_list("id", flat=True))}
