"""Types shared by the annotation readers and writers, and the one validator
every reader goes through."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Collection, Mapping

from vision.boxes import Box, box_check, coordinate_text
from vision.detection_io.label_map import label_name_problem
from vision.detection_io.names import AMBIGUOUS, BASE_NAME, CASE, MISSING, PhotoIndex


@dataclass(frozen=True)
class LabeledBox:
    """One box: pixel ``(xmin, ymin, xmax, ymax)`` floats and its class name."""

    box: Box
    label: str


@dataclass(frozen=True)
class ImageAnnotation:
    """The boxes of one photo.

    Attributes:
        filename: the photo's name, relative path with ``/``, e.g.
            ``"dlib_faces/images/2007_007763.jpg"``: as the writer was given
            it, or (from a reader) the dataset's name for the photo the file
            means (``PhotoIndex.resolve``).
        width, height: size of the EXIF-corrected photo in pixels.
        boxes: its boxes (may be empty: a photo with no objects).
    """

    filename: str
    width: int
    height: int
    boxes: tuple[LabeledBox, ...] = ()


#: ``Problem.code`` values the importer treats specially.
PHOTO_NOT_IN_DATASET = "photo_not_in_dataset"  # a box for a photo the dataset does not hold: skipped (a warning)
MATCHED_BY_BASE_NAME = "matched_by_base_name"  # the name's folders were dropped to find the photo (a warning)
CLIPPED = "clipped"


@dataclass(frozen=True)
class Problem:
    """Something a reader found, for the user.

    Attributes:
        where: ``"line 7"``, ``"x.xml, object 2"``, ``"annotation id 15"``...
        message: a sentence.
        fatal: True when the row (or file) is refused: unknown class, empty
            box...; False for a warning or notice (a box clipped to the photo,
            a crowd region or a photo not in the dataset skipped).
        field: the column at fault (``"filename"``, ``"xmax"``, ``"class"``,
            ``"xmin, xmax"``...); ``""`` for the whole row or file.
        code: a short name for the kind of problem (``"unknown_class"``,
            :data:`PHOTO_NOT_IN_DATASET`...); ``""`` if none.
        row: the refused box as the file wrote it, in ``HEADER`` order
            ``(filename, xmin, ymin, xmax, ymax, class)`` text, so it can be
            written back out to fix; ``()`` when the problem is not one box.
    """

    where: str
    message: str
    fatal: bool = True
    field: str = ""
    code: str = ""
    row: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class ParseResult:
    """What a reader made of a file: the valid boxes grouped by photo (photos
    mentioned without boxes included), and every problem found."""

    images: tuple[ImageAnnotation, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when nothing refuses the import."""
        return not any(p.fatal for p in self.problems)

    @property
    def n_boxes(self) -> int:
        return sum(len(i.boxes) for i in self.images)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.fatal]

    @property
    def notices(self) -> list[Problem]:
        return [p for p in self.problems if not p.fatal]


