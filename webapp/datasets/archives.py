"""Reading an upload's archive or folder: which entries are safe and wanted,
and which folder holds the classes (``dataset_import``, and the upload's
check before it; annotation imports read archives the same way)."""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable

IGNORED_PARTS = ("__MACOSX",)
#: File name endings taken for photos when reading an archive's layout (which folder holds the
#: classes); the content decides whether a file is a readable photo, never its name.
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff",
                            ".heic", ".heif", ".avif", ".ppm", ".pgm", ".pnm"})
NOT_A_PHOTO_BESIDE = "Beside the class folders and not a photo (a note, a licence): skipped."
NOT_IN_A_CLASS = "Not inside a class folder: put each class's photos in a folder named after it."


def archive_path_ignored(parts: tuple[str, ...]) -> bool:
    """Hidden files and macOS resource forks inside an archive: skipped without a word."""
    return any(p.startswith(".") or p in IGNORED_PARTS for p in parts)


def archive_path_parts(name: str) -> tuple[str, ...] | None:
    """Path components of an archive member, or None if it could escape the
    folder (absolute, drive letter, ``..``) — the "zip slip" of CVE-2018-1002200."""
    name = name.replace("\\", "/")
    p = PurePosixPath(name)
    drive = p.parts[0][:2] if p.parts else ""  # "C:" (a Windows drive), not any colon: "12:30.jpg" is a name
    if p.is_absolute() or (drive[1:] == ":" and drive[:1].isascii() and drive[:1].isalpha()) or ".." in p.parts:
        return None
    return tuple(part for part in p.parts if part not in ("", "."))


def named_like_photo(part: str) -> bool:
    """Whether a file name ends like a photo's (:data:`PHOTO_SUFFIXES`, any case)."""
    return PurePosixPath(part).suffix.lower() in PHOTO_SUFFIXES


def archive_class_root(paths: Iterable[tuple[str, ...]]) -> tuple[str, ...]:
    """The folder of an archive whose subfolders are the classes: ``()`` for
    the top, or the wrapping folders to look through.

    One folder is looked through while it is the only folder at its level,
    no photo sits beside it, it holds subfolders and no photo of its own: so
    ``categories/SOURCE.md`` next to ``categories/daisy/1.jpg`` and
    ``categories/rose/2.jpg`` gives the classes ``daisy`` and ``rose``, while
    ``daisy/1.jpg`` next to ``daisy/close-ups/2.jpg`` stays the one class
    ``daisy``. Whether a file is a photo is judged here by its name ending
    (:data:`PHOTO_SUFFIXES`); hidden files should be left out beforehand.

    Args:
        paths: the path components of each file (``archive_path_parts``).
    """
    paths = [tuple(p) for p in paths]
    prefix: tuple[str, ...] = ()
    while True:
        n = len(prefix)
        inside = [p[n:] for p in paths if p[:n] == prefix and len(p) > n]
        folders = {r[0] for r in inside if len(r) >= 2}
        if len(folders) != 1 or any(len(r) == 1 and named_like_photo(r[0]) for r in inside):
            return prefix
        (only,) = folders
        sub = [r[1:] for r in inside if r[0] == only]
        if not any(len(s) >= 2 for s in sub) or any(len(s) == 1 and named_like_photo(s[0]) for s in sub):
            return prefix
        prefix += (only,)


def archive_classes(names: Iterable[str]) -> dict[str, int]:
    """The classes an import of an archive with these member names would
    make, and how many files each would get (before decoding them), read the
    way :func:`dataset_import` reads them: hidden files, unsafe paths and
    files beside the class folders left out, wrapping folders looked through.

    Args:
        names: the archive's member names (``ZipFile.namelist()``), folders included or not.

    Returns:
        ``{class name: number of files}``, in first-seen order (empty: no class folder).
    """
    parts = [p for n in names if not n.endswith("/") and (p := archive_path_parts(n)) and not archive_path_ignored(p)]
    root = archive_class_root(parts)
    counts: dict[str, int] = {}
    for p in parts:
        if p[:len(root)] == root and len(p) >= len(root) + 2:
            key = p[len(root)].strip()
            counts[key] = counts.get(key, 0) + 1
    return counts


def entries_from_zip(zf: zipfile.ZipFile) -> Iterable[tuple[str, tuple[str, ...] | None, Callable[[], bytes], int]]:
    """``(name, path parts or None when unsafe, read(), size in bytes)`` of each file of an open zip."""
    for info in zf.infolist():
        if not info.is_dir():
            yield info.filename, archive_path_parts(info.filename), (lambda i=info: zf.read(i)), info.file_size


def entries_from_folder(root: Path) -> Iterable[tuple[str, tuple[str, ...], Callable[[], bytes], int]]:
    """The same for each regular file under ``root`` (symbolic links left out), in name order."""
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(root).as_posix()
            yield rel, tuple(PurePosixPath(rel).parts), p.read_bytes, p.stat().st_size
