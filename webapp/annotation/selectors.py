"""Reads for annotation: which datasets a user may annotate, progress,
neighbours of a photo, and the JSON shapes of the annotation API."""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.urls import reverse

from webapp.annotation.models import Box, ImageState
from webapp.datasets.models import Dataset, DatasetImage
from webapp.datasets.selectors import dataset_list

#: IoU at or above which a new box is taken for one already on the photo with the same class
#: (a re-imported file, a second detector on the same faces): PASCAL VOC's criterion for a
#: detection and a ground-truth box being the same object (Everingham et al. 2010, section 4.4).
#: dlib's HOG and CNN face boxes frame a face differently (IoU 0.59-0.70 on the same faces of
#: dlib's example photos in a user trial), so 0.7 missed them; two neighbouring faces stay far below 0.5.
DUPLICATE_IOU = 0.5


#: IoU at or above which an imported box is the same annotation as one of the same class already
#: on the photo (or earlier in the same import): the same file imported twice, or the CSV, COCO and
#: VOC copies of one export zip, differ only by the 0.01 px their writers round to (IoU > 0.99).
#: Such a box is kept once and counted "already there"; between DUPLICATE_IOU and this, both are
#: kept and the import says so (a re-drawn box may be meant). Higher: fewer boxes taken for repeats.
IMPORT_DUPLICATE_IOU = 0.95


class StoredBoxes:
    """The boxes already on some photos, to tell whether a new box repeats one of them.

    Boxes are pixel ``(xmin, ymin, xmax, ymax)``; IoU by :func:`vision.boxes.boxes_iou`.
    """

    def __init__(self, image_ids):
        self._by_key: dict[tuple[int, int], list[tuple[float, float, float, float]]] = {}
        for image_id, label_id, *xyxy in Box.objects.filter(image_id__in=list(image_ids)).values_list(
                "image_id", "label_id", "xmin", "ymin", "xmax", "ymax"):
            self._by_key.setdefault((image_id, label_id), []).append(tuple(xyxy))

    def best_iou(self, image_id: int, label_id: int, xyxy) -> float:
        """The highest IoU (0..1) of ``xyxy`` with a stored box of the same class on that photo; 0 if none."""
        from vision.boxes import boxes_iou

        stored = self._by_key.get((image_id, label_id))
        return float(boxes_iou([xyxy], stored).max()) if stored else 0.0

    def repeats(self, image_id: int, label_id: int, xyxy, *, iou: float = DUPLICATE_IOU) -> bool:
        """True if ``xyxy`` overlaps a stored box of the same class on that photo with IoU >= ``iou``
        (default :data:`DUPLICATE_IOU`)."""
        return self.best_iou(image_id, label_id, xyxy) >= iou

    def add(self, image_id: int, label_id: int, xyxy) -> None:
        """Count a box about to be stored, so that a later repeat of it is found too."""
        self._by_key.setdefault((image_id, label_id), []).append(tuple(xyxy))


def can_manage(user, dataset: Dataset | None = None) -> bool:
    """Staff create detection datasets. Uploading photos, classes, annotators, import, export and
    pre-annotation of ``dataset`` follow the datasets pages' rule (``core.permissions.can_change_dataset``:
    staff and its creator); an assigned annotator only annotates."""
    from webapp.core.permissions import can_change_dataset

    return bool(user.is_staff) if dataset is None else can_change_dataset(user, dataset)


def annotation_datasets(*, user):
    """Detection datasets ``user`` may annotate (staff: all; others: those
    they are assigned to), with ``n_images``."""
    return dataset_list(user=user, kind=Dataset.Kind.DETECTION)


def annotation_dataset_get(*, user, dataset_id: int) -> Dataset:
    """The dataset if ``user`` may annotate it; 404 otherwise (its existence is not revealed)."""
    ds = annotation_datasets(user=user).filter(pk=dataset_id).first()
    if ds is None:
        raise Http404("No such dataset")
    return ds


