"""``manage.py annotations_import DATASET FILE... [--add-classes] [--replace]``:
import boxes (annotations.csv, COCO .json, VOC .xml, label_map.pbtxt, or a zip
of them) into a detection dataset, all or nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.annotation.exchange import annotations_import
from webapp.datasets.models import Dataset


class Command(BaseCommand):
    help = "Import detection boxes into a dataset (all or nothing; every problem is listed)."

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="dataset id or name")
        parser.add_argument("files", nargs="+")
        parser.add_argument("--add-classes", action="store_true", help="add unknown classes to the label map")
        parser.add_argument("--replace", action="store_true", help="replace the boxes of the photos mentioned")

    def handle(self, dataset, files, add_classes, replace, **options):
        ds = dataset_by_ref(dataset)
        try:
            loaded = [(Path(f).name, Path(f).read_bytes()) for f in files]
        except OSError as err:
            raise CommandError(f"Cannot read {err.filename}: {err.strerror}") from err
        report = annotations_import(dataset=ds, files=loaded, add_classes=add_classes, replace=replace)
        for p in report.problems:
            self.stdout.write(f"  {'error' if p.fatal else 'notice'}: {p}")
        if not report.imported:
            raise CommandError(f"Nothing imported: {len(report.errors)} problem(s).")
        self.stdout.write(f"Imported {report.boxes} boxes on {report.photos} photos into “{ds}”"
                          + (f"; new classes: {', '.join(report.new_classes)}" if report.new_classes else ""))


def dataset_by_ref(ref: str) -> Dataset:
    qs = Dataset.objects.filter(kind=Dataset.Kind.DETECTION)
    ds = qs.filter(pk=int(ref)).first() if ref.isdigit() else qs.filter(name=ref).first()
    if ds is None:
        raise CommandError(f"No detection dataset {ref!r}.")
    return ds
