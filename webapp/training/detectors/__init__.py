"""Object detectors trained on a detection dataset's boxes (issue 15), the web side of
``vision.training.detector``: rows to training data (``data``), starting the job
(``services``), the job itself (``processing``, worker side), the start form and the
detector's page (``forms``, ``views``). The job kind is ``training.detector``
(``webapp.training.jobs``); a trained detector is a ``ModelVersion`` of kind ``detector``,
used on the Detect page, ``POST /api/detect`` and pre-annotation through
``webapp.annotation.detectors``."""

#: The file name of class ``i``'s precision/recall picture, beside ``detector.keras`` (written by
#: ``processing``, served by ``training.views.model_file``).
PR_CURVE_FILE = "pr-{}.png"