def readable_images(dataset: Dataset):
    """Readable photos of a dataset, with ``is_marked`` (an accepted box or
    marked "no objects"), ``is_annotated`` (finished: marked, and no machine
    box left to review; what progress, "next to do" and the export count),
    ``is_no_objects``, ``n_boxes`` and ``n_pending`` (machine boxes not yet accepted)."""
    accepted = Box.objects.filter(image=OuterRef("pk"), accepted=True)
    pending = Box.objects.filter(image=OuterRef("pk"), accepted=False)
    no_obj = ImageState.objects.filter(image=OuterRef("pk"), no_objects=True)
    marked = Exists(accepted) | Exists(no_obj)
    return (dataset.images.filter(status=DatasetImage.Status.OK)
            .annotate(is_marked=marked, is_annotated=marked & ~Exists(pending), is_no_objects=Exists(no_obj),
                      n_boxes=Count("boxes", distinct=True),
                      n_pending=Count("boxes", filter=Q(boxes__accepted=False), distinct=True))
            .order_by("id"))


def dataset_progress(*, dataset: Dataset) -> dict:
    """``{annotated, total, boxes, pending}`` for the dataset's readable photos
    (two aggregate queries: it is answered after every box save)."""
    photos = readable_images(dataset).aggregate(total=Count("id"), annotated=Count("id", filter=Q(is_annotated=True)))
    boxes = Box.objects.filter(image__dataset=dataset).aggregate(
        boxes=Count("id", filter=Q(accepted=True)), pending=Count("id", filter=Q(accepted=False)))
    return {**photos, **boxes}


def annotation_image_get(*, dataset: Dataset, image_id: int) -> DatasetImage:
    img = dataset.images.filter(pk=image_id, status=DatasetImage.Status.OK).first()
    if img is None:
        raise Http404("No such photo")
    return img


def image_neighbours(*, dataset: Dataset, image: DatasetImage) -> dict:
    """Ids of the previous and next photo and of the next photo still to
    annotate (after this one, wrapping round; None when all are done)."""
    qs = readable_images(dataset)
    prev_id = qs.filter(pk__lt=image.pk).order_by("-id").values_list("id", flat=True).first()
    next_id = qs.filter(pk__gt=image.pk).values_list("id", flat=True).first()
    todo = qs.filter(is_annotated=False).exclude(pk=image.pk)
    nxt = todo.filter(pk__gt=image.pk).values_list("id", flat=True).first() or todo.values_list("id", flat=True).first()
    index = qs.filter(pk__lt=image.pk).count() + 1
    return {"prev_id": prev_id, "next_id": next_id, "next_unannotated_id": nxt, "index": index}


def first_unannotated(*, dataset: Dataset) -> int | None:
    qs = readable_images(dataset)
    return qs.filter(is_annotated=False).values_list("id", flat=True).first() or qs.values_list("id", flat=True).first()


def _iso(t):
    return t.isoformat() if t else None


def box_to_dict(box: Box) -> dict:
    """The JSON shape of a box in the annotation API."""
    return {
        "id": box.pk, "class_id": box.label_id, "class_name": box.label.name, "label_map_id": box.label.class_id,
        "xmin": box.xmin, "ymin": box.ymin, "xmax": box.xmax, "ymax": box.ymax,
        "source": box.source, "detector": box.detector, "score": box.score, "accepted": box.accepted,
        "revision": box.revision,
        "created_by": box.created_by.get_username() if box.created_by else None, "created_at": _iso(box.created_at),
        "updated_by": box.updated_by.get_username() if box.updated_by else None, "updated_at": _iso(box.updated_at),
    }


def image_payload(*, dataset: Dataset, image: DatasetImage) -> dict:
    """Everything the annotation screen needs for one photo."""
    state = ImageState.objects.filter(image=image).first()
    boxes = image.boxes.select_related("label", "created_by", "updated_by").order_by("id")
    nb = image_neighbours(dataset=dataset, image=image)
    url = lambda i: reverse("annotation:annotate", args=[dataset.pk, i]) if i else None  # noqa: E731
    return {
        "image": {"id": image.pk, "name": image.original_name, "width": image.width, "height": image.height,
                  "url": image.file.url if image.file else None,
                  "no_objects": bool(state and state.no_objects), **nb,
                  "prev_url": url(nb["prev_id"]), "next_url": url(nb["next_id"]),
                  "next_unannotated_url": url(nb["next_unannotated_id"])},
        "boxes": [box_to_dict(b) for b in boxes],
        "classes": [{"id": c.pk, "label_map_id": c.class_id, "name": c.name} for c in dataset.classes.all()],
        "progress": dataset_progress(dataset=dataset),
    }
