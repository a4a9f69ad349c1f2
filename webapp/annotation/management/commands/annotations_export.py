"""``manage.py annotations_export DATASET OUT.zip [--shards 10] [--no-tfrecords]``:
the same zip as the page's export (photos, annotations.csv, label_map.pbtxt,
Pascal VOC, COCO, TFRecord shards), written streaming."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.annotation.exchange import NothingToExport, dataset_export_zip, export_left_out_text
from webapp.annotation.management.commands.annotations_import import dataset_by_ref


class Command(BaseCommand):
    help = "Export a detection dataset as a zip in every format."

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="dataset id or name")
        parser.add_argument("out", help="path of the zip to write")
        parser.add_argument("--shards", type=int, default=10)
        parser.add_argument("--no-tfrecords", action="store_true")

    def handle(self, dataset, out, shards, no_tfrecords, **options):
        ds = dataset_by_ref(dataset)
        try:
            summary = dataset_export_zip(dataset=ds, path=Path(out), num_shards=shards, tfrecords=not no_tfrecords)
        except NothingToExport as err:
            Path(out).unlink(missing_ok=True)
            raise CommandError(err.message) from None
        self.stdout.write(f"Wrote {out}: {summary['photos']} photos, {summary['boxes']} boxes, {summary['classes']} "
                          f"classes ({summary['train']} train / {summary['val']} validation)")
        left_out = export_left_out_text(summary["left_out"])
        if left_out:
            self.stdout.write(left_out[0].upper() + left_out[1:] + " (only finished photos are exported).")
