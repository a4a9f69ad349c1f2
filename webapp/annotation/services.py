"""Writes for annotation: boxes (with optimistic concurrency), the per-photo
"no objects" mark, detection datasets, their classes, photos and annotators."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from vision.boxes import box_check
from vision.detection_io.label_map import MAX_NAME_LENGTH, label_name_problem
from webapp.annotation.models import Box, ImageState
from webapp.datasets.models import Dataset, DatasetClass, DatasetImage
from webapp.datasets.services import dataset_class_get_or_create

ANNOTATORS_GROUP = "annotators"
MAX_CLASS_NAME = MAX_NAME_LENGTH


class BoxConflict(Exception):
    """Someone else changed or deleted the box since the client loaded it.

    Attributes:
        message: a sentence for the annotator.
        current: the box as it is now, or None if it was deleted.
    """

    def __init__(self, message: str, current: Box | None = None):
        super().__init__(message, current)
        self.message, self.current = message, current


def _checked_box(image: DatasetImage, values) -> tuple[float, float, float, float]:
    try:
        checked = box_check(values, width=image.width, height=image.height)
    except ValueError as err:
        raise ValidationError(str(err), code="invalid_box") from None
    return tuple(round(v, 2) for v in checked.box)


def _label_of(image: DatasetImage, label_id) -> DatasetClass:
    try:
        label = DatasetClass.objects.filter(dataset_id=image.dataset_id, pk=int(label_id)).first()
    except (TypeError, ValueError):
        label = None
    if label is None:
        raise ValidationError("Choose one of this dataset's classes for the box.", code="invalid_class")
    return label


def _state(image: DatasetImage) -> ImageState:
    return ImageState.objects.get_or_create(image=image)[0]


def box_create(*, image: DatasetImage, label_id, box, user, source: str = Box.Source.HUMAN,
               score: float | None = None, detector: str = "") -> Box:
    """Add a box to a photo. A box reaching outside the photo is clipped to it.

    Raises:
        ValidationError: unknown class, non-numeric, empty or wholly outside box,
            or the photo is unreadable.
    """
    if image.status != DatasetImage.Status.OK:
        raise ValidationError("This photo could not be read, so it cannot hold boxes.", code="unreadable")
    label = _label_of(image, label_id)
    xyxy = _checked_box(image, box)
    with transaction.atomic():
        obj = Box.objects.create(image=image, label=label, xmin=xyxy[0], ymin=xyxy[1], xmax=xyxy[2], ymax=xyxy[3],
                                 source=source, score=score, detector=detector,
                                 accepted=source == Box.Source.HUMAN, created_by=user, updated_by=user)
        ImageState.objects.filter(image=image, no_objects=True).update(no_objects=False, updated_by=user)
    return obj


def _locked_box(*, box_id: int, image: DatasetImage, revision) -> Box:
    box = Box.objects.select_for_update().filter(pk=box_id, image=image).first()
    if box is None:
        raise BoxConflict("Someone else deleted this box meanwhile; the photo's boxes were reloaded.")
    try:
        revision = int(revision)
    except (TypeError, ValueError):
        raise ValidationError("The box's revision is missing; reload the photo.", code="invalid_revision") from None
    if box.revision != revision:
        who = box.updated_by.get_username() if box.updated_by else "someone else"
        when = timezone.localtime(box.updated_at).strftime("%H:%M:%S")
        raise BoxConflict(f"{who} changed this box at {when} while you were editing it; "
                          "your change was not saved and the photo's boxes were reloaded.", current=box)
    return box


def box_update(*, box_id: int, image: DatasetImage, revision, user, label_id=None, box=None,
               accept: bool = False) -> Box:
    """Change a box's class and/or coordinates, or accept a machine box.

    Args:
        revision: the revision the client last saw; must equal the stored one.
        label_id: new class (``DatasetClass`` pk) or None to keep it.
        box: new ``(xmin, ymin, xmax, ymax)`` pixels (a None inside keeps that
            coordinate), or None to keep the box.
        accept: mark a machine box accepted (any change also accepts it).

    Raises:
        BoxConflict: the box changed or was deleted since ``revision``.
        ValidationError: bad class or box.
    """
    with transaction.atomic():
        obj = _locked_box(box_id=box_id, image=image, revision=revision)
        if label_id is not None:
            obj.label = _label_of(image, label_id)
        if box is not None:  # a None coordinate keeps the stored one
            merged = [old if new is None else new for old, new in zip(obj.xyxy, box)]
            obj.xmin, obj.ymin, obj.xmax, obj.ymax = _checked_box(image, merged)
        obj.accepted = True if (accept or label_id is not None or box is not None) else obj.accepted
        obj.revision += 1
        obj.updated_by = user
        obj.save()
    return obj


def box_delete(*, box_id: int, image: DatasetImage, revision, user) -> None:
    """Delete a box the client saw at ``revision``.

    Raises:
        BoxConflict: it changed since (or was already deleted).
    """
    with transaction.atomic():
        _locked_box(box_id=box_id, image=image, revision=revision).delete()


def image_no_objects_set(*, image: DatasetImage, value: bool, user) -> ImageState:
    """Mark (or unmark) a photo as holding nothing to box.

    Raises:
        ValidationError: marking a photo that still has boxes.
    """
    if value and image.boxes.exists():
        raise ValidationError("This photo has boxes; delete them before marking it “no objects”.", code="has_boxes")
    with transaction.atomic():
        state = _state(image)
        state.no_objects, state.updated_by = bool(value), user
        state.save()
    return state


# ----- datasets -----
def class_name_clean(name: str) -> str:
    """A class name as stored: stripped, 1..200 characters, any letters,
    commas, quotes and spaces allowed (the exporters quote and escape them);
    the rule is ``vision.detection_io.label_map.label_name_problem``, which
    the annotation readers apply too.

    Raises:
        ValidationError: empty, too long, or containing a line break or a
            control character (it would break a label map and most tools).
    """
    name = (name or "").strip()
    problem = label_name_problem(name)
    if problem:
        raise ValidationError(problem, code="invalid_class")
    return name


def detection_class_add(*, dataset: Dataset, name: str) -> DatasetClass:
    """The label-map entry ``name`` of ``dataset`` (created with the next id if new)."""
    return dataset_class_get_or_create(dataset=dataset, name=class_name_clean(name))


def detection_dataset_create(*, name: str, description: str = "", classes: list[str] = (), user=None) -> Dataset:
    """A new detection dataset with its label map in the given order."""
    with transaction.atomic():
        ds = Dataset.objects.create(name=name.strip()[:200], kind=Dataset.Kind.DETECTION, description=description,
                                    created_by=user if getattr(user, "is_authenticated", False) else None)
        for c in classes:
            if c.strip():
                detection_class_add(dataset=ds, name=c)
    return ds


def dataset_annotator_add(*, dataset: Dataset, username: str):
    """Assign a user to the dataset and put them in the ``annotators`` group.

    Raises:
        ValidationError: no such user.
    """
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ValidationError(f"There is no user called “{username.strip()[:150]}”.", code="unknown_user")
    dataset.members.add(user)
    user.groups.add(Group.objects.get_or_create(name=ANNOTATORS_GROUP)[0])
    return user
