"""``manage.py dataset_import NAME PATH [--kind classification]``: import a
folder (or zip) of photos into a dataset, creating it if needed."""

from django.core.management.base import BaseCommand, CommandError

from webapp.datasets.models import Dataset
from webapp.datasets.services import dataset_import


class Command(BaseCommand):
    help = "Import a folder or zip of photos (one folder per class for classification) into a dataset."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("path")
        parser.add_argument("--kind", default="classification", choices=Dataset.Kind.values)

    def handle(self, name, path, kind, **options):
        dataset, created = Dataset.objects.get_or_create(name=name, kind=kind)
        try:
            report = dataset_import(dataset=dataset, source=path)
        except (ValueError, OSError) as err:
            raise CommandError(str(err)) from err
        self.stdout.write(f"{'Created' if created else 'Updated'} dataset #{dataset.pk} “{dataset}”: "
                          f"{report.added} photos added, {len(report.duplicates)} duplicates, "
                          f"{len(report.unreadable)} unreadable, {len(report.skipped)} skipped")
        for n, r in report.unreadable + report.skipped:
            self.stdout.write(f"  {n}: {r}")
