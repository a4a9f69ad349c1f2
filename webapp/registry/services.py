"""Registering and activating model versions."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from webapp.registry.models import ModelVersion


def model_version_next(*, kind: str, dataset=None) -> int:
    """The next free version number for (kind, dataset), from 1."""
    top = ModelVersion.objects.filter(kind=kind, dataset=dataset).aggregate(v=Max("version"))["v"]
    return (top or 0) + 1


def model_version_register(*, kind: str, name: str, path: str, dataset=None, params=None, metrics=None,
                           classes=None, job=None, activate: bool = False) -> ModelVersion:
    """Record a new version (numbered after the last one) and optionally make it active."""
    with transaction.atomic():
        mv = ModelVersion.objects.create(
            kind=kind, name=name, dataset=dataset, version=model_version_next(kind=kind, dataset=dataset),
            path=path, params=params or {}, metrics=metrics or {}, classes=classes or [], job=job)
        if activate:
            model_version_activate(model_version=mv)
    return mv


def model_version_activate(*, model_version: ModelVersion) -> None:
    """Make one version the active one for its (kind, dataset)."""
    with transaction.atomic():
        ModelVersion.objects.filter(kind=model_version.kind, dataset=model_version.dataset).update(active=False)
        ModelVersion.objects.filter(pk=model_version.pk).update(active=True)
    model_version.active = True


def model_version_active(*, kind: str, dataset=None) -> ModelVersion | None:
    return ModelVersion.objects.filter(kind=kind, dataset=dataset, active=True).first()
