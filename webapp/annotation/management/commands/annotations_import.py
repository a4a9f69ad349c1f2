"""``manage.py annotations_import DATASET FILE... [--add-classes] [--replace]
[--all-or-nothing] [--refused OUT.csv]``: import boxes (annotations.csv, COCO
.json, VOC .xml, label_map.pbtxt, or a zip of them) into a detection dataset.
Every valid row is stored and each refused one listed, unless
``--all-or-nothing``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.annotation.importing import annotations_import
from webapp.datasets.models import Dataset


class Command(BaseCommand):
    help = ("Import detection boxes into a dataset: every valid row is stored, every refused row listed "
            "(--all-or-nothing stores nothing if one is refused).")

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="dataset id or name")
        parser.add_argument("files", nargs="+")
        parser.add_argument("--add-classes", action="store_true", help="add unknown classes to the label map")
        parser.add_argument("--replace", action="store_true", help="replace the boxes of the photos mentioned")
        parser.add_argument("--all-or-nothing", action="store_true", help="store nothing if any row is refused")
        parser.add_argument("--refused", metavar="OUT.csv", help="write the refused rows there, to fix and import again")

    def handle(self, dataset, files, add_classes, replace, all_or_nothing, refused, **options):
        ds = dataset_by_ref(dataset)
        try:
            loaded = [(Path(f).name, Path(f).read_bytes()) for f in files]
        except OSError as err:
            raise CommandError(f"Cannot read {err.filename}: {err.strerror}") from err
        report = annotations_import(dataset=ds, files=loaded, add_classes=add_classes, replace=replace,
                                    all_or_nothing=all_or_nothing)
        for p in report.errors:
            self.stdout.write(f"  refused: {p.where}{f' [{p.field}]' if p.field else ''}: {p.message}")
        for w in report.warnings:
            self.stdout.write(f"  warning: {w}")
        for p in report.notices:
            self.stdout.write(f"  notice: {p}")
        if refused and any(p.row for p in report.errors):
            Path(refused).write_text(report.refused_csv(), encoding="utf-8", newline="")
            self.stdout.write(f"  the refused rows are in {refused}")
        if not report.imported:
            raise CommandError(report.summary)
        self.stdout.write(f"“{ds}”: {report.summary}")


def dataset_by_ref(ref: str) -> Dataset:
    qs = Dataset.objects.filter(kind=Dataset.Kind.DETECTION)
    ds = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(name=ref).first()
    if ds is None:
        raise CommandError(f"No detection dataset {ref!r}.")
    return ds
