"""Alphabets, the format rules (Luhn, plate pattern), CER, decoding with
confidences and the rule checked in decoding (issue 16): a failing line is
flagged and a passing beam candidate offered, never substituted."""

import numpy as np
import pytest

from vision.ocr import decode
from vision.ocr.text import DIGITS, Alphabet, Rule, card_grouped, cer, edit_distance, luhn_complete, luhn_valid


def test_luhn_on_published_test_numbers():
    # test card numbers published by the card networks (Visa, Mastercard, Amex)
    for n in ("4111111111111111", "5555555555554444", "378282246310005"):
        assert luhn_valid(n)
    assert not luhn_valid("4111111111111112") and not luhn_valid("41111111111111a1") and not luhn_valid("")
    assert luhn_complete("411111111111111") == "4111111111111111"


def test_rules_say_why_a_reading_fails():
    card = Rule("card")
    assert card.check("4111111111111111") == ""
    assert "16 digits" in card.check("411111111111111")
    assert "check digit" in card.check("4111111111111112")
    plate = Rule("pattern", r"[A-Z]{3}[0-9]{4}")
    assert plate.check("ABC1234") == "" and "pattern" in plate.check("AB1234")
    with pytest.raises(ValueError, match="not a regular expression"):
        Rule("pattern", "[A-")
    assert card_grouped("4111111111111111") == "4111 1111 1111 1111" and card_grouped("ABC") == "ABC"


def test_labels_outside_the_alphabet_or_too_long_are_refused_in_words():
    a = Alphabet(DIGITS)
    assert a.encode("907", 5).tolist() == [10, 1, 8, 0, 0] and a.decode([10, 1, 8, 0, -1]) == "907"
    with pytest.raises(ValueError, match="does not know: O A"):
        a.encode("12O4A", 8)
    with pytest.raises(ValueError, match="at most 3"):
        a.encode("1234", 3)


def test_cer_is_edits_over_truth_length():
    assert edit_distance("kitten", "sitting") == 3 and cer("1234", "1234") == 0.0
    assert cer("124", "1234") == pytest.approx(0.25) and cer("", "") == 0.0 and cer("x", "") == 1.0


def _logits(path: list[int], classes: int = 11, sure: float = 8.0) -> np.ndarray:
    """Logits whose best class per column is ``path`` (0: blank)."""
    out = np.zeros((len(path), classes), np.float32)
    out[np.arange(len(path)), path] = sure
    return out


def test_greedy_merges_repeats_keeps_a_blank_separated_double_and_gives_confidences():
    a = Alphabet(DIGITS)
    # columns: 1 1 _ 1 2 2 _  -> "00" then "1": digits are index + 1, so 1 -> "0", 2 -> "1"
    probs = decode.softmax(_logits([1, 1, 0, 1, 2, 2, 0]))
    text, confs = decode.greedy(probs, a)
    assert text == "001" and len(confs) == 3 and all(0.99 < c <= 1 for c in confs)


def test_a_line_failing_its_rule_is_flagged_and_a_passing_candidate_offered_not_substituted():
    a = Alphabet(DIGITS)
    truth = "4111111111111111"
    path = []
    for c in truth:
        path += [DIGITS.index(c) + 1, 0]
    logits = _logits(path)
    last = len(path) - 2  # the check digit's column: "2" slightly above "1", so greedy misreads it
    logits[last] = 0
    logits[last, DIGITS.index("2") + 1] = 3.0
    logits[last, DIGITS.index("1") + 1] = 2.6
    (r,) = decode.read_lines(logits[None], a, Rule("card"))
    assert r.text == "4111111111111112" and "check digit" in r.problem
    assert r.suggestion == truth and r.text != r.suggestion
    assert 0 < r.confidence < 0.6 and r.candidates[0][0] == r.text
    (ok,) = decode.read_lines(_logits(path)[None], a, Rule("card"))
    assert ok.problem == "" and ok.suggestion == "" and ok.candidates == []  # no beam when it passes


def test_a_line_read_as_nothing_is_flagged_as_no_text_with_or_without_a_rule():
    a = Alphabet(DIGITS)
    for rule in (Rule(), Rule("card")):
        (r,) = decode.read_lines(_logits([0] * 8)[None], a, rule)
        assert r.text == "" and r.confidence == 0.0 and r.problem == decode.NO_TEXT and r.suggestion == ""
    (some,) = decode.read_lines(_logits([0, 3, 0, 4])[None], a, Rule())
    assert some.text == "23" and some.problem == ""


def test_early_stopping_waits_through_the_ctc_plateau_but_not_after_it():
    """While no line is read exactly, a falling training or validation loss is progress (CTC
    readers read nothing for their first epochs); once lines are read, only a better
    accuracy/CER is."""
    from vision.training.ocr import _last_progress

    # as a 1,050-line card set trained in `make run`: the validation loss rose on the plateau
    h = {"val_accuracy": [0, 0, 0, 0, 0.5, 0.5, 0.5], "val_cer": [1, 1, 1, 1, .2, .2, .2],
         "val_loss": [90, 80, 120, 130, 10, 5, 1], "loss": [60, 50, 40, 30, 5, 3, 2]}

    def score(e):
        return h["val_accuracy"][e], -h["val_cer"][e]

    assert [_last_progress(h, n, score) for n in range(1, 8)] == [0, 1, 2, 3, 4, 4, 4]
    flat = {"val_accuracy": [0, 0, 0], "val_cer": [1, 1, 1], "val_loss": [50, 50, 60], "loss": [9, 9, 9]}
    assert _last_progress(flat, 3, lambda e: (0, -1)) == 0
