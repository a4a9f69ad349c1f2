"""From the model's per-column scores to text (seed section 7: take the best
class of each column, merge repeats, drop blanks), with confidences and the
format rule checked in decoding: a line that fails its rule is flagged with
the reason, never silently "corrected"; where the beam holds a candidate
that passes, it is offered beside it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vision.ocr.text import Alphabet, Rule


#: The problem of a line read as nothing: every column's best class was the blank.
NO_TEXT = ("No text was found on this photo: it may hold no line of text, or none this reader was trained to "
           "read (crop close to one line).")


@dataclass(frozen=True)
class Reading:
    """One line read.

    Attributes:
        text: the greedy reading (the seed's decoding).
        confidences: one per character of ``text``, 0..1: the highest probability the
            character had in the columns it was read from.
        confidence: the line's, 0..1: its least sure character's (0 for an empty line).
        problem: why ``text`` fails the rule, in words, or :data:`NO_TEXT` when nothing was read;
            ``""`` when it passes (or no rule).
        suggestion: the most probable beam candidate that passes the rule when ``text`` does
            not (``""`` when none does, or no beam was run); offered, never substituted.
        candidates: ``[(text, log probability)]`` of the beam, best first (empty without one).
    """

    text: str
    confidences: tuple[float, ...]
    confidence: float
    problem: str = ""
    suggestion: str = ""
    candidates: list = field(default_factory=list)


def softmax(logits: np.ndarray) -> np.ndarray:
    """``(..., C)`` logits -> probabilities along the last axis (float32)."""
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return (z / z.sum(axis=-1, keepdims=True)).astype(np.float32)


def greedy(probs: np.ndarray, alphabet: Alphabet) -> tuple[str, tuple[float, ...]]:
    """Best path decoding of one line.

    Args:
        probs: ``(T, alphabet.size)`` probabilities per column; column 0 of the last axis is the blank.

    Returns:
        ``(text, per-character confidences)``: repeats merged (a blank between two equal
        characters keeps both), blanks dropped; each character's confidence is its highest
        probability over the run of columns it was read from.
    """
    best = probs.argmax(axis=1)
    chars, confs = [], []
    prev = 0
    for t, k in enumerate(best):
        if k != 0 and k == prev:
            confs[-1] = max(confs[-1], float(probs[t, k]))
        elif k != 0:
            chars.append(int(k))
            confs.append(float(probs[t, k]))
        prev = k
    return alphabet.decode(chars), tuple(confs)


def beam(logits: np.ndarray, alphabet: Alphabet, width: int = 16, top: int = 8) -> list[list[tuple[str, float]]]:
    """CTC beam search (Keras ``ops.ctc_decode``, TensorFlow's decoder) over a batch.

    Args:
        logits: ``(b, T, alphabet.size)`` scores per column (blank at 0).
        width: beam width; top: candidates kept per line.

    Returns:
        Per line, ``[(text, log probability)]``, best first, duplicates removed.
    """
    from keras import ops

    logp = np.log(np.maximum(softmax(logits), 1e-12))
    b, t = logp.shape[:2]
    paths, scores = ops.ctc_decode(logp, np.full(b, t, np.int32), strategy="beam_search", beam_width=width,
                                   top_paths=min(top, width), mask_index=0)
    paths, scores = np.asarray(paths), np.asarray(scores)
    out = []
    for i in range(b):
        seen: dict[str, float] = {}
        for p in range(paths.shape[0]):
            text = alphabet.decode(paths[p, i])
            seen.setdefault(text, float(scores[i, p]))
        out.append(list(seen.items()))
    return out


def read_lines(logits: np.ndarray, alphabet: Alphabet, rule: Rule = Rule(), *, beam_width: int = 16
               ) -> list[Reading]:
    """Decode a batch: greedy text and confidences, the rule checked, and a passing beam
    candidate offered where the greedy text fails.

    Args:
        logits: ``(b, T, alphabet.size)`` model outputs (blank at 0).
        rule: the format to check; ``Rule()`` checks nothing and runs no beam.
        beam_width: 0: no beam search (no suggestion).
    """
    probs = softmax(logits)
    readings = []
    failing = []
    for i in range(len(probs)):
        text, confs = greedy(probs[i], alphabet)
        problem = rule.check(text) if text else NO_TEXT  # an empty reading is never "accepted"
        readings.append([text, confs, problem])
        if problem and beam_width and text:
            failing.append(i)
    beams = dict(zip(failing, beam(np.asarray(logits)[failing], alphabet, beam_width))) if failing else {}
    out = []
    for i, (text, confs, problem) in enumerate(readings):
        cands = beams.get(i, [])
        suggestion = next((c for c, _ in cands if c != text and not rule.check(c)), "")
        out.append(Reading(text, confs, min(confs) if confs else 0.0, problem, suggestion, cands))
    return out
