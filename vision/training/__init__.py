"""Image classification training (seed section 4).

One call per model kind, in the shape :mod:`vision.training.recipe` describes
(options as a frozen dataclass, progress/curves/stop callbacks, a resumable
work folder, a result with ``save``): :func:`vision.training.classifier.classifier_train`.
The training job (``webapp/training/processing.py``) and ``bench/train.py``
both call it. Its parts: input pipelines streamed from files (``data``), the
scratch CNN and the transfer head (``models``), cached backbone features
(``features``, ``transfer``), training with progress/early
stopping/checkpoints/resume (``fit``), metrics (``evaluate``), export
(``export``) and inspection (``inspect``).

TensorFlow is imported inside the functions: importing this package is cheap."""
