"""Import of a detection dataset's boxes from annotation files: the one place
that turns what ``vision.detection_io``'s readers found into stored boxes.

Every valid row is stored; each refused row is reported with its line, field
and reason (and can be written back out as a CSV to fix and import again);
rows for photos the dataset does not hold are skipped with a warning; a box
already on its photo is not stored twice. "All or nothing" stores nothing
when any row is refused.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from django.db import transaction

from vision.detection_io import ParseResult, Problem
from vision.detection_io.coco import coco_json_read
from vision.detection_io.common import MATCHED_BY_BASE_NAME, PHOTO_NOT_IN_DATASET
from vision.detection_io.csv_format import annotations_csv_read, refused_rows_csv_text
from vision.detection_io.label_map import label_map_parse, label_name_problem
from vision.detection_io.names import PhotoIndex
from vision.detection_io.voc import voc_xml_read
from webapp.annotation.models import Box, ImageState
from webapp.annotation.selectors import DUPLICATE_IOU, IMPORT_DUPLICATE_IOU, StoredBoxes
from webapp.datasets.models import Dataset, DatasetClass, DatasetImage
from webapp.datasets.services import archive_path_ignored, archive_path_parts

MAX_ANNOTATION_FILE_BYTES = 50 * 1024 * 1024
#: Examples a grouped warning names ("… e.g. “a.jpg”, “b.jpg”, “c.jpg”").
N_EXAMPLES = 3


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@dataclass
class ImportReport:
    """Outcome of an import, for the page, the command line and the refused-rows CSV.

    Attributes:
        imported: True when the valid rows were stored; False when "all or
            nothing" was asked and a row or file was refused, or no file was given.
        all_or_nothing: the option the import ran with.
        boxes: boxes stored.
        photos: photos that received a box.
        already_there: boxes not stored because the same box (same photo and
            class, IoU ≥ ``IMPORT_DUPLICATE_IOU``) was already on the photo
            or earlier in the same import.
        near_repeats: boxes stored although they overlap a box of the same
            class already on the photo with IoU in [``DUPLICATE_IOU``,
            ``IMPORT_DUPLICATE_IOU``) (said in a notice).
        new_classes: label-map entries the import created.
        problems: everything the readers and the import found: refused rows
            and files (``fatal``), warnings and notices.
    """

    imported: bool = False
    all_or_nothing: bool = False
    boxes: int = 0
    photos: int = 0
    already_there: int = 0
    near_repeats: int = 0
    new_classes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        """Refused rows and files."""
        return [p for p in self.problems if p.fatal]

    @property
    def skipped(self) -> list[Problem]:
        """Rows for photos this dataset does not hold (not imported; a warning, not an error)."""
        return [p for p in self.problems if p.code == PHOTO_NOT_IN_DATASET]

    @property
    def notices(self) -> list[Problem]:
        """Non-fatal problems listed one by one (clipped boxes, crowd regions, zip paths...)."""
        return [p for p in self.problems if not p.fatal and p.code not in (PHOTO_NOT_IN_DATASET, MATCHED_BY_BASE_NAME)]

    @property
    def warnings(self) -> list[str]:
        """The grouped warnings as sentences: rows skipped for photos not in
        the dataset, names matched by their base name, near repeats."""
        out = []
        skipped = self.skipped
        if skipped:
            names = list(dict.fromkeys(p.row[0] for p in skipped if p.row))
            eg = ", ".join(f"“{n[:120]}”" for n in names[:N_EXAMPLES])
            out.append(f"{_plural(len(skipped), 'row', 'rows')} skipped: photo not in this dataset "
                       f"({_plural(len(names), 'photo', 'photos')}, e.g. {eg}).")
        folders = [p for p in self.problems if p.code == MATCHED_BY_BASE_NAME]
        if folders:
            eg = "; ".join(p.message.split(" (its folders")[0] for p in folders[:N_EXAMPLES])
            out.append(f"{_plural(len(folders), 'row names', 'rows name')} a photo with folders this dataset's "
                       f"photos do not have; matched by base name ({eg}).")
        if self.near_repeats:
            out.append(f"{_plural(self.near_repeats, 'imported box lies', 'imported boxes lie')} on a box of the "
                       f"same class already on the photo (IoU ≥ {DUPLICATE_IOU}); both were kept. To use the "
                       "file's boxes instead of the ones there, import it again with “Replace”.")
        return out

    @property
    def summary(self) -> str:
        """One sentence: what was stored, skipped and refused."""
        parts = []
        if self.imported and (self.boxes or self.already_there or not self.errors):
            parts.append(f"Imported {_plural(self.boxes, 'box', 'boxes')} on {_plural(self.photos, 'photo', 'photos')}")
        else:
            parts.append("Nothing was imported")
        if self.already_there:
            parts.append(f"{self.already_there} already there")
        if self.skipped:
            parts.append(f"{_plural(len(self.skipped), 'row', 'rows')} skipped: photo not in this dataset")
        if self.errors:
            refused = _plural(len(self.errors), "row or file", "rows or files") if self.file_errors else \
                _plural(len(self.errors), "row", "rows")
            parts.append(f"{refused} refused" + (" (all or nothing: fix them and import again)"
                                                 if self.all_or_nothing and not self.imported else ""))
        if self.new_classes:
            parts.append(f"new classes: {', '.join(self.new_classes)}")
        return "; ".join(parts) + "."

    @property
    def file_errors(self) -> list[Problem]:
        """Refused files or problems not about one box (bad header, JSON, label map)."""
        return [p for p in self.errors if not p.row]

    def refused_csv(self) -> str:
        """The refused rows as ``annotations.csv`` plus ``source,field,problem`` columns
        (``vision.detection_io.csv_format.refused_rows_csv_text``)."""
        return refused_rows_csv_text(self.errors)

    def as_dict(self) -> dict:
        """JSON for the page (the session) and the API: counts, the summary,
        refused rows as ``{where, field, message}``, warnings and notices as text."""
        return {"imported": self.imported, "all_or_nothing": self.all_or_nothing, "boxes": self.boxes,
                "photos": self.photos, "already_there": self.already_there, "skipped": len(self.skipped),
                "new_classes": self.new_classes, "summary": self.summary,
                "errors": [{"where": p.where, "field": p.field, "message": p.message, "row": bool(p.row)}
                           for p in self.errors],
                "n_refused_rows": sum(1 for p in self.errors if p.row),
                "warnings": self.warnings, "notices": [str(p) for p in self.notices]}


def _read_one(name: str, data: bytes, sizes, classes) -> ParseResult | None:
    low = name.lower()
    if low.endswith(".csv"):
        return annotations_csv_read(data, sizes=sizes, classes=classes)
    if low.endswith(".json"):
        return coco_json_read(data, sizes=sizes, classes=classes)
    return None


def _label_map_wanted(name: str, data: bytes, existing: dict[str, DatasetClass], report: ImportReport) -> dict[str, int]:
    """``{class name: id}`` of a ``label_map.pbtxt`` that agree with the dataset's
    label map; each disagreement is a refused entry in ``report``."""
    try:
        entries = label_map_parse(data.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as err:
        report.problems.append(Problem(name, str(err), code="label_map"))
        return {}
    wanted, taken = {}, {c.class_id: c.name for c in existing.values()}
    for cid, cname in entries:
        cname = cname.strip()
        bad = label_name_problem(cname)
        if bad:
            report.problems.append(Problem(name, f"{cname[:50]!r}: {bad}", code="label_map"))
        elif cname in existing and existing[cname].class_id != cid:
            report.problems.append(Problem(name, f"Class “{cname}” has id {existing[cname].class_id} in this "
                                                 f"dataset but {cid} in the file.", code="label_map"))
        elif cname not in existing and taken.get(cid, cname) != cname:
            report.problems.append(Problem(name, f"Id {cid} is already “{taken[cid]}” in this dataset.",
                                           code="label_map"))
        else:
            wanted[cname] = cid
    return wanted


def annotations_import(*, dataset: Dataset, files: list[tuple[str, bytes]], user=None, add_classes: bool = False,
                       replace: bool = False, all_or_nothing: bool = False) -> ImportReport:
    """Import boxes from ``annotations.csv``, COCO ``.json``, Pascal VOC
    ``.xml`` files (or a zip of them), with an optional ``label_map.pbtxt``.

    Every valid row is stored; the report lists each refused row or file
    (unknown class, non-numeric, empty or wholly outside box, a wrong number
    of fields, a file name that differs from a photo's only in case (with the
    photo it probably means) or fits several photos, an unreadable file).
    Boxes partly outside a photo are clipped (a notice). Rows for photos the
    dataset does not hold are skipped (a warning). Names are matched as
    ``vision.detection_io.names`` says: with or without their folders, either
    slash; a name whose folders had to be dropped is a warning. A box of the
    same class on the same photo with IoU ≥ ``IMPORT_DUPLICATE_IOU`` to one
    already there (or earlier in this import) is stored once and counted as
    "already there". Boxes are pixel ``(xmin, ymin, xmax, ymax)`` of the
    EXIF-corrected photo, stored rounded to 0.01 px.

    Args:
        files: ``(file name, bytes)``; the name only chooses the reader.
        add_classes: add unknown class names to the label map (only those of
            boxes actually stored) instead of refusing their rows.
        replace: delete the existing boxes of the photos the files mention first.
        all_or_nothing: store nothing if any row or file is refused (skipped
            rows and notices do not count).
    """
    report = ImportReport(all_or_nothing=all_or_nothing)
    files = list(_expand_zips(files, report))
    images = list(dataset.images.filter(status=DatasetImage.Status.OK))
    index = PhotoIndex((img.original_name, img.width, img.height) for img in images)
    existing = {c.name: c for c in dataset.classes.all()}
    wanted_ids: dict[str, int] = {}
    for name, data in files:
        if name.lower().endswith(".pbtxt"):
            wanted_ids.update(_label_map_wanted(name, data, existing, report))
    classes = None if add_classes else set(existing) | set(wanted_ids)
    results: list[ParseResult] = []
    xml_files = [(n, d) for n, d in files if n.lower().endswith(".xml")]
    if xml_files:
        results.append(voc_xml_read(xml_files, sizes=index, classes=classes))
    for name, data in files:
        if name.lower().endswith((".xml", ".pbtxt")):
            continue
        r = _read_one(name, data, index, classes)
        if r is None:
            report.problems.append(Problem(name, "Not an annotation file this platform reads "
                                                 "(annotations.csv, COCO .json, Pascal VOC .xml, label_map.pbtxt)."))
            continue
        results.append(ParseResult(r.images, tuple(Problem(f"{name}, {p.where}", p.message, p.fatal, p.field, p.code,
                                                           p.row) for p in r.problems)))
    for r in results:
        report.problems.extend(r.problems)
    if not files:
        report.problems.append(Problem("upload", "No annotation file was given (annotations.csv, COCO .json, "
                                                 "Pascal VOC .xml or label_map.pbtxt)."))
        return report
    if all_or_nothing and report.errors:
        return report
    _store(dataset=dataset, images=images, results=results, existing=existing, wanted_ids=wanted_ids,
           user=user, replace=replace, report=report)
    return report


def _store(*, dataset, images, results, existing, wanted_ids, user, replace, report: ImportReport) -> None:
    """Create the classes and store the valid boxes of ``results`` (one transaction)."""
    by_name = {img.original_name: img for img in images}  # the readers return only names that fit one photo
    with transaction.atomic():
        last = max([c.class_id for c in existing.values()] + list(wanted_ids.values()) + [0])
        for cname, cid in wanted_ids.items():
            if cname not in existing:
                existing[cname] = DatasetClass.objects.create(dataset=dataset, class_id=cid, name=cname)
                report.new_classes.append(cname)
        touched = {by_name[ia.filename].pk for r in results for ia in r.images}
        if replace:
            Box.objects.filter(image_id__in=list(touched)).delete()
        before, batch = StoredBoxes(touched), StoredBoxes(())
        rows = []
        for r in results:
            for ia in r.images:
                img = by_name[ia.filename]
                for b in ia.boxes:
                    if b.label not in existing:  # a new class (add_classes), created once it gets a box
                        last += 1
                        existing[b.label] = DatasetClass.objects.create(dataset=dataset, class_id=last, name=b.label)
                        report.new_classes.append(b.label)
                    label = existing[b.label]
                    xyxy = tuple(round(v, 2) for v in b.box)
                    iou = before.best_iou(img.pk, label.pk, xyxy)
                    if max(iou, batch.best_iou(img.pk, label.pk, xyxy)) >= IMPORT_DUPLICATE_IOU:
                        report.already_there += 1
                        continue
                    report.near_repeats += iou >= DUPLICATE_IOU
                    batch.add(img.pk, label.pk, xyxy)
                    rows.append(Box(image=img, label=label, xmin=xyxy[0], ymin=xyxy[1], xmax=xyxy[2], ymax=xyxy[3],
                                    created_by=user, updated_by=user))
        Box.objects.bulk_create(rows, batch_size=500)
        ImageState.objects.filter(image_id__in={b.image_id for b in rows}, no_objects=True).update(no_objects=False)
    report.imported, report.boxes, report.photos = True, len(rows), len({b.image_id for b in rows})


def _expand_zips(files, report: ImportReport):
    for name, data in files:
        if not name.lower().endswith(".zip"):
            yield name, data
            continue
        try:
            zf = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile:
            report.problems.append(Problem(name, "Not a readable zip file."))
            continue
        with zf:
            for info in zf.infolist():
                inner = info.filename.replace("\\", "/")
                parts = archive_path_parts(inner)
                if info.is_dir():
                    continue
                if parts is None:
                    report.problems.append(Problem(f"{name}: {inner[:200]}", "The path points outside the archive's "
                                                                             "folder; refused for safety.", fatal=False))
                    continue
                if archive_path_ignored(parts):
                    continue
                if not inner.lower().endswith((".csv", ".json", ".xml", ".pbtxt")):
                    continue  # photos and notes inside an annotation zip are ignored
                if info.file_size > MAX_ANNOTATION_FILE_BYTES:
                    report.problems.append(Problem(f"{name}: {inner}", "Too large for an annotation file."))
                    continue
                yield f"{name}: {inner}", zf.read(info)
