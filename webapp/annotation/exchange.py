"""Export of a detection dataset's boxes (the one place that converts rows to
``vision.detection_io`` types; import is ``webapp.annotation.importing``).

Export writes one zip, streaming: each photo is read, written and dropped
before the next, and TFRecord shards are written as the photos pass, so a
dataset much larger than memory exports fine. Layout::

    annotations.csv        filename,xmin,ymin,xmax,ymax,class (filenames relative to images/)
    label_map.pbtxt
    coco/instances.json
    voc/Annotations/*.xml
    tfrecords/train.record-0000i-of-0000N, tfrecords/val.record-...
    images/<filename>
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Callable

from django.conf import settings

from vision.detection_io import ImageAnnotation, LabeledBox
from vision.detection_io.coco import coco_json_build
from vision.detection_io.csv_format import annotations_csv_write
from vision.detection_io.label_map import label_map_pbtxt
from vision.detection_io.voc import voc_xml_bytes
from webapp.annotation.models import Box
from webapp.annotation.selectors import readable_images
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.services import dataset_split_assign
from webapp.jobs.errors import JobCancelled


# ----- names -----
def _export_names(images: list[DatasetImage]) -> dict[int, str]:
    """A safe, unique relative file name per photo for the export: the
    uploaded path with unsafe parts dropped; ``<id>_`` prefixed on clashes."""
    names = {}
    for img in images:
        parts = [p for p in PurePosixPath(img.original_name.replace("\\", "/")).parts
                 if p not in ("", ".", "..", "/") and ":" not in p]
        name = "/".join(parts) or f"photo_{img.pk}"
        names[img.pk] = name
    clashes = {n for n, k in Counter(names.values()).items() if k > 1}
    for pk, n in names.items():
        if n in clashes:
            p = PurePosixPath(n)
            names[pk] = str(p.with_name(f"{pk}_{p.name}"))
    return names


# ----- export -----
def dataset_annotations(*, dataset: Dataset, images: list[DatasetImage] | None = None,
                        names: dict[int, str] | None = None, accepted_only: bool = True) -> list[ImageAnnotation]:
    """Every readable photo of the dataset with its boxes, as vision types
    (machine boxes nobody accepted are left out unless ``accepted_only`` is False)."""
    images = images if images is not None else list(dataset.images.filter(status=DatasetImage.Status.OK).order_by("id"))
    names = names or _export_names(images)
    boxes: dict[int, list[LabeledBox]] = {}
    qs = Box.objects.filter(image__in=[i.pk for i in images]).select_related("label").order_by("image_id", "id")
    if accepted_only:
        qs = qs.filter(accepted=True)
    for b in qs:
        boxes.setdefault(b.image_id, []).append(LabeledBox(b.xyxy, b.label.name))
    return [ImageAnnotation(names[i.pk], i.width, i.height, tuple(boxes.get(i.pk, ()))) for i in images]


def annotations_csv_stream(*, dataset: Dataset):
    """``annotations.csv`` for a download, produced photo batch by photo batch (an iterator of strings)."""
    from vision.detection_io.csv_format import HEADER, annotations_csv_text

    images = list(dataset.images.filter(status=DatasetImage.Status.OK).order_by("id"))
    names = _export_names(images)
    yield ",".join(HEADER) + "\r\n"
    for i in range(0, len(images), 200):
        chunk = dataset_annotations(dataset=dataset, images=images[i:i + 200], names=names)
        yield annotations_csv_text(chunk).split("\r\n", 1)[1]


def export_left_out_text(left_out: dict) -> str:
    """The photos an export kept back, in words (``""`` if none): ``left_out`` as
    :func:`dataset_export_zip` returns it."""
    parts = [f"{n} {what}" for n, what in ((left_out.get("not_annotated", 0), "not annotated yet"),
                                           (left_out.get("machine_boxes_to_review", 0), "with machine boxes to review"))
             if n]
    return f"left out: {' and '.join(parts)}" if parts else ""


def dataset_label_map(*, dataset: Dataset) -> str:
    return label_map_pbtxt((c.class_id, c.name) for c in dataset.classes.all())


class NothingToExport(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def dataset_export_zip(*, dataset: Dataset, path: Path, num_shards: int = 10, tfrecords: bool = True,
                       progress: Callable[[float, str], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> dict:
    """Write the export zip to ``path`` (see the module docstring).

    Only finished photos go in: those with an accepted box or marked "no
    objects", and no machine box still waiting for review. A photo not looked
    at yet would teach a detector that its objects are background (the
    ``left_out`` counts say how many were kept back and why).

    Photos are assigned to train/validation first if they were not (seeded,
    ``Dataset.validation_fraction``, 30 % by default, as in the seed).

    Args:
        should_stop: asked before each photo (``cancel_checker``); when it
            answers True the export stops there.

    Returns:
        ``{photos, boxes, classes, train, val, shards, left_out: {not_annotated, machine_boxes_to_review}}``
        (photos, boxes and the split count what the zip holds).

    Raises:
        NothingToExport: the dataset has no (accepted) box yet, or no finished photo.
        JobCancelled: ``should_stop`` said so. The zip at ``path`` is then
            incomplete: the caller deletes it (an export is all or nothing).
    """
    from vision.detection_io.photos import photo_for_export

    if not Box.objects.filter(image__dataset=dataset, accepted=True).exists():
        raise NothingToExport("This dataset has no boxes yet, so there is nothing to export: draw or import boxes first "
                              "(machine boxes count once accepted).")
    readable = list(readable_images(dataset))
    if len(readable) >= 2 and any(not i.split for i in readable):
        dataset_split_assign(dataset=dataset)
        readable = list(readable_images(dataset))
    left_out = {"not_annotated": sum(not i.is_marked for i in readable),
                "machine_boxes_to_review": sum(bool(i.is_marked and i.n_pending) for i in readable)}
    images = [i for i in readable if i.is_annotated]
    if not images:
        raise NothingToExport(f"No photo is finished yet ({left_out['not_annotated']} not annotated, "
                              f"{left_out['machine_boxes_to_review']} with machine boxes to review), so there is "
                              "nothing to export: a photo is finished once it has an accepted box or is marked "
                              "“No objects”, and no machine box is left to review.")
    names = _export_names(images)
    # every box in one query (boxes are small; the photos are still read one at a time)
    annotations = dict(zip((i.pk for i in images), dataset_annotations(dataset=dataset, images=images, names=names)))
    class_ids = {c.name: c.class_id for c in dataset.classes.all()}
    done = [0]
    total = len(images)
    out_annotations: dict[int, ImageAnnotation] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf, \
            tempfile.TemporaryDirectory(prefix="export-") as tmp:

        def photos(split_images):
            for img in split_images:
                if should_stop is not None and should_stop():
                    raise JobCancelled(f"Cancelled after {done[0]} of {total} photos; no zip was kept.",
                                       result={"photos_done": done[0], "photos": total, "cancelled": True})
                ann = annotations[img.pk]
                with img.file.open("rb") as fh:
                    data = fh.read()
                encoded, fmt = photo_for_export(data, max_pixels=settings.MAX_IMAGE_PIXELS)
                del data
                name = ann.filename
                if fmt == "jpeg" and not name.lower().endswith((".jpg", ".jpeg")):
                    name = str(PurePosixPath(name).with_suffix(".jpg"))
                    ann = ImageAnnotation(name, ann.width, ann.height, ann.boxes)
                zf.writestr(zipfile.ZipInfo(f"images/{name}", date_time=(2020, 1, 1, 0, 0, 0)), encoded,
                            compress_type=zipfile.ZIP_STORED)
                out_annotations[img.pk] = ann
                done[0] += 1
                if progress:
                    progress(0.95 * done[0] / total, f"Exported {done[0]} of {total} photos")
                yield img, ann, encoded, fmt

        shards = []
        splits = [("train", [i for i in images if i.split != DatasetImage.Split.VALIDATION]),
                  ("val", [i for i in images if i.split == DatasetImage.Split.VALIDATION])]
        for split, split_images in splits:
            if tfrecords:
                from vision.detection_io.tfrecord import tf_example_bytes, tfrecords_write

                examples = (tf_example_bytes(encoded=enc, image_format=fmt, filename=ann.filename,
                                             source_id=str(img.pk), width=ann.width, height=ann.height,
                                             boxes=[b.box for b in ann.boxes], labels=[b.label for b in ann.boxes],
                                             label_ids=[class_ids[b.label] for b in ann.boxes])
                            for img, ann, enc, fmt in photos(split_images))
                paths, _ = tfrecords_write(examples, prefix=Path(tmp) / f"{split}.record", num_shards=num_shards)
                for p in paths:
                    zf.write(p, f"tfrecords/{p.name}")
                    p.unlink()
                    shards.append(f"tfrecords/{p.name}")
            else:
                for _ in photos(split_images):
                    pass
        ordered = [out_annotations[i.pk] for i in images]
        with zf.open("annotations.csv", "w") as fh, io.TextIOWrapper(fh, encoding="utf-8", newline="") as text:
            annotations_csv_write(ordered, text)
        zf.writestr("label_map.pbtxt", dataset_label_map(dataset=dataset))
        classes = [(c.class_id, c.name) for c in dataset.classes.all()]
        zf.writestr("coco/instances.json", json.dumps(coco_json_build(ordered, classes), ensure_ascii=False))
        stems = Counter()
        for ann in ordered:
            stem = PurePosixPath(ann.filename).stem
            stems[stem] += 1
            xml_name = stem if stems[stem] == 1 else f"{stem}_{stems[stem]}"
            zf.writestr(f"voc/Annotations/{xml_name}.xml", voc_xml_bytes(ann))
    n_val = sum(1 for i in images if i.split == DatasetImage.Split.VALIDATION)
    return {"photos": total, "boxes": sum(len(a.boxes) for a in ordered), "classes": len(class_ids),
            "train": total - n_val, "val": n_val, "shards": shards, "left_out": left_out}
