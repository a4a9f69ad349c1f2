"""Image classification training (seed section 4): input pipelines streamed
from files, a scratch CNN and a transfer-learning head, training with
progress/early stopping/checkpoints/resume, export, inspection.

TensorFlow is imported inside the functions: importing this package is cheap."""
