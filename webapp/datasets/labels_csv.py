"""A ``labels.csv`` beside the photos of an upload: the group (class) of each
photo named in a table instead of by its folder, and optionally its coarse
group (issue 17: the seed's colour group, whose other groups give the hard
negatives when an embedding is learned).

Columns ``filename,group[,coarse_group]``, with or without that header
(``class`` or ``label`` are taken for ``group``, ``coarse`` for
``coarse_group``); the file names are paths relative to the CSV's folder.
Every usable row is kept; a row that cannot be used is reported with its
line and the reason, never dropped in silence."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Iterable

from webapp.datasets.archives import archive_path_parts

LABELS_CSV = "labels.csv"
_FILE_HEADERS = ("filename", "file", "path", "image")
_GROUP_HEADERS = ("group", "class", "label")
_COARSE_HEADERS = ("coarse_group", "coarse")


@dataclass
class LabelsCsv:
    """A read ``labels.csv``.

    Attributes:
        groups: ``{file path relative to the CSV's folder (posix): group name}``.
        lines: ``{file path: line number}`` (1-based, the header counted), for messages.
        coarse: ``{group: coarse group}`` for the groups given one.
        problems: ``[(where, reason)]``: rows that could not be used ("labels.csv, line 7").
        notes: sentences about what was read that the user should know (coarse groups given
            on some rows only, one group given two coarse groups).
    """

    groups: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    coarse: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def group_counts(self) -> dict[str, int]:
        """``{group: number of files the CSV gives it}`` in first-seen order."""
        counts: dict[str, int] = {}
        for g in self.groups.values():
            counts[g] = counts.get(g, 0) + 1
        return counts

    def match(self, relative: str, basenames: dict[str, int]) -> str | None:
        """The CSV's file name for a photo at ``relative`` (posix path under the CSV's folder):
        the same path, or the same bare name when the CSV gives a bare name and ``basenames``
        (``{bare name: photos of the upload with it}``) says only one photo has it."""
        if relative in self.groups:
            return relative
        bare = relative.rsplit("/", 1)[-1]
        return bare if bare in self.groups and basenames.get(bare) == 1 else None


def labels_csv_find(paths: Iterable[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The path components of the upload's ``labels.csv`` (any case), or None.

    Raises:
        ValueError: more than one (sentence naming them): which one to follow is not guessed.
    """
    found = [p for p in paths if p and p[-1].lower() == LABELS_CSV]
    if len(found) > 1:
        raise ValueError(f"The upload holds {len(found)} labels.csv files ({', '.join('/'.join(p) for p in found)}): "
                         "keep one, beside the photos it names.")
    return found[0] if found else None


def labels_csv_read(data: bytes) -> LabelsCsv:
    """Read a ``labels.csv`` (module docstring).

    Args:
        data: the file's bytes, UTF-8 (a byte-order mark is allowed).

    Raises:
        ValueError: not UTF-8 text, or no row names a file (sentence for the user).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"labels.csv is not UTF-8 text (byte {err.start}): save it as UTF-8 and upload again.") from None
    rows = list(csv.reader(io.StringIO(text)))
    out = LabelsCsv()
    columns = (0, 1, 2)
    start = 0
    if rows and rows[0] and rows[0][0].strip().lower() in _FILE_HEADERS:
        head = [c.strip().lower() for c in rows[0]]
        group = next((head.index(h) for h in _GROUP_HEADERS if h in head), 1)
        coarse = next((head.index(h) for h in _COARSE_HEADERS if h in head), None)
        columns, start = (0, group, coarse), 1
    given: dict[str, dict[str, int]] = {}  # group -> {coarse group: first line}
    without: dict[str, int] = {}  # group -> rows without a coarse group
    for n, row in enumerate(rows[start:], start=start + 1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        where = f"{LABELS_CSV}, line {n}"
        name, group = _cell(cells, columns[0]), _cell(cells, columns[1])
        if not name or not group:
            out.problems.append((where, "No file name." if not name else f"No group for “{name}”."))
            continue
        parts = archive_path_parts(name)
        if not parts:
            out.problems.append((where, f"“{name}” points outside the upload's folder; row skipped for safety."))
            continue
        key = "/".join(parts)
        if key in out.groups:
            if out.groups[key] != group:
                out.problems.append((where, f"“{name}” is named again with the group “{group}”; line "
                                            f"{out.lines[key]} gave “{out.groups[key]}”, which is kept."))
            continue
        out.groups[key], out.lines[key] = group, n
        coarse = _cell(cells, columns[2])
        if coarse:
            given.setdefault(group, {}).setdefault(coarse, n)
        else:
            without[group] = without.get(group, 0) + 1
    if not out.groups:
        raise ValueError("labels.csv names no file: each row should read filename,group[,coarse_group].")
    _coarse_groups(out, given, without)
    return out


def _cell(cells: list[str], i: int | None) -> str:
    return cells[i] if i is not None and i < len(cells) else ""


def _coarse_groups(out: LabelsCsv, given: dict[str, dict[str, int]], without: dict[str, int]) -> None:
    """A coarse group belongs to a group: each group takes the one its rows give (the first,
    with a note, when they give several); rows without one take their group's; groups given
    none at all are named in a note when others have one."""
    for group, values in given.items():
        first = min(values, key=values.get)
        out.coarse[group] = first
        if len(values) > 1:
            others = ", ".join(f"“{v}” (line {line})" for v, line in values.items() if v != first)
            out.notes.append(f"Group “{group}” is given more than one coarse group: “{first}” (line {values[first]}) "
                             f"is used, not {others}. A coarse group belongs to a whole group: fix labels.csv and "
                             "import it again to change it (photos already imported are not added twice).")
    if not given:
        return
    inherited = sum(n for g, n in without.items() if g in given)
    bare = [g for g in out.group_counts() if g not in given]
    if inherited:
        out.notes.append(f"{inherited} row{'s' * (inherited != 1)} give{'s' * (inherited == 1)} no coarse group but "
                         "belong to a group another row gives one to: that one is used for them.")
    if bare:
        shown = ", ".join(f"“{g}”" for g in bare[:8]) + (f" and {len(bare) - 8} more" if len(bare) > 8 else "")
        out.notes.append(f"{len(bare)} group{'s have' if len(bare) != 1 else ' has'} no coarse group ({shown}): "
                         "their hard negatives are drawn from any other group.")
