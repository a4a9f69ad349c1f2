"""Alphabets, label encoding and the format rules a read line is checked against.

Index 0 of the model's output is the CTC blank (Keras' ``CTC`` loss and
``ops.ctc_decode`` take ``mask_index=0``); the alphabet's characters are
1..n in the order given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

DIGITS = "0123456789"
PLATE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#: A card number as printed: 16 digits in four groups of four (ISO/IEC 7812 PANs of 16 digits).
CARD_DIGITS = 16


@dataclass(frozen=True)
class Alphabet:
    """The characters a reader can output.

    Attributes:
        chars: the characters, each once (no blank: index 0 of the output is the blank).
    """

    chars: str

    def __post_init__(self):
        if not self.chars or len(set(self.chars)) != len(self.chars):
            raise ValueError("An alphabet needs at least one character, each once.")

    @property
    def size(self) -> int:
        """Output classes: the characters plus the blank."""
        return len(self.chars) + 1

    def outside(self, text: str) -> str:
        """The characters of ``text`` not in the alphabet, each once, in order of appearance."""
        return "".join(dict.fromkeys(c for c in text if c not in self.chars))

    def encode(self, text: str, max_length: int) -> np.ndarray:
        """``text`` -> ``(max_length,) int32`` indices 1..n, padded with 0 (the blank).

        Raises:
            ValueError: a character outside the alphabet, or text longer than ``max_length`` (in words).
        """
        bad = self.outside(text)
        if bad:
            raise ValueError(f"“{text}” has characters the reader does not know: {' '.join(bad)} "
                             f"(it reads {self.chars}).")
        if len(text) > max_length:
            raise ValueError(f"“{text}” has {len(text)} characters; the reader takes at most {max_length}.")
        out = np.zeros(max_length, np.int32)
        out[:len(text)] = [self.chars.index(c) + 1 for c in text]
        return out

    def decode(self, indices) -> str:
        """Indices 1..n (0 and negatives skipped) -> text."""
        return "".join(self.chars[i - 1] for i in indices if 0 < i <= len(self.chars))


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check of a card number (ISO/IEC 7812-1, annex B): from the right,
    every second digit doubled (minus 9 above 9); the sum must end in 0."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for i, c in enumerate(reversed(digits)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(partial: str) -> str:
    """``partial`` (digits) plus the check digit that makes it pass :func:`luhn_valid`."""
    for d in DIGITS:
        if luhn_valid(partial + d):
            return partial + d
    raise AssertionError("unreachable: one digit always completes a Luhn sum")


@dataclass(frozen=True)
class Rule:
    """A format the read text must have.

    Attributes:
        kind: ``"card"`` (16 digits passing the Luhn check), ``"pattern"`` (the whole text
            matches ``pattern``, a Python regular expression) or ``"none"``.
        pattern: for ``"pattern"``.
    """

    kind: str = "none"
    pattern: str = ""

    def __post_init__(self):
        if self.kind not in ("card", "pattern", "none"):
            raise ValueError(f"Unknown rule {self.kind!r}: card, pattern or none.")
        if self.kind == "pattern":
            try:
                re.compile(self.pattern)
            except re.error as err:
                raise ValueError(f"The pattern is not a regular expression: {err}.") from None

    def check(self, text: str) -> str:
        """The reason ``text`` fails the rule, in words; ``""`` when it passes."""
        if self.kind == "card":
            if len(text) != CARD_DIGITS or not text.isdigit():
                return f"A card number has {CARD_DIGITS} digits; this reads {len(text)} character(s)."
            if not luhn_valid(text):
                return "The check digit is wrong (Luhn): at least one digit was misread."
        elif self.kind == "pattern" and not re.fullmatch(self.pattern, text):
            return f"Does not match the plate pattern {self.pattern}."
        return ""


def card_grouped(text: str) -> str:
    """A 16-digit number shown as printed, ``"4111 1111 1111 1111"``; other text unchanged."""
    return " ".join(text[i:i + 4] for i in range(0, 16, 4)) if len(text) == CARD_DIGITS and text.isdigit() else text


def edit_distance(predicted: str, truth: str) -> int:
    """Levenshtein distance: insertions, deletions and substitutions turning one into the other."""
    prev = list(range(len(truth) + 1))
    for i, p in enumerate(predicted, 1):
        cur = [i]
        for j, t in enumerate(truth, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (p != t)))
        prev = cur
    return prev[-1]


def cer(predicted: str, truth: str) -> float:
    """Character error rate of one line: :func:`edit_distance` / ``len(truth)`` (1.0 for an
    empty truth read as something, 0.0 for both empty). Over many lines, sum the distances
    and the lengths instead of averaging this."""
    if not truth:
        return float(bool(predicted))
    return edit_distance(predicted, truth) / len(truth)
