"""Check that every pretrained model file the workers need is on disk
(no network at run time). dlib's models come from the
``face_recognition_models`` package; later model imports hook in here."""

from django.core.management.base import BaseCommand, CommandError

from vision.errors import WeightsMissingError
from vision.registry import DLIB_FILES, dlib_model_path


class Command(BaseCommand):
    help = "Verify (and where needed import) the pretrained model files."

    def handle(self, *args, **options):
        try:
            for name in DLIB_FILES:
                path = dlib_model_path(name)
                self.stdout.write(f"ok  {name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
        except WeightsMissingError as err:
            raise CommandError(err.message) from err
