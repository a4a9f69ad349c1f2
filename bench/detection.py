"""Detection benchmark: prints figures, tests nothing.

Run from the repository root::

    .venv/bin/python bench/detection.py [--repeats N]

On the photos of ``../shared/datasets/detection`` it prints, in this process:

1. **Detector latency** (median and 90th percentile, ms) of each pretrained
   detector of ``vision.detectors`` on one photo of its kind (dlib faces:
   ``dlib_faces/images/2008_002470.jpg``, 500×332; people:
   ``coco/images/000000000036.jpg``, 481×640), after one warm-up call that
   loads the model. Decoding is not included.
2. **Format writing** over every photo and box of ``annotations.csv`` (125
   photos with boxes, 918 boxes): ``annotations.csv``, VOC XML, COCO JSON (annotations
   only, no photos), and TFRecord examples with the photo bytes; the ratio is
   against writing the CSV, measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "datasets" / "detection"


def _times(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return statistics.median(out), out[min(len(out) - 1, int(0.9 * len(out)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} not found")
    from vision.detection_io.coco import coco_json_build
    from vision.detection_io.csv_format import annotations_csv_read, annotations_csv_text
    from vision.detection_io.tfrecord import tf_example_bytes, tfrecords_write
    from vision.detection_io.voc import voc_xml_bytes
    from vision.detectors import DETECTORS, detect_objects
    from vision.images import displayed_size, load_image

    print("Detector latency (ms, decoded photo in, boxes out)")
    photos = {"face": SHARED / "dlib_faces/images/2008_002470.jpg", "person": SHARED / "coco/images/000000000036.jpg"}
    for name, (label, _) in DETECTORS.items():
        pixels = load_image(photos[label]).pixels
        detect_objects(pixels, detector=name)  # warm-up: loads the model
        reps = max(1, args.repeats if name != "dlib_cnn_face" else min(args.repeats, 3))
        med, p90 = _times(lambda: detect_objects(pixels, detector=name), reps)
        print(f"  {name:<18} {pixels.shape[1]}x{pixels.shape[0]}  median {med:8.1f}  p90 {p90:8.1f}  ({reps} runs)")

    names = sorted(p.relative_to(SHARED).as_posix() for p in SHARED.rglob("*.jpg"))
    sizes = {n: displayed_size(SHARED / n) for n in names}
    images = annotations_csv_read((SHARED / "annotations.csv").read_bytes(), sizes=sizes).images
    classes = sorted({b.label for i in images for b in i.boxes})
    ids = {c: k for k, c in enumerate(classes, 1)}
    n_boxes = sum(len(i.boxes) for i in images)
    print(f"Writing formats: {len(images)} photos with boxes, {n_boxes} boxes (ms, median of {args.repeats})")
    csv_med, _ = _times(lambda: annotations_csv_text(images), args.repeats)
    rows = [("annotations.csv", csv_med),
            ("Pascal VOC XML", _times(lambda: [voc_xml_bytes(i) for i in images], args.repeats)[0]),
            ("COCO JSON", _times(lambda: coco_json_build(images, list(enumerate(classes, 1))), args.repeats)[0])]
    data = {i.filename: (SHARED / i.filename).read_bytes() for i in images}

    def tfrecords():
        with tempfile.TemporaryDirectory() as tmp:
            tfrecords_write((tf_example_bytes(encoded=data[i.filename], image_format="jpeg", filename=i.filename,
                                              source_id=i.filename, width=i.width, height=i.height,
                                              boxes=[b.box for b in i.boxes], labels=[b.label for b in i.boxes],
                                              label_ids=[ids[b.label] for b in i.boxes]) for i in images),
                            prefix=Path(tmp) / "train.record", num_shards=10)

    tfrecords()  # warm-up: imports TensorFlow
    rows.append(("TFRecords (10 shards, photos inside)", _times(tfrecords, args.repeats)[0]))
    for name, med in rows:
        print(f"  {name:<38} {med:8.2f}   x{med / csv_med:6.1f} of the CSV")


if __name__ == "__main__":
    main()
