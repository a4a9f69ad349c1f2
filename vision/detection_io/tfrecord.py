"""TFRecord shards of ``tf.train.Example`` for the TensorFlow Object
Detection API (the seed's section 5 writes these with a 70/30 split and 10
shards).

Feature keys and sharding follow the API's ``dataset_tools``
(``create_pascal_tf_record.py``, ``tf_record_creation_util.open_sharded_output_tfrecords``):
shard files ``<prefix>-00000-of-00010``, example ``i`` in shard ``i % n``.
TensorFlow is imported inside the functions only (it costs seconds and
hundreds of MB; the web process never loads it).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import Iterable, Sequence

from vision.boxes import Box, boxes_xyxy_to_normalized

FEATURE_KEYS = (
    "image/height", "image/width", "image/filename", "image/source_id", "image/key/sha256",
    "image/encoded", "image/format", "image/object/bbox/xmin", "image/object/bbox/xmax",
    "image/object/bbox/ymin", "image/object/bbox/ymax", "image/object/class/text", "image/object/class/label",
)
DEFAULT_NUM_SHARDS = 10


def tf_example_bytes(*, encoded: bytes, image_format: str, filename: str, source_id: str, width: int, height: int,
                     boxes: Sequence[Box], labels: Sequence[str], label_ids: Sequence[int]) -> bytes:
    """One serialized ``tf.train.Example``.

    Args:
        encoded: JPEG or PNG bytes whose pixels are the EXIF-corrected photo
            (``width`` × ``height``; TensorFlow's decoders ignore EXIF).
        image_format: ``"jpeg"`` or ``"png"``.
        filename, source_id: stored as UTF-8.
        width, height: pixels.
        boxes: pixel ``(xmin, ymin, xmax, ymax)``; stored normalised to 0..1.
        labels, label_ids: class name and label-map id (≥ 1) per box.

    Raises:
        ValueError: lengths differ or an unknown format.
    """
    import tensorflow as tf

    if not len(boxes) == len(labels) == len(label_ids):
        raise ValueError("boxes, labels and label_ids must have the same length")
    if image_format not in ("jpeg", "png"):
        raise ValueError("image_format must be 'jpeg' or 'png'")
    norm = boxes_xyxy_to_normalized(list(boxes), width=width, height=height) if len(boxes) else None

    def floats(col):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[] if norm is None else norm[:, col].tolist()))

    def byts(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))

    def ints(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

    feature = {
        "image/height": ints([height]), "image/width": ints([width]),
        "image/filename": byts([filename.encode("utf-8")]), "image/source_id": byts([source_id.encode("utf-8")]),
        "image/key/sha256": byts([hashlib.sha256(encoded).hexdigest().encode()]),
        "image/encoded": byts([encoded]), "image/format": byts([image_format.encode()]),
        "image/object/bbox/xmin": floats(0), "image/object/bbox/xmax": floats(2),
        "image/object/bbox/ymin": floats(1), "image/object/bbox/ymax": floats(3),
        "image/object/class/text": byts([t.encode("utf-8") for t in labels]),
        "image/object/class/label": ints(label_ids),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def shard_paths(prefix: str | Path, num_shards: int) -> list[Path]:
    """``<prefix>-00000-of-000NN`` ... as the TF OD API names shards."""
    return [Path(f"{prefix}-{i:05d}-of-{num_shards:05d}") for i in range(num_shards)]


def tfrecords_write(examples: Iterable[bytes], *, prefix: str | Path, num_shards: int = DEFAULT_NUM_SHARDS) -> tuple[list[Path], int]:
    """Write serialized examples round-robin into ``num_shards`` files (streaming).

    Returns:
        ``(paths, n_examples)``; every shard file exists, possibly empty.

    Raises:
        ValueError: ``num_shards`` < 1.
    """
    import tensorflow as tf

    if num_shards < 1:
        raise ValueError("num_shards must be at least 1")
    paths = shard_paths(prefix, num_shards)
    n = 0
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(tf.io.TFRecordWriter(str(p))) for p in paths]
        for n, ex in enumerate(examples, 1):
            writers[(n - 1) % num_shards].write(ex)
    return paths, n


def tfrecords_read(paths: Iterable[str | Path]) -> list[dict]:
    """Read shards back with ``tf.data.TFRecordDataset`` (for tests and checks).

    Returns:
        One dict per example: ``filename``, ``source_id``, ``width``, ``height``,
        ``format``, ``sha256``, ``encoded`` (bytes), ``boxes`` (``(n, 4)``
        normalised ``(xmin, ymin, xmax, ymax)`` floats), ``labels`` (names),
        ``label_ids``.
    """
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([], tf.int64) for k in ("image/height", "image/width")}
    spec.update({k: tf.io.FixedLenFeature([], tf.string) for k in
                 ("image/filename", "image/source_id", "image/key/sha256", "image/encoded", "image/format")})
    spec.update({f"image/object/bbox/{k}": tf.io.VarLenFeature(tf.float32) for k in ("xmin", "xmax", "ymin", "ymax")})
    spec["image/object/class/text"] = tf.io.VarLenFeature(tf.string)
    spec["image/object/class/label"] = tf.io.VarLenFeature(tf.int64)
    out = []
    for raw in tf.data.TFRecordDataset([str(p) for p in paths]):
        ex = tf.io.parse_single_example(raw, spec)
        dense = {k: tf.sparse.to_dense(v).numpy() if isinstance(v, tf.SparseTensor) else v.numpy() for k, v in ex.items()}
        boxes = [list(map(float, t)) for t in zip(*(dense[f"image/object/bbox/{k}"] for k in ("xmin", "ymin", "xmax", "ymax")))]
        out.append({
            "filename": dense["image/filename"].decode(), "source_id": dense["image/source_id"].decode(),
            "width": int(dense["image/width"]), "height": int(dense["image/height"]),
            "format": dense["image/format"].decode(), "sha256": dense["image/key/sha256"].decode(),
            "encoded": dense["image/encoded"], "boxes": boxes,
            "labels": [t.decode() for t in dense["image/object/class/text"]],
            "label_ids": [int(v) for v in dense["image/object/class/label"]],
        })
    return out
