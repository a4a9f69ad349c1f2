"""What the commands that run a trained model over a folder (``predict_folder``,
``ocr_read``) share: the version asked for, the folder's files, the CSV out."""

from __future__ import annotations

import csv
import sys
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import CommandError

from webapp.registry.models import ModelVersion


def model_version_for(pk: int, kind: str, what: str) -> ModelVersion:
    """The ``kind`` version ``pk``. Raises ``CommandError`` "No <what> with id <pk>." when there is none."""
    mv = ModelVersion.objects.filter(pk=pk, kind=kind).first()
    if mv is None:
        raise CommandError(f"No {what} with id {pk}.")
    return mv


def folder_files(folder: str) -> tuple[Path, list[Path]]:
    """``(root, files)``: every file below ``folder``, sorted, hidden ones (``.DS_Store``) left out.

    Raises:
        CommandError: ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise CommandError(f"{folder} is not a folder.")
    return root, sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


@contextmanager
def csv_out(out: str):
    """A ``csv.writer`` on the file ``out`` (UTF-8), or on standard output for ``"-"``."""
    fh = sys.stdout if out == "-" else open(out, "w", newline="", encoding="utf-8")
    try:
        yield csv.writer(fh)
    finally:
        if fh is not sys.stdout:
            fh.close()
