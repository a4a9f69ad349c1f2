"""The one place the Django side tells ``vision.backbones`` where weights
live (from settings), and the one-time EfficientNet-Lite0 import."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from vision.backbones import SPECS, BackboneSpec, backbone_available, efficientnet_weights_path, register_backbones


def backbones_register() -> None:
    """Register every backbone in ``vision.registry`` with the configured folders."""
    register_backbones(weights_dir=settings.WEIGHTS_DIR, keras_dirs=settings.KERAS_WEIGHTS_DIRS)


def efficientnet_weights_ensure(*, log=None) -> Path:
    """Import EfficientNet-Lite0's weights into ``WEIGHTS_DIR`` if the file is
    missing (torch and TensorFlow are imported only then). Returns the path."""
    path = efficientnet_weights_path(settings.WEIGHTS_DIR)
    if not path.is_file():
        from vision.backbones.efficientnet_lite import import_weights

        if log:
            log(f"Importing EfficientNet-Lite0 weights into {path} (one time, offline)…")
        import_weights(path)
    return path


def backbones_available() -> list[BackboneSpec]:
    """Specs of the backbones whose weights are on disk now."""
    return [spec for name, spec in SPECS.items()
            if backbone_available(name, weights_dir=settings.WEIGHTS_DIR, keras_dirs=settings.KERAS_WEIGHTS_DIRS)]
