"""Writes for datasets: add photos (one by one, or a whole zip / folder,
deduplicated by content), label maps, and the seeded stratified split."""

from __future__ import annotations

import hashlib
import shutil
import uuid
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from vision.errors import InvalidImageError
from vision.images import image_to_jpeg_bytes, load_image, thumbnail
from webapp.core.uploads import original_name, stored_file, upload_stage_zip
from webapp.datasets.archives import (  # noqa: F401  (archive_path_*: also imported from here by annotation)
    NOT_A_PHOTO_BESIDE,
    NOT_IN_A_CLASS,
    archive_class_root,
    archive_classes,
    archive_path_ignored,
    archive_path_parts,
    entries_from_folder,
    entries_from_zip,
    named_like_photo,
)
from webapp.datasets.labels_csv import LABELS_CSV, labels_csv_find, labels_csv_read
from webapp.datasets.models import Dataset, DatasetClass, DatasetImage
from webapp.datasets.selectors import dataset_class_counts
from webapp.jobs.errors import JobCancelled

THUMB_SIDE = 256


@dataclass
class AddReport:
    """What happened to each file of an import, for the user."""

    added: int = 0
    duplicates: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # not imported at all (unsafe path, folder, …)
    notes: list[str] = field(default_factory=list)  # sentences about the whole import (labels.csv's coarse groups)

    def merge(self, other: "AddReport") -> None:
        """Add ``other``'s counts and lists to this report (an upload of several files)."""
        self.added += other.added
        self.duplicates += other.duplicates
        self.unreadable += other.unreadable
        self.skipped += other.skipped
        self.notes += other.notes

    def as_dict(self) -> dict:
        return {"added": self.added, "duplicates": self.duplicates,
                "unreadable": [{"file": n, "reason": r} for n, r in self.unreadable],
                "skipped": [{"file": n, "reason": r} for n, r in self.skipped], "notes": self.notes}


def dataset_class_get_or_create(*, dataset: Dataset, name: str) -> DatasetClass:
    """The label-map entry called ``name`` (stripped), created with the next id."""
    name = name.strip()
    if not name:
        raise ValueError("A class name cannot be empty.")
    existing = dataset.classes.filter(name=name).first()
    if existing:
        return existing
    last = dataset.classes.order_by("-class_id").values_list("class_id", flat=True).first() or 0
    return DatasetClass.objects.create(dataset=dataset, class_id=last + 1, name=name)


def dataset_image_add(*, dataset: Dataset, name: str, data: bytes, label: DatasetClass | None = None,
                      text: str = "", report: AddReport | None = None) -> DatasetImage | None:
    """Store one photo (with its class, or for a text-lines dataset its ``text``).
    Unreadable bytes are kept as an ``unreadable`` row with the reason (so the
    page can list them); the same content twice in one dataset is stored
    once. Returns the row, or None for a duplicate."""
    report = report or AddReport()
    digest = hashlib.sha256(data).hexdigest()
    stored = DatasetImage.objects.filter(dataset=dataset, sha256=digest).only("status", "error").first()
    if stored is not None:
        if stored.status == DatasetImage.Status.UNREADABLE:  # sent again: still not usable, say why again
            report.unreadable.append((name, stored.error))
        else:
            report.duplicates.append(name)
        return None
    row = DatasetImage(dataset=dataset, original_name=original_name(name), sha256=digest, label=label, text=text[:500])
    try:
        loaded = load_image(data, max_pixels=settings.MAX_IMAGE_PIXELS)
    except InvalidImageError as err:
        row.status, row.error = DatasetImage.Status.UNREADABLE, err.message
        row.save()
        report.unreadable.append((name, err.message))
        return row
    stem = uuid.uuid4().hex
    row.file = stored_file(loaded, data)  # re-encoded from the pixels (webapp.core.uploads)
    row.thumbnail = ContentFile(image_to_jpeg_bytes(thumbnail(loaded.pixels, THUMB_SIDE), quality=85), name=f"{stem}.jpg")
    row.width, row.height, row.format = loaded.width, loaded.height, loaded.format
    row.save()
    report.added += 1
    return row


