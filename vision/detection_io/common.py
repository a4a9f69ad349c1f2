"""Types shared by the annotation readers and writers, and the one validator
every reader goes through."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Collection, Mapping

from vision.boxes import Box, box_check


@dataclass(frozen=True)
class LabeledBox:
    """One box: pixel ``(xmin, ymin, xmax, ymax)`` floats and its class name."""

    box: Box
    label: str


@dataclass(frozen=True)
class ImageAnnotation:
    """The boxes of one photo.

    Attributes:
        filename: the photo's name as written in the annotation file (relative
            path with ``/``), e.g. ``"dlib_faces/images/2007_007763.jpg"``.
        width, height: size of the EXIF-corrected photo in pixels.
        boxes: its boxes (may be empty: a photo with no objects).
    """

    filename: str
    width: int
    height: int
    boxes: tuple[LabeledBox, ...] = ()


@dataclass(frozen=True)
class Problem:
    """Something a reader found, for the user.

    Attributes:
        where: ``"line 7"``, ``"x.xml, object 2"``, ``"annotation id 15"``...
        message: a sentence.
        fatal: True when it refuses the import (unknown file, empty box...);
            False for a notice (a box clipped to the photo, a crowd region skipped).
    """

    where: str
    message: str
    fatal: bool = True

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


@dataclass
class Collector:
    """Validates boxes one by one against the photos' sizes and the label map.

    Args:
        sizes: photo name -> ``(width, height)`` of the EXIF-corrected photo.
            A name absent from it is an unknown file (fatal).
        classes: allowed class names; ``None`` accepts any non-empty name.
    """

    sizes: Mapping[str, tuple[int, int]]
    classes: Collection[str] | None = None
    problems: list[Problem] = field(default_factory=list)
    _boxes: "OrderedDict[str, list[LabeledBox]]" = field(default_factory=OrderedDict)

    def problem(self, where: str, message: str, fatal: bool = True) -> None:
        self.problems.append(Problem(where, message, fatal))

    def mention(self, where: str, filename: str) -> bool:
        """Record a photo (even without boxes); False (and a problem) if unknown."""
        filename = (filename or "").strip()
        if not filename:
            self.problem(where, "The file name is empty.")
            return False
        if filename not in self.sizes:
            self.problem(where, f"Unknown file “{filename[:200]}”: no photo of this dataset has that name.")
            return False
        self._boxes.setdefault(filename, [])
        return True

    def add(self, where: str, filename: str, values, label: str) -> None:
        """Validate one box; keep it (clipped, with a notice) or record why not."""
        if not self.mention(where, filename):
            return
        label = (label or "").strip()
        if not label:
            self.problem(where, "The class name is empty.")
            return
        if self.classes is not None and label not in self.classes:
            self.problem(where, f"Unknown class “{label[:200]}”: it is not in the label map.")
            return
        width, height = self.sizes[filename.strip()]
        try:
            checked = box_check(values, width=width, height=height)
        except ValueError as err:
            self.problem(where, str(err))
            return
        if checked.clipped:
            self.problem(where, "The box reached outside the photo and was clipped to "
                                f"({', '.join(f'{v:g}' for v in checked.box)}).", fatal=False)
        self._boxes[filename.strip()].append(LabeledBox(checked.box, label))

    def result(self) -> ParseResult:
        images = tuple(ImageAnnotation(name, *self.sizes[name], tuple(boxes)) for name, boxes in self._boxes.items())
        return ParseResult(images=images, problems=tuple(self.problems))


def decode_text(data: bytes | str, what: str) -> str:
    """UTF-8 text with or without a BOM; ``ValueError`` with a sentence otherwise."""
    if isinstance(data, str):
        return data.lstrip("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"The {what} is not UTF-8 text (byte {err.start} cannot be read); "
                         "save it as UTF-8 and try again.") from None
