"""``label_map.pbtxt``: the TF Object Detection API's label map
(``StringIntLabelMap`` in protobuf text format), ids from 1 (0 is background)::

    item {
      id: 1
      name: 'face'
    }

Names are written in single quotes with ``\\`` and ``'`` escaped (protobuf
text format); reading also accepts double quotes, octal/hex byte escapes
(as protobuf's C++ printer writes non-ASCII) and ``display_name``.
"""

from __future__ import annotations

import re
from typing import Iterable

#: Longest class name accepted (characters): label maps, CSV and VOC carry any
#: length, but a name this long is a pasted sentence, not a class.
MAX_NAME_LENGTH = 200
_ESC_OUT = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESC_IN = {"n": b"\n", "r": b"\r", "t": b"\t", "\\": b"\\", "'": b"'", '"': b'"', "a": b"\a", "b": b"\b",
           "f": b"\f", "v": b"\v", "?": b"?"}
_TOKEN = re.compile(r"""\s*(?:(?P<comment>\#[^\n]*)|(?P<word>[A-Za-z_][A-Za-z_0-9]*)|(?P<punct>[:{}])|"""
                    r"""(?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")|(?P<int>-?\d+))""", re.S)


def label_name_problem(name: str) -> str | None:
    """Why ``name`` (already stripped) cannot be a class name, as a sentence, or None.

    A name has 1..:data:`MAX_NAME_LENGTH` characters, any letters, commas,
    quotes and spaces (the writers quote and escape them), and no line break
    or other control character (it would break a label map and most tools).
    """
    if not name:
        return "The class name is empty."
    if len(name) > MAX_NAME_LENGTH:
        return f"A class name can have at most {MAX_NAME_LENGTH} characters."
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "A class name cannot contain line breaks or control characters."
    return None


def _quote(name: str) -> str:
    return "'" + "".join(_ESC_OUT.get(ch, ch) for ch in name) + "'"


def label_map_pbtxt(classes: Iterable[tuple[int, str]]) -> str:
    """The label map as text.

    Args:
        classes: ``(id, name)`` pairs, ids ≥ 1.

    Raises:
        ValueError: an id below 1, or a repeated id or name.
    """
    out, ids, names = [], set(), set()
    for cid, name in classes:
        if int(cid) < 1:
            raise ValueError(f"Label map ids start at 1 (0 is background); got {cid}.")
        if cid in ids or name in names:
            raise ValueError(f"Repeated label map entry {cid}: {name!r}.")
        ids.add(cid)
        names.add(name)
        out.append(f"item {{\n  id: {int(cid)}\n  name: {_quote(name)}\n}}\n")
    return "".join(out)


def _unquote(tok: str) -> str:
    body, out, i = tok[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            out.append(int(m.group(), 8) & 0xFF)
            i += 1 + len(m.group())
        elif nxt in "xX":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            if not m:
                raise ValueError("A \\x escape needs hex digits.")
            out.append(int(m.group(), 16))
            i += 2 + len(m.group())
        elif nxt in _ESC_IN:
            out += _ESC_IN[nxt]
            i += 2
        else:
            raise ValueError(f"Unknown escape \\{nxt} in a name.")
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("A name is not valid UTF-8.") from None


def label_map_parse(text: str) -> list[tuple[int, str]]:
    """Read a label map.

    Returns:
        ``[(id, name), ...]`` in file order.

    Raises:
        ValueError: with a sentence: syntax error, missing id or name, id < 1,
            repeated id or name.
    """
    text = text.lstrip("\ufeff")
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            line = text.count("\n", 0, pos) + 1
            raise ValueError(f"label_map.pbtxt line {line}: cannot read {text[pos:pos + 20].strip()!r}.")
        pos = m.end()
        if m.lastgroup != "comment":
            tokens.append((m.lastgroup, m.group(m.lastgroup)))
    items, i = [], 0

    def expect(kind, value=None):
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != kind or (value is not None and tokens[i][1] != value):
            got = tokens[i][1] if i < len(tokens) else "the end of the file"
            raise ValueError(f"label_map.pbtxt: expected {value or kind}, found {got!r}.")
        i += 1
        return tokens[i - 1][1]

    while i < len(tokens):
        expect("word", "item")
        if i < len(tokens) and tokens[i] == ("punct", ":"):
            i += 1
        expect("punct", "{")
        fields = {}
        while i < len(tokens) and tokens[i] != ("punct", "}"):
            key = expect("word")
            expect("punct", ":")
            kind, value = tokens[i] if i < len(tokens) else (None, None)
            i += 1
            if kind == "int":
                fields[key] = int(value)
            elif kind == "str":
                fields[key] = _unquote(value)
            else:
                raise ValueError(f"label_map.pbtxt: {key} needs a value.")
        expect("punct", "}")
        if "id" not in fields or "name" not in fields and "display_name" not in fields:
            raise ValueError("label_map.pbtxt: every item needs an id and a name.")
        items.append((fields["id"], fields.get("name", fields.get("display_name"))))
    ids = [c for c, _ in items]
    names = [n for _, n in items]
    if any(c < 1 for c in ids):
        raise ValueError("label_map.pbtxt: ids start at 1 (0 is background).")
    if len(set(ids)) != len(ids) or len(set(names)) != len(names):
        raise ValueError("label_map.pbtxt: an id or a name appears twice.")
    return items
