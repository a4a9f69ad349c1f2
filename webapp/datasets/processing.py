"""Worker-side work for dataset jobs: import an upload (zip files and/or a
staged folder of photos) into a dataset; for a search gallery, then start
embedding the new photos."""

from __future__ import annotations

import shutil
from pathlib import Path

from webapp.datasets.models import Dataset
from webapp.datasets.services import AddReport, dataset_import
from webapp.jobs.errors import JobCancelled, JobFailed, QueueUnavailable
from webapp.jobs.runner import job_row
from webapp.jobs.services import cancel_checker


def upload_import(job, progress) -> tuple[dict, str]:
    """Job ``datasets.import``: import each staged file of ``params.paths`` into
    ``params.dataset_id`` (``dataset_import``), then remove the staging folder.

    A cancel in the second file or later keeps what the earlier ones added and
    says so. Returns ``AddReport.as_dict()`` (plus ``embed_job_id`` for a gallery).

    Raises:
        JobFailed: the dataset was deleted (``deleted``); a file is not a usable zip (``invalid_archive``).
        JobCancelled: cancelled; the result says what was kept.
    """
    staging = Path(job.params["staging"])
    paths = job.params.get("paths") or [job.params["path"]]  # "path": jobs queued before several files
    report = AddReport()
    try:
        dataset = job_row(job, Dataset, "dataset_id", "The dataset was deleted before its photos were imported.")
        stop = cancel_checker(job.pk)
        for i, path in enumerate(paths):
            def part_progress(fraction, message, i=i):
                progress((i + fraction) / len(paths), message)

            try:
                part = dataset_import(dataset=dataset, source=Path(path),
                                      labels_from_folders=job.params.get("labels_from_folders"),
                                      progress=part_progress, should_stop=stop)
            except ValueError as err:
                raise JobFailed(str(err), "invalid_archive", result=report.as_dict()) from err
            except JobCancelled as err:
                if not i:
                    raise
                done = {k: (v + err.result[k]) for k, v in report.as_dict().items()}  # the earlier files' too
                raise JobCancelled(f"Cancelled in file {i + 1} of {len(paths)}; what was added "
                                   f"({done['added']} photo{'s' * (done['added'] != 1)}) is kept.",
                                   result={**done, "cancelled": True}) from None
            report.merge(part)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # the photos now live in the dataset
    r = report.as_dict()
    msg = f"{report.added} photo{'s' if report.added != 1 else ''} added"
    if report.duplicates:
        msg += f", {len(report.duplicates)} already there"
    if report.notes:
        msg += f", {len(report.notes)} note{'s' * (len(report.notes) != 1)} on labels.csv"
    if report.unreadable or report.skipped:
        msg += f", {len(report.unreadable) + len(report.skipped)} not usable (listed below with the reason for each)"
    if dataset.kind == Dataset.Kind.GALLERY and report.added:
        r["embed_job_id"], note = _gallery_embed(dataset, job.created_by, report.added)
        msg += f"; {note}"
    return r, msg


def _gallery_embed(dataset, user, added: int) -> tuple[int | None, str]:
    """A search gallery's new photos are embedded at once (as an upload to a
    gallery always did): start the embedding job, or say how to."""
    from webapp.search.services import gallery_embed_start  # search builds on datasets, not the reverse

    try:
        pk = gallery_embed_start(dataset=dataset, user=user).pk
        return pk, (f"{'its' if added == 1 else 'their'} embedding was started as job #{pk} "
                    "(the gallery's status shows when it is done)")
    except QueueUnavailable:
        return None, "the embedding could not be started: press “Compute missing embeddings”"
