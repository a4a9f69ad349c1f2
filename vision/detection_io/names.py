"""Matching the photo names written in an annotation file to a dataset's photos.

Annotation files are written elsewhere: on Windows (``images\\a.jpg``), from
a folder the photos were not uploaded from (``images/a.jpg`` for a photo
uploaded as ``a.jpg``), or with a name typed in another case. The rules, in
order (the first that finds exactly one photo wins):

1. the name is the photo's name (slashes normalised to ``/``): ``exact``;
2. the name is the end of a photo's path (``a.jpg`` for ``raccoon/a.jpg``;
   the folders it writes agree with the photo's): ``suffix``;
3. the name's leading folders dropped, one at a time, until it is the end of
   a photo's path (``images/a.jpg`` for ``a.jpg``): ``base_name``, matched but
   worth a warning (the folders were ignored);
4. otherwise no match: a photo whose path ends with the same name in another
   case is offered as a hint (``case``), names shared by several photos are
   ``ambiguous``, anything else is ``missing`` (not in this dataset).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator, Mapping

EXACT, SUFFIX, BASE_NAME = "exact", "suffix", "base_name"
CASE, AMBIGUOUS, MISSING = "case", "ambiguous", "missing"


def name_parts(name: str) -> tuple[str, ...]:
    """The folders and file name of a path written with ``/`` or ``\\``
    (empty and ``.`` parts dropped): ``"./images\\\\a.jpg"`` -> ``("images", "a.jpg")``."""
    return tuple(p for p in str(name).strip().replace("\\", "/").split("/") if p not in ("", "."))


@dataclass(frozen=True)
class NameMatch:
    """What a name in an annotation file refers to.

    Attributes:
        how: ``exact``, ``suffix`` or ``base_name`` (matched); ``case``,
            ``ambiguous`` or ``missing`` (not matched).
        name: the matched photo's own name (as given to :class:`PhotoIndex`),
            or None.
        candidates: for ``case``: the photo(s) probably meant; for
            ``ambiguous``: the photos sharing the name (at most 5).
    """

    how: str
    name: str | None = None
    candidates: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.name is not None


class PhotoIndex(Mapping):
    """A dataset's photos by name, for the readers: a mapping photo name ->
    ``(width, height)`` pixels of the EXIF-corrected photo, plus
    :meth:`resolve` for the names annotation files write.

    Args:
        photos: ``(name, width, height)`` per photo; a name given twice
            matches neither photo (``ambiguous``).
    """

    def __init__(self, photos: Iterable[tuple[str, int, int]]):
        self._sizes: dict[str, tuple[int, int]] = {}
        self._count: dict[str, int] = {}
        self._suffix: dict[str, list[str]] = {}
        self._folded: dict[str, list[str]] = {}
        for name, width, height in photos:
            self._count[name] = self._count.get(name, 0) + 1
            if self._count[name] > 1:
                continue
            self._sizes[name] = (int(width), int(height))
            parts = name_parts(name)
            for i in range(len(parts)):
                key = "/".join(parts[i:])
                self._suffix.setdefault(key, []).append(name)
                self._folded.setdefault(key.casefold(), []).append(name)
        self._cache: dict[str, NameMatch] = {}

    @classmethod
    def from_sizes(cls, sizes: Mapping[str, tuple[int, int]]) -> "PhotoIndex":
        """An index of ``{name: (width, height)}`` (returned as is if already one)."""
        if isinstance(sizes, PhotoIndex):
            return sizes
        return cls((name, w, h) for name, (w, h) in sizes.items())

    # Mapping: the photos' own names
    def __getitem__(self, name: str) -> tuple[int, int]:
        return self._sizes[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sizes)

    def __len__(self) -> int:
        return len(self._sizes)

    def _unique(self, key: str, table: dict[str, list[str]]) -> tuple[str | None, list[str]]:
        names = table.get(key, [])
        if len(names) == 1 and self._count[names[0]] == 1:
            return names[0], names
        return None, names

    def resolve(self, name: str) -> NameMatch:
        """The photo a name written in an annotation file means (see the module docstring)."""
        if name in self._cache:
            return self._cache[name]
        self._cache[name] = match = self._resolve(name)
        return match

    def _resolve(self, name: str) -> NameMatch:
        parts = name_parts(name)
        if not parts:
            return NameMatch(MISSING)
        key = "/".join(parts)
        if self._count.get(key) == 1:
            return NameMatch(EXACT, key)
        if self._count.get(key, 0) > 1:
            return NameMatch(AMBIGUOUS, None, (key,) * min(self._count[key], 5))
        for i in range(len(parts)):
            found, names = self._unique("/".join(parts[i:]), self._suffix)
            if found is not None:
                return NameMatch(SUFFIX if i == 0 else BASE_NAME, found)
            if names:
                return NameMatch(AMBIGUOUS, None, tuple(names[:5]))
        for i in range(len(parts)):
            names = self._folded.get("/".join(parts[i:]).casefold(), [])
            if names:
                return NameMatch(CASE, None, tuple(names[:5]))
        return NameMatch(MISSING)
