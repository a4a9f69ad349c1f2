"""The one call that tells ``vision`` where this deployment keeps its
weights (from settings) and registers every model (:mod:`vision.catalog`),
made once per process by ``CoreConfig.ready``; and what a worker loads ahead
of its first job."""

from __future__ import annotations

from django.conf import settings


def models_setup() -> None:
    """Register every model name in ``vision.registry`` with the configured folders (cheap: loads nothing)."""
    from vision import catalog

    catalog.setup(weights_dir=settings.WEIGHTS_DIR, keras_dirs=settings.KERAS_WEIGHTS_DIRS)


def models_preload() -> None:
    """Load dlib's face models and the default search backbone in this worker
    process, so the first check-in or search does not pay the load time. A
    missing backbone file is left for the first job to report in words."""
    from vision import registry
    from vision.errors import WeightsMissingError

    for name in ("dlib_hog_detector", "dlib_landmarks_68", "dlib_resnet_v1"):
        registry.load(name)
    if settings.FACE_DETECTOR == "cnn":
        registry.load("dlib_cnn_detector")
    try:
        registry.load(settings.SEARCH_BACKBONE)
    except WeightsMissingError:
        pass
