"""Who may download which uploaded file. Each app registers a rule for the
folder its files live in (from its ``AppConfig.ready``); staff may open
everything; a file in a folder no app claims is staff-only."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Callable

_RULES: list[tuple[str, Callable]] = []


def media_rule_register(prefix: str, check: Callable) -> None:
    """``check(user, path) -> bool`` decides for paths under ``prefix`` (e.g. ``"detect/"``)."""
    _RULES.append((prefix, check))
    _RULES.sort(key=lambda r: -len(r[0]))  # the most specific folder decides


def media_allowed(user, path: str) -> bool:
    if user.is_staff:
        return True
    for prefix, check in _RULES:
        if path.startswith(prefix):
            return bool(check(user, path))
    return False


def staff_only(user, path: str) -> bool:
    return False


#: Extensions that name the same format (a ".jpeg" original stored as ".jpg" keeps its name).
_SAME_EXTENSION = {"jpeg": "jpg", "jpe": "jpg", "tiff": "tif"}


def download_name(original: str, stored: str) -> str:
    """The name a downloaded file carries: the original name's last component,
    with the stored file's extension where the format changed (a GIF is stored
    as PNG: "party.gif" downloads as "party.png"), cut as
    ``uploads.original_name`` cuts. ``stored`` is the file's name in storage."""
    from webapp.core.uploads import original_name

    base = original.replace("\\", "/").rsplit("/", 1)[-1]
    ext = PurePosixPath(stored).suffix.lower()
    stem, dot, own = base.rpartition(".")
    if not dot or not stem:
        stem, own = base, ""
    if ext and "." + _SAME_EXTENSION.get(own.lower(), own.lower()) != ext:
        base = f"{stem}{ext}"
    return original_name(base) or PurePosixPath(stored).name


def media_download_name(path: str) -> str:
    """The download name of a stored file: the ``original_name`` of the row
    whose file field holds ``path`` (any installed model with an
    ``original_name`` field: dataset photos, enrolment photos), through
    :func:`download_name`; the stored name itself when no row names it."""
    from django.apps import apps
    from django.db import models

    stored = PurePosixPath(path).name
    for model in apps.get_models():
        if not any(f.name == "original_name" for f in model._meta.fields):
            continue
        for field in model._meta.fields:
            if isinstance(field, models.FileField):
                name = model.objects.filter(**{field.name: path}).values_list("original_name", flat=True).first()
                if name:
                    return download_name(name, stored)
    return stored
