"""Detection annotations on disk: read and write the formats detection tools
use, with validation reported per line or object.

* ``annotations.csv`` — ``filename,xmin,ymin,xmax,ymax,class``, one line per
  box, pixel coordinates (the seed's format, section 5): :mod:`.csv_format`.
* ``label_map.pbtxt`` — ``item { id: N name: '…' }`` (TF Object Detection
  API): :mod:`.label_map`.
* Pascal VOC XML, one file per photo: :mod:`.voc`.
* COCO JSON (``instances``): :mod:`.coco`.
* TFRecord shards of ``tf.train.Example`` with the TF Object Detection API
  feature keys: :mod:`.tfrecord` (TensorFlow imported only there, lazily).

Plain Python: bytes and names in, frozen dataclasses out; the caller maps file
names to photos and decides what to store (all or nothing).
"""

from vision.detection_io.common import ImageAnnotation, LabeledBox, ParseResult, Problem

__all__ = ["ImageAnnotation", "LabeledBox", "ParseResult", "Problem"]
