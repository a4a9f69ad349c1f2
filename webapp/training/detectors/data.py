"""A detection dataset's finished photos as detector training data: the one place that turns
annotation rows into ``vision.training.detector.BoxedPhoto``. Database reads only (no photo is
opened, nothing heavy imported), so the start form's pre-check and the job apply the same rule.

Which photos: the export's (``webapp.annotation.exchange.dataset_export_zip``): a photo is
finished once it has an accepted box or is marked "No objects", and no machine box is left to
review (``annotation.selectors.readable_images``' ``is_annotated``); its accepted boxes are
``exchange.dataset_annotations``'. A photo not looked at yet would teach the detector that its
objects are background, so it is left out and counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vision.training.detector import BoxedPhoto
from webapp.annotation.exchange import dataset_annotations
from webapp.annotation.selectors import readable_images
from webapp.datasets.models import Dataset, DatasetImage

MIN_BOX_SIDE = 4.0
"""Boxes narrower or lower than this many pixels of the photo are left out of training (the
issue's "boxes under 4 px"): usually a slip of the mouse, and below what the finest feature
map (stride 8 at the detector's input size, 320 px by default) can place; larger: more boxes
left out."""


@dataclass(frozen=True)
class DetectorData:
    """What a detector would learn from a dataset.

    Attributes:
        photos: the finished photos, labels indexing ``class_names``; named as the export
            names them (unique relative names).
        image_ids: photo name → ``DatasetImage`` id (the model page finds its thumbnail).
        splits: photo name → the dataset's own split (``"train"``, ``"val"`` or ``""``).
        class_names: label-map classes with at least one box kept, in label-map order.
        empty_classes: label-map classes with no box (left out of the detector).
        boxes: boxes kept per class name.
        tiny_boxes: boxes left out for a side under :data:`MIN_BOX_SIDE`.
        not_annotated, to_review: readable photos left out: not annotated yet / with machine
            boxes still to review.
    """

    photos: tuple = ()
    image_ids: dict = field(default_factory=dict)
    splits: dict = field(default_factory=dict)
    class_names: tuple = ()
    empty_classes: tuple = ()
    boxes: dict = field(default_factory=dict)
    tiny_boxes: int = 0
    not_annotated: int = 0
    to_review: int = 0

    def notes(self) -> list[str]:
        """What was left out, in words (the job's result and the model page say it)."""
        out = []
        if self.tiny_boxes:
            out.append(f"{self.tiny_boxes} box{'es' if self.tiny_boxes != 1 else ''} under {MIN_BOX_SIDE:g} px "
                       f"on a side {'were' if self.tiny_boxes != 1 else 'was'} left out.")
        out += [f"Class “{n}” has no boxes and was left out of the detector." for n in self.empty_classes]
        if self.not_annotated or self.to_review:
            parts = [f"{n} {what}" for n, what in ((self.not_annotated, "not annotated yet"),
                                                   (self.to_review, "with machine boxes to review")) if n]
            out.append(f"Photos left out: {' and '.join(parts)}.")
        return out


def detector_data(*, dataset: Dataset) -> DetectorData:
    """The dataset's finished photos and accepted boxes as :class:`DetectorData` (module docstring)."""
    readable = list(readable_images(dataset))
    images = [i for i in readable if i.is_annotated]
    annotations = dataset_annotations(dataset=dataset, images=images) if images else []
    label_map = [c.name for c in dataset.classes.all()]
    kept, tiny = [], 0
    for ann in annotations:
        boxes = []
        for b in ann.boxes:
            if b.box[2] - b.box[0] < MIN_BOX_SIDE or b.box[3] - b.box[1] < MIN_BOX_SIDE:
                tiny += 1
            else:
                boxes.append(b)
        kept.append(boxes)
    counts = {n: 0 for n in label_map}
    for boxes in kept:
        for b in boxes:
            counts[b.label] = counts.get(b.label, 0) + 1
    names = tuple(n for n in label_map if counts[n])
    index = {n: i for i, n in enumerate(names)}
    photos = tuple(BoxedPhoto(img.file.path, tuple(tuple(float(v) for v in b.box) for b in boxes),
                              tuple(index[b.label] for b in boxes), ann.filename)
                   for img, ann, boxes in zip(images, annotations, kept))
    return DetectorData(
        photos=photos, image_ids={ann.filename: img.pk for img, ann in zip(images, annotations)},
        splits={ann.filename: img.split for img, ann in zip(images, annotations)}, class_names=names,
        empty_classes=tuple(n for n in label_map if not counts[n]), boxes={n: counts[n] for n in names},
        tiny_boxes=tiny, not_annotated=sum(not i.is_marked for i in readable),
        to_review=sum(bool(i.is_marked and i.n_pending) for i in readable))


def detector_split(data: DetectorData, *, seed: int, validation: float) -> tuple[list, list, str]:
    """Training and validation photos: the dataset's own split when every photo has one and
    both sides hold a photo, else ``vision.detection.data.split`` (seeded by ``seed``, holding
    ``validation`` of the photos out, near-duplicates kept on one side). Opens the photos
    (worker side).

    Returns:
        ``(train, validation, how)``, ``how`` a few words ("the dataset's split").
    """
    own = [data.splits.get(p.name) for p in data.photos]
    if all(own) and DatasetImage.Split.TRAIN in own and DatasetImage.Split.VALIDATION in own:
        return ([p for p, s in zip(data.photos, own) if s == DatasetImage.Split.TRAIN],
                [p for p, s in zip(data.photos, own) if s == DatasetImage.Split.VALIDATION], "the dataset's split")
    from vision.detection.data import split

    train, val = split(data.photos, seed=seed, validation=validation)
    return list(train), list(val), f"a seeded {1 - validation:.0%}/{validation:.0%} split by photo"
