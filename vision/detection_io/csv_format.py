"""``annotations.csv``: ``filename,xmin,ymin,xmax,ymax,class``, one line per box.

The seed's custom-dataset format (section 5, read there with pandas and turned
into TFRecords). Written with Python's ``csv`` module (RFC 4180: fields with
commas, quotes or line breaks are quoted, quotes doubled; CRLF line ends).
Read tolerantly: UTF-8 with or without a BOM, any of CRLF / LF / CR line
ends, columns found by header name.
"""

from __future__ import annotations

import csv
import io
from typing import Collection, Iterable, Mapping, TextIO

from vision.boxes import coordinate_text
from vision.detection_io.common import Collector, ImageAnnotation, ParseResult, Problem, decode_text

HEADER = ("filename", "xmin", "ymin", "xmax", "ymax", "class")


def annotations_csv_write(images: Iterable[ImageAnnotation], out: TextIO) -> int:
    """Write ``annotations.csv``.

    Args:
        images: photos and their boxes; a photo without boxes writes no line.
        out: a text stream opened with ``newline=""``.

    Returns:
        Number of box lines written.
    """
    w = csv.writer(out)
    w.writerow(HEADER)
    n = 0
    for img in images:
        for b in img.boxes:
            w.writerow([img.filename, *(coordinate_text(v) for v in b.box), b.label])
            n += 1
    return n


def annotations_csv_text(images: Iterable[ImageAnnotation]) -> str:
    """:func:`annotations_csv_write` into a string."""
    buf = io.StringIO(newline="")
    annotations_csv_write(images, buf)
    return buf.getvalue()


def _row_as_written(row: list[str], idx: list[int], n_columns: int) -> tuple[str, ...]:
    """A row with the wrong number of fields, in ``HEADER`` order, to write
    back out: fields past the header's count are joined with commas onto the
    last column (an unquoted comma in a class name, the usual cause), missing
    ones are empty."""
    row = list(row[:n_columns - 1]) + [",".join(row[n_columns - 1:])] if len(row) > n_columns else list(row)
    row += [""] * (n_columns - len(row))
    return tuple(row[i] for i in idx)


REFUSED_EXTRA = ("source", "field", "problem")


def refused_rows_csv_text(problems: Iterable[Problem]) -> str:
    """The refused rows as an ``annotations.csv`` to fix and import again.

    Columns: :data:`HEADER`, then ``source`` (file and line), ``field`` and
    ``problem`` (the reason); the reader ignores the last three. Only fatal
    problems about one box (``Problem.row`` set) are written.
    """
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(HEADER + REFUSED_EXTRA)
    for p in problems:
        if p.fatal and p.row:
            w.writerow([*p.row, p.where, p.field, p.message])
    return buf.getvalue()


def annotations_csv_read(data: bytes | str, *, sizes: Mapping[str, tuple[int, int]],
                         classes: Collection[str] | None = None) -> ParseResult:
    """Read and validate ``annotations.csv``.

    Args:
        data: the file's bytes (UTF-8, BOM allowed) or text.
        sizes: photo name -> ``(width, height)``; other names are reported.
        classes: allowed class names, or ``None`` for any.

    Returns:
        The valid boxes and the problems, each naming its line ("line 7"),
        its field and the row as written: unknown class, a file name that
        differs from a photo's only in case or fits several photos, wrong
        number of fields (an unquoted comma), non-numeric or non-finite
        coordinate, empty box (``xmin >= xmax`` or ``ymin >= ymax``), box
        wholly outside the photo (all refused); box partly outside (clipped, a
        notice); photo not in ``sizes`` (skipped, a warning); a name with
        folders matched by its base name (a warning).
    """
    c = Collector(sizes=sizes, classes=classes)
    try:
        text = decode_text(data, "CSV file")
    except ValueError as err:
        return ParseResult((), (Problem("file", str(err)),))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as err:
        return ParseResult((), (Problem("line 1", f"The CSV cannot be read: {err}."),))
    names = [h.strip().lower() for h in header or []]
    if not header or any(h not in names for h in HEADER):
        return ParseResult((), (Problem("line 1", "The first line must name the columns "
                                                  f"{','.join(HEADER)}; it is {','.join(header or [])[:200]!r}."),))
    idx = [names.index(h) for h in HEADER]
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if not row or all(not f.strip() for f in row):
                continue
            if len(row) != len(names):
                c.problem(where, f"Expected {len(names)} fields, found {len(row)} "
                                 "(a class name with a comma must be in double quotes).",
                          code="field_count", row=_row_as_written(row, idx, len(names)))
                continue
            f = [row[i] for i in idx]
            c.add(where, f[0], f[1:5], f[5])
    except csv.Error as err:
        c.problem(f"line {reader.line_num}", f"The CSV cannot be read: {err}.")
    return c.result()