def dataset_import(*, dataset: Dataset, source: Path, labels_from_folders: bool | None = None,
                   progress: Callable[[float, str], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> AddReport:
    """Import a zip file or a folder into ``dataset``.

    For a classification dataset each top-level folder is a class (wrapping
    folders are looked through, even with a note such as ``SOURCE.md`` beside
    the classes: :func:`archive_class_root`); files deeper inside a class
    folder belong to it; files that are not photos beside the class folders
    are skipped and reported. An upload with a ``labels.csv``
    (``filename,class[,coarse_group]``, ``webapp.datasets.labels_csv``) takes
    each photo's class, and each class's coarse group, from it instead: its
    unusable rows, the photos it does not name and the rows naming missing
    files are reported, and what it says of coarse groups goes in ``notes``.
    A text-lines dataset takes each photo's text from its ``labels.csv``
    (``filename,text``), else from its file name without the extension. Entries that could escape the folder, hidden
    files, ``__MACOSX`` and files over the upload size limit are skipped and
    reported; unreadable images are kept as ``unreadable`` rows.

    Args:
        should_stop: asked before each file (``cancel_checker``); when it
            answers True the import stops there.

    Raises:
        ValueError: ``source`` is neither a zip file nor a folder, holds no
            files at all once hidden ones are set aside, or has a labels.csv
            that cannot be read or more than one (sentence for the user).
        JobCancelled: ``should_stop`` said so; the photos added before (each
            in its own transaction) are kept, and the result is the report
            so far (``AddReport.as_dict()`` plus ``cancelled: True``).
    """
    if labels_from_folders is None:
        labels_from_folders = dataset.kind == Dataset.Kind.CLASSIFICATION
    source = Path(source)
    if source.is_dir():
        return _import_entries(dataset, entries_from_folder(source), labels_from_folders, progress, should_stop,
                               "The folder")
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:  # open while the photos are read
            return _import_entries(dataset, entries_from_zip(zf), labels_from_folders, progress, should_stop,
                                   "The zip file")
    raise ValueError("This is not a zip file or a folder.")


def _import_entries(dataset, entries, labels_from_folders, progress, should_stop, what: str) -> AddReport:
    report = AddReport()
    wanted = []
    for name, parts, read, size in entries:
        if parts is None:
            report.skipped.append((name, "The path points outside the archive's folder; skipped for safety."))
        elif not parts or archive_path_ignored(parts):
            continue  # hidden files and macOS resource forks: silently ignored
        elif size > settings.MAX_UPLOAD_BYTES:
            report.skipped.append((name, f"Larger than the {settings.MAX_UPLOAD_BYTES / 1e6:.0f} MB limit."))
        else:
            wanted.append((name, parts, read))
    if not wanted and not report.skipped:
        raise ValueError(f"{what} holds no files (hidden ones aside), so there was nothing to import.")
    if dataset.kind == Dataset.Kind.TEXT_LINES:
        inside, texts = _text_entries(wanted, report)
        _add_all(dataset, inside, False, report, progress, should_stop, texts)
        return report
    csv_parts = labels_csv_find(p for _, p, _ in wanted) if labels_from_folders else None
    if csv_parts is not None:
        inside, table = _entries_by_csv(wanted, csv_parts, report)
        try:
            _add_all(dataset, inside, labels_from_folders, report, progress, should_stop)
        finally:  # the classes the import made or met (a cancelled one's too) get their coarse group
            for group, coarse in table.coarse.items():
                DatasetClass.objects.filter(dataset=dataset, name=group).update(coarse_group=coarse)
        return report
    # look through the folders that wrap the classes ("flowers/daisy/1.jpg", "categories/SOURCE.md")
    root = archive_class_root(p for _, p, _ in wanted) if labels_from_folders else ()
    inside = []
    for n, p, r in wanted:
        if p[:len(root)] == root:
            inside.append((n, p[len(root):], r))
        else:  # a note beside the wrapping folder: never a photo (a photo there keeps the folder a class)
            report.skipped.append((n, NOT_A_PHOTO_BESIDE))
    _add_all(dataset, inside, labels_from_folders, report, progress, should_stop)
    return report


def _text_entries(wanted, report: AddReport) -> tuple[list, dict[str, str]]:
    """A text-lines upload's photos and the text of each (``{name: text}``): from its
    ``labels.csv`` (``filename,text``) when it has one, else each file's name without its
    extension (as the seed names its cards: ``4111111111111111.jpg``). Files that are not
    photos are skipped and reported.

    Raises:
        ValueError: several labels.csv files, or one that cannot be read (sentence).
    """
    csv_parts = labels_csv_find(p for _, p, _ in wanted)
    if csv_parts is not None:
        inside, _ = _entries_by_csv(wanted, csv_parts, report, "text")
        return inside, {n: p[0] for n, p, _ in inside}
    inside, texts = [], {}
    for n, p, r in wanted:
        if not named_like_photo(p[-1]):
            report.skipped.append((n, "Not a photo (by its name); a text-lines upload holds photos and, optionally, "
                                      f"a {LABELS_CSV} reading filename,text."))
            continue
        inside.append((n, p, r))
        texts[n] = PurePosixPath(p[-1]).stem.strip()
    return inside, texts


def _entries_by_csv(wanted, csv_parts: tuple[str, ...], report: AddReport, what: str = "group"):
    """The photos of an upload with a ``labels.csv`` (``webapp.datasets.labels_csv``) laid
    out as class folders (``(group, file name)``), so they import as a folder upload does.
    Photos the CSV does not name, and rows naming files not in the upload, are reported in
    ``report.skipped``; the CSV's unusable rows and notes go in the report too.

    Returns:
        ``([(name, (group, file name), read)], LabelsCsv)``.

    Raises:
        ValueError: the CSV cannot be read at all (``labels_csv_read``); nothing is imported.
    """
    read = next(r for _, p, r in wanted if p == csv_parts)
    table = labels_csv_read(read())
    report.skipped += table.problems
    report.notes += table.notes
    root = csv_parts[:-1]
    photos = [(n, p, r) for n, p, r in wanted if p != csv_parts]
    basenames = Counter(p[-1] for _, p, _ in photos if p[:len(root)] == root)
    inside, named = [], set()
    for n, p, r in photos:
        key = table.match("/".join(p[len(root):]), basenames) if p[:len(root)] == root else None
        if key is None:
            report.skipped.append((n, f"Not named in {LABELS_CSV}, so it has no {what}." if named_like_photo(p[-1])
                                   else NOT_A_PHOTO_BESIDE))
            continue
        named.add(key)
        inside.append((n, (table.groups[key], p[-1]), r))
    for key in table.groups:  # line order
        if key not in named:
            report.skipped.append((f"{LABELS_CSV}, line {table.lines[key]}", f"Names “{key}”, which is not in the "
                                                                              "upload: no photo of that name."))
    return inside, table


def _add_all(dataset, wanted, labels_from_folders, report, progress, should_stop=None, texts=None):
    classes: dict[str, DatasetClass] = {}
    created: set[int] = set()
    try:
        _add_each(dataset, wanted, labels_from_folders, report, progress, should_stop, classes, created, texts or {})
    finally:  # a folder whose photos were all duplicates or unreadable leaves no empty class behind
        DatasetClass.objects.filter(pk__in=created, images__isnull=True).delete()


def _add_each(dataset, wanted, labels_from_folders, report, progress, should_stop, classes, created, texts):
    for i, (name, parts, read) in enumerate(wanted):
        if should_stop is not None and should_stop():
            added = f"{report.added} photo{'s' * (report.added != 1)}"
            raise JobCancelled(f"Cancelled after {i} of {len(wanted)} files; what was added ({added}) is kept.",
                               result={**report.as_dict(), "cancelled": True})
        label = None
        if labels_from_folders:
            if len(parts) < 2:
                report.skipped.append((name, NOT_IN_A_CLASS if named_like_photo(parts[-1]) else NOT_A_PHOTO_BESIDE))
                continue
            key = parts[0].strip()
            if key not in classes:
                existed = dataset.classes.filter(name=key).exists()
                classes[key] = dataset_class_get_or_create(dataset=dataset, name=key)
                if not existed:
                    created.add(classes[key].pk)
            label = classes[key]
        with transaction.atomic():
            dataset_image_add(dataset=dataset, name=name, data=read(), label=label, text=texts.get(name, ""),
                              report=report)
        if progress:
            progress((i + 1) / len(wanted), f"Imported {i + 1} of {len(wanted)} files")


def dataset_split_assign(*, dataset: Dataset) -> dict:
    """Assign every readable photo to train or validation: stratified by
    label when the dataset is labelled, reproducible from ``split_seed``
    (scikit-learn ``train_test_split``). Returns counts per split."""
    from sklearn.model_selection import train_test_split

    rows = list(dataset.images.filter(status=DatasetImage.Status.OK).order_by("id").values_list("id", "label_id"))
    if len(rows) < 2:
        raise ValueError("A split needs at least two readable photos.")
    ids = [r[0] for r in rows]
    labels = [r[1] for r in rows]
    stratify = labels if all(labels) and min(labels.count(x) for x in set(labels)) >= 2 else None
    train, val = train_test_split(ids, test_size=dataset.validation_fraction, random_state=dataset.split_seed,
                                  stratify=stratify)
    with transaction.atomic():
        DatasetImage.objects.filter(pk__in=train).update(split=DatasetImage.Split.TRAIN)
        DatasetImage.objects.filter(pk__in=val).update(split=DatasetImage.Split.VALIDATION)
    return {"train": len(train), "val": len(val), "stratified": stratify is not None}




def _staged_name(f, i: int, taken: set[str]) -> str:
    """The client's file name (last component) for a staged photo, so the
    dataset keeps the name an annotation file refers to; a name already
    taken in this upload goes in a numbered subfolder (never a path outside)."""
    from webapp.core.uploads import display_name

    name = display_name(f).lstrip(".") or f"photo-{i}"  # a dot file would be skipped as hidden
    rel = name if name not in taken else f"{i:05d}/{name}"
    taken.add(name)
    return rel


def dataset_upload(*, dataset: Dataset, photos: list, archive=None, archives: list | None = None,
                   class_name: str = "", user=None):
    """Save an upload (photos and/or zip files) to a private staging folder
    and start an import job (decoding hundreds of photos does not belong in
    a web request). Single photos keep their file name; a classification
    dataset's photos go in the folder of ``class_name``.

    Args:
        archive: one zip file (the datasets page's field); ``archives``: more.

    Returns:
        The Job (kind ``datasets.import``, ``params.dataset_id``; ``params.notes``: sentences
        to show before the import runs, e.g. that the dataset would hold one class only).

    Raises:
        ValueError: a sentence for the user: nothing uploaded, no class name
            for a classification upload of single photos, a file over the
            size limit (``MAX_UPLOAD_BYTES`` a photo, ``MAX_ZIP_BYTES`` a
            zip), a "zip" that is not one, a classification zip with no class
            folder (``archive_classes``). Nothing is kept then.
        QueueUnavailable: the broker is down.
    """
    from webapp.core.uploads import display_name
    from webapp.datasets.jobs import IMPORT
    from webapp.jobs.services import job_create

    archives = ([archive] if archive else []) + list(archives or [])
    photos = list(photos or [])
    if not archives and not photos:
        raise ValueError("Choose some photos or a zip file.")
    if dataset.kind == Dataset.Kind.CLASSIFICATION and photos and not class_name.strip():
        raise ValueError("Name the class of these photos (or upload a zip with one folder per class).")
    for f, limit, what in ([(a, settings.MAX_ZIP_BYTES, " for a zip file (split it in parts)") for a in archives]
                           + [(p, settings.MAX_UPLOAD_BYTES, "") for p in photos]):
        if f.size > limit:
            raise ValueError(f"“{display_name(f)}” is {f.size / 2**20:.1f} MB; the limit is {limit / 2**20:g} MB{what}.")
    staging = Path(settings.MEDIA_ROOT) / "staging" / uuid.uuid4().hex
    staging.mkdir(parents=True)
    try:
        paths = []
        for i, f in enumerate(archives):
            dest = staging / f"upload-{i}.zip"
            _save(f, dest)
            if not zipfile.is_zipfile(dest):
                raise ValueError(f"“{display_name(f)}” is not a zip file (or it is damaged).")
            paths.append(str(dest))
        notes = _class_notes(dataset, staging, archives, class_name.strip() if photos else "")
        if photos:  # in one zip: the client's names stay inside it, never on disk (issue 13)
            folder = ""
            if dataset.kind == Dataset.Kind.CLASSIFICATION:
                folder = (class_name.strip().replace("/", "_").replace("\\", "_").lstrip(".") or "photos") + "/"
            taken: set[str] = set()
            staged = [(folder + _staged_name(f, i, taken), f) for i, f in enumerate(photos)]
            paths.append(str(upload_stage_zip(staging / "photos.zip", staged)))
        job, _ = job_create(IMPORT, user=user,
                            params={"dataset_id": dataset.pk, "paths": paths, "staging": str(staging),
                                    "labels_from_folders": dataset.kind == Dataset.Kind.CLASSIFICATION,
                                    **({"notes": notes} if notes else {})})
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return job


def _class_notes(dataset: Dataset, staging: Path, archives: list, class_name: str) -> list[str]:
    """For a classification upload, read the zips' layouts before importing
    (:func:`archive_classes`): refuse a zip with no class folder, and note
    when the dataset would still hold one class only.

    Raises:
        ValueError: a zip of a classification dataset has no class folder (sentence for the user).
    """
    from webapp.core.uploads import display_name

    if dataset.kind != Dataset.Kind.CLASSIFICATION:
        return []
    new: dict[str, int] = {}
    for i, f in enumerate(archives):
        with zipfile.ZipFile(staging / f"upload-{i}.zip") as zf:
            found = _zip_groups(zf)
        if not found:
            raise ValueError(f"“{display_name(f)}” has no class folders and no {LABELS_CSV}, so no photo would get a "
                             "class: put each class's photos in a folder named after it (daisy/1.jpg, rose/2.jpg) "
                             f"and zip those folders together, or add a {LABELS_CSV} reading filename,class.")
        for k, n in found.items():
            new[k] = new.get(k, 0) + n
    if class_name:
        new[class_name] = new.get(class_name, 0)
    held = {r["name"] for r in dataset_class_counts(dataset=dataset) if r["count"]}
    if len(held | set(new)) != 1:
        return []
    (only,) = held | set(new)
    files = f" ({new[only]} file{'s' * (new[only] != 1)})" if new.get(only) else ""
    return [f"This upload holds one class, “{only}”{files}, and the dataset has no other: a classifier needs "
            "at least two. The import goes on; add the other classes (a zip with one folder per class, or "
            "photos with a class name) before training."]


def _zip_groups(zf: zipfile.ZipFile) -> dict[str, int]:
    """``{class: files}`` a classification import of this zip would make: from its
    ``labels.csv`` when it has one (as the import reads it), else from its folders.

    Raises:
        ValueError: several labels.csv files, or one that cannot be read (sentence).
    """
    names = {p: n for n in zf.namelist()
             if not n.endswith("/") and (p := archive_path_parts(n)) and not archive_path_ignored(p)}
    csv_parts = labels_csv_find(names)
    if csv_parts is None:
        return archive_classes(zf.namelist())
    return labels_csv_read(zf.read(names[csv_parts])).group_counts()


def _save(f, dest: Path) -> None:
    with open(dest, "wb") as out:
        for chunk in f.chunks():
            out.write(chunk)


def dataset_image_delete(*, image: DatasetImage) -> None:
    image.delete()


def _inside(path: Path, roots: list[Path]) -> bool:
    path = path.resolve()
    return any(path != r and path.is_relative_to(r) for r in roots)


def dataset_delete(*, dataset: Dataset) -> dict:
    """Delete ``dataset`` with everything that goes with it: its photos
    (rows, files and thumbnails), classes, boxes and embeddings, its model
    versions (rows and their files under ``TRAINED_MODELS_DIR`` /
    ``SEARCH_INDEX_DIR``) and the jobs that worked on it (rows, training run
    folders, export zips). Files go once the transaction commits. The
    feature cache (``CACHE_DIR``, keyed by photo content) is left: it only
    costs recomputing.

    Returns:
        ``{"photos": n, "models": n, "jobs": n}`` deleted.

    Raises:
        ValueError: a job of this dataset is still queued or running (sentence naming it:
            cancel it or let it finish first). Nothing is deleted then.
    """
    from webapp.datasets.selectors import dataset_delete_summary
    from webapp.jobs.models import Job
    from webapp.registry.models import ModelVersion

    with transaction.atomic():
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()  # one delete at a time
        summary = dataset_delete_summary(dataset=dataset)
        if summary["active_jobs"]:
            ids = ", ".join(f"#{i}" for i in summary["active_jobs"])
            raise ValueError(f"Job {ids} of this dataset is still queued or running: cancel it or let it finish, "
                             "then delete the dataset.")
        models_dir, index_dir = Path(settings.TRAINED_MODELS_DIR).resolve(), Path(settings.SEARCH_INDEX_DIR).resolve()
        exports = (Path(settings.MEDIA_ROOT) / "exports").resolve()
        folders = [models_dir / "classifiers" / f"dataset-{dataset.pk}", index_dir / f"gallery-{dataset.pk}"]
        versions = ModelVersion.objects.filter(dataset=dataset)
        for mv in versions:
            for p in (mv.path, (mv.params or {}).get("ids_path")):
                if p and _inside(Path(p), [models_dir, index_dir]):
                    folders.append(Path(p))
        jobs = Job.objects.filter(params__dataset_id=dataset.pk)
        for job in jobs:
            folders.append(models_dir / "runs" / f"job-{job.pk}")
            file = (job.result or {}).get("file") if isinstance(job.result, dict) else None
            if isinstance(file, str) and _inside(Path(settings.MEDIA_ROOT) / file, [exports]):
                folders.append(Path(settings.MEDIA_ROOT) / file)
        versions.delete()
        jobs.delete()
        dataset.delete()  # photos (their files: signals), classes, boxes, embeddings cascade
        transaction.on_commit(lambda: _remove_paths(folders))
    return {k: summary[k] for k in ("photos", "models", "jobs")}


def _remove_paths(paths: list[Path]) -> None:
    for p in paths:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