def _cell(v) -> str:
    """A coordinate as a file would write it (for a refused row)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return coordinate_text(v)
    return str(v)


def _box_field(values) -> str:
    """The coordinate(s) :func:`vision.boxes.box_check` refused ``values`` for
    (called after it raised): the first non-numeric one, the pair of an empty
    box, or all four for a box wholly outside the photo."""
    nums = []
    for name, v in zip(("xmin", "ymin", "xmax", "ymax"), values):
        try:
            f = float(v.strip() if isinstance(v, str) else v)
        except (TypeError, ValueError):
            return name
        if not math.isfinite(f):
            return name
        nums.append(f)
    if len(nums) != 4:
        return "xmin, ymin, xmax, ymax"
    if nums[0] >= nums[2]:
        return "xmin, xmax"
    if nums[1] >= nums[3]:
        return "ymin, ymax"
    return "xmin, ymin, xmax, ymax"


@dataclass
class Collector:
    """Validates boxes one by one against the photos and the label map.

    Args:
        sizes: the dataset's photos: a :class:`~vision.detection_io.names.PhotoIndex`
            or a mapping photo name -> ``(width, height)`` of the EXIF-corrected
            photo. Names in the file are matched as ``PhotoIndex.resolve`` says;
            a box for a photo not there is skipped with a warning
            (:data:`PHOTO_NOT_IN_DATASET`), one whose name differs only in case
            or fits several photos is refused.
        classes: allowed class names; ``None`` accepts any valid name
            (:func:`~vision.detection_io.label_map.label_name_problem`).
    """

    sizes: Mapping[str, tuple[int, int]]
    classes: Collection[str] | None = None
    problems: list[Problem] = field(default_factory=list)
    _boxes: "OrderedDict[str, list[LabeledBox]]" = field(default_factory=OrderedDict)

    def __post_init__(self):
        self.index = PhotoIndex.from_sizes(self.sizes)

    def problem(self, where: str, message: str, fatal: bool = True, *, field: str = "", code: str = "",
                row: tuple[str, ...] = ()) -> None:
        self.problems.append(Problem(where, message, fatal, field, code, row))

    def _photo(self, where: str, filename: str, row: tuple[str, ...], quiet: bool) -> str | None:
        """The dataset's name for ``filename``, or None (with a problem unless ``quiet``)."""
        filename = (filename or "").strip()
        if not filename:
            if not quiet:
                self.problem(where, "The file name is empty.", field="filename", code="empty_filename", row=row)
            return None
        m = self.index.resolve(filename)
        shown = filename[:200]
        if m.how == MISSING:
            if not quiet:
                self.problem(where, f"Skipped: photo not in this dataset (“{shown}”).", False, field="filename",
                             code=PHOTO_NOT_IN_DATASET, row=row)
        elif m.how == CASE:
            if not quiet:
                self.problem(where, f"No photo is named “{shown}”; did you mean “{m.candidates[0]}”? "
                                    "The names differ only in upper/lower case.",
                             field="filename", code="name_case", row=row)
        elif m.how == AMBIGUOUS:
            if not quiet:
                self.problem(where, f"“{shown}” fits {len(m.candidates)}{'+' if len(m.candidates) == 5 else ''} "
                                    f"photos ({', '.join(f'“{c}”' for c in dict.fromkeys(m.candidates[:3]))}); "
                                    "write the name with its folders as the photo was uploaded, or rename one.",
                             field="filename", code="ambiguous_name", row=row)
        elif m.how == BASE_NAME and not quiet:
            self.problem(where, f"“{shown}” was matched by its base name to the photo “{m.name}” (its folders "
                                "were ignored).", False, field="filename", code=MATCHED_BY_BASE_NAME, row=row)
        return m.name

    def mention(self, where: str, filename: str, *, quiet: bool = False) -> bool:
        """Record a photo (even without boxes); False if it is not one of the
        dataset's (with a problem unless ``quiet``: a file listing photos it
        has no box for need not say anything about them)."""
        name = self._photo(where, filename, (), quiet)
        if name is None:
            return False
        self._boxes.setdefault(name, [])
        return True

    def add(self, where: str, filename: str, values, label: str) -> None:
        """Validate one box; keep it (clipped, with a notice) or record why not.

        Args:
            where: ``"line 7"``...
            filename: the photo's name as the file writes it.
            values: ``(xmin, ymin, xmax, ymax)`` pixels, numbers or text.
            label: the class name.
        """
        row = (str(filename or ""), *(_cell(v) for v in values), str(label or ""))
        name = self._photo(where, filename, row, quiet=False)
        if name is None:
            return
        label = (label or "").strip()
        bad_name = label_name_problem(label)
        if bad_name:
            self.problem(where, bad_name, field="class", code="invalid_class", row=row)
            return
        if self.classes is not None and label not in self.classes:
            self.problem(where, f"Unknown class “{label[:200]}”: it is not in the label map.", field="class",
                         code="unknown_class", row=row)
            return
        width, height = self.index[name]
        try:
            checked = box_check(values, width=width, height=height)
        except ValueError as err:
            self.problem(where, str(err), field=_box_field(values), code="invalid_box", row=row)
            return
        if checked.clipped:
            self.problem(where, "The box reached outside the photo and was clipped to "
                                f"({', '.join(f'{v:g}' for v in checked.box)}).", fatal=False,
                         field=_box_field_clipped(values, checked.box), code=CLIPPED, row=row)
        self._boxes.setdefault(name, []).append(LabeledBox(checked.box, label))

    def result(self) -> ParseResult:
        """The boxes kept, grouped by photo under the dataset's name for it, and every problem."""
        images = tuple(ImageAnnotation(name, *self.index[name], tuple(boxes)) for name, boxes in self._boxes.items())
        return ParseResult(images=images, problems=tuple(self.problems))


def _box_field_clipped(values, box) -> str:
    """The coordinates that clipping changed, e.g. ``"xmin"``."""
    return ", ".join(n for n, v, c in zip(("xmin", "ymin", "xmax", "ymax"), values, box) if float(v) != c)


def decode_text(data: bytes | str, what: str) -> str:
    """UTF-8 text with or without a BOM; ``ValueError`` with a sentence otherwise."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"The {what} is not UTF-8 text (byte {err.start} cannot be read); "
                         "save it as UTF-8 and try again.") from None
