"""Detector training data outside the web app: a folder with ``annotations.csv`` (the
product's export and the shared sets' format), and the seeded train/validation split by photo.

The split keeps near-duplicate photos on one side: collected sets repeat photos under other
names (the raccoon set has byte-identical pairs and resized copies, its SOURCE.md), and a copy
on both sides would score the detector on a photo it trained on. Near-duplicates are found by
a 64-bit average hash of the 8×8 grey thumbnail (Krawetz 2011, "Looks Like It"), equal hashes
or at most :data:`DUPLICATE_BITS` differing bits.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from vision.training.detector import BoxedPhoto

VALIDATION_FRACTION = 0.3
"""The seed's 70/30 split (section 5)."""
DUPLICATE_BITS = 4
"""Average hashes this close (of 64 bits) mark near-duplicate photos."""


def read_folder(folder: str | Path, *, csv_name: str = "annotations.csv") -> tuple[list[BoxedPhoto], list[str], list[str]]:
    """Photos and boxes of a folder holding ``annotations.csv`` (``filename,xmin,ymin,xmax,ymax,class``).

    Returns:
        ``(photos, class_names, problems)``: one :class:`BoxedPhoto` per photo named in the CSV
        (labels index ``class_names``, sorted), and the CSV's problems in words ("line 7: …").

    Raises:
        FileNotFoundError: no ``annotations.csv`` in ``folder``.
    """
    from vision.detection_io.csv_format import annotations_csv_read
    from vision.errors import InvalidImageError
    from vision.images import displayed_size

    folder = Path(folder)
    data = (folder / csv_name).read_bytes()
    names = {row[0] for row in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:] if row}
    sizes = {}
    for n in names:
        try:  # boxes are drawn on the photo as displayed: EXIF orientation applied
            sizes[n] = displayed_size(folder / n)
        except (InvalidImageError, OSError):
            continue  # reported by the reader as a photo it does not know
    parsed = annotations_csv_read(data, sizes=sizes)
    classes = sorted({b.label for a in parsed.images for b in a.boxes})
    photos = [BoxedPhoto(str(folder / a.filename), tuple(tuple(b.box) for b in a.boxes),
                         tuple(classes.index(b.label) for b in a.boxes), a.filename) for a in parsed.images]
    return photos, classes, [f"{p.where}: {p.message}" for p in parsed.problems]


def average_hash(path: str | Path) -> int:
    """64-bit average hash of a photo (module docstring)."""
    with Image.open(path) as im:
        g = np.asarray(im.convert("L").resize((8, 8), Image.Resampling.BOX), np.float32)
    bits = (g > g.mean()).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def split(photos: Sequence[BoxedPhoto], *, seed: int = 0, validation: float = VALIDATION_FRACTION
          ) -> tuple[list[BoxedPhoto], list[BoxedPhoto]]:
    """Seeded split by photo, near-duplicates kept together (module docstring).

    Args:
        photos: the annotated photos; seed: the shuffle's; validation: share held out, 0..1.

    Returns:
        ``(train, validation)``; the validation side holds ``round(validation · n)`` photos or
        slightly more (a duplicate group is never cut).
    """
    hashes = []
    for p in photos:
        try:
            hashes.append(average_hash(p.path))
        except OSError:
            hashes.append(None)
    group = list(range(len(photos)))

    def root(i):
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(len(photos)):
        for j in range(i):
            if hashes[i] is not None and hashes[j] is not None and bin(hashes[i] ^ hashes[j]).count("1") <= DUPLICATE_BITS:
                group[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(photos)):
        groups.setdefault(root(i), []).append(i)
    order = np.random.default_rng(seed).permutation(sorted(groups))
    want = round(validation * len(photos))
    val: list[int] = []
    for g in order:
        if len(val) >= want:
            break
        val += groups[int(g)]
    held = set(val)
    return [p for i, p in enumerate(photos) if i not in held], [photos[i] for i in sorted(held)]
