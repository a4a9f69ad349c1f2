"""The line reader's input and training call (issue 16) at toy sizes: the
input's refusals (a tiny image, a line wider than the reader takes), the
synthetic generator's determinism, and ``ocr_train``'s contract: unusable
lines listed with the reason, curves per epoch, cancel keeping the best so
far, resume, fine-tuning, and the saved reader (``.keras`` and TFLite) reading the
same text back.
How well it reads is measured by ``bench/ocr.py``, not here."""

import dataclasses

import numpy as np
import pytest

from vision.ocr.model import LineShape, line_input
from vision.ocr.synth import synthetic_cards, synthetic_plates
from vision.ocr.text import luhn_valid
from vision.training import ocr as O

TINY = dataclasses.replace(O.CARD_LINE, epochs=2, batch_size=8, filters=8, rnn_units=16, patience=5)


def test_line_input_keeps_the_aspect_pads_with_the_background_and_refuses_in_words():
    line = np.full((20, 100, 3), 200, np.uint8)
    line[:, :10] = 0
    x = line_input(line, LineShape(32, 320))
    assert x.shape == (32, 320, 1) and x.dtype == np.float32
    assert x[0, 300, 0] == 200 and x[0, 0, 0] == 0  # padded with its own grey, not black
    whole = line_input(np.random.default_rng(0).integers(0, 255, (384, 512, 3)).astype(np.uint8),
                       LineShape(96, 256, keep_aspect=False))
    assert whole.shape == (96, 256, 1)
    with pytest.raises(ValueError, match="9641×48 px.*up to 15 times wider than high"):
        line_input(np.zeros((48, 9641, 3), np.uint8), LineShape(32, 320))
    with pytest.raises(ValueError, match="blank"):
        line_input(np.full((40, 200, 3), 128, np.uint8), LineShape(32, 320))
    with pytest.raises(ValueError, match="8×6 px: too small"):
        line_input(np.zeros((6, 8, 3), np.uint8), LineShape(32, 320))


def test_the_geometric_jitter_is_seeded_keeps_the_line_and_is_bounded():
    x = np.full((2, 64, 128, 1), 220, np.uint8)
    x[:, 20:44, 30:98] = 20  # a dark block in the middle of a light line
    a = O._augment(x, np.random.default_rng(1), warp=0.1)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, O._augment(x, np.random.default_rng(1), warp=0.1))
    warped = O._warp(x, np.random.default_rng(2), 0.1)
    assert not np.array_equal(warped, x) and warped[0, 32, 64, 0] < 60  # moved a little, still in place
    assert warped[:, 0, 0, 0].min() > 150  # corners filled with the line's own border grey, not black
    with pytest.raises(ValueError, match="warp"):
        dataclasses.replace(O.PLATE_LINE, warp=0.5)


def test_the_generator_is_seeded_per_sample():
    a, b = synthetic_cards(3, 5), synthetic_cards(2, 5, start=1)
    assert [s.text for s in a[1:]] == [s.text for s in b] and np.array_equal(a[2].pixels, b[1].pixels)
    assert all(luhn_valid(s.text) and len(s.text) == 16 for s in a) and a[0].pixels.shape == (384, 512, 3)
    assert synthetic_cards(1, 6)[0].text != a[0].text
    lines = synthetic_cards(2, 5, line=True)
    assert lines[0].text == a[0].text and lines[0].pixels.shape[0] < 100
    plates = synthetic_plates(2, 5)
    assert plates[0].pixels.shape == (160, 320, 3) and 5 <= len(plates[0].text) <= 8


@pytest.fixture(scope="module")
def card_lines():
    samples = synthetic_cards(40, 11, line=True)
    return [O.TextLine(s.pixels, s.text) for s in samples]


def test_training_lists_unusable_lines_and_the_saved_reader_reads_the_same(card_lines, tmp_path):
    bad = [O.TextLine(card_lines[0].image, "12O4"), O.TextLine(str(tmp_path / "missing.png"), "1234"),
           O.TextLine(np.zeros((6, 8, 3), np.uint8), "1"), O.TextLine(card_lines[0].image, "1" * 17)]
    epochs = []
    res = O.ocr_train([*card_lines[:32], *bad], card_lines[32:], options=TINY, work_dir=tmp_path / "w",
                      on_epoch=lambda h, phase: epochs.append(len(h["loss"])))
    assert res.n_train == 32 and res.n_val == 8 and epochs == [1, 2]
    reasons = " | ".join(r for _, r in res.skipped)
    assert "does not know: O" in reasons and "too small" in reasons and "at most 16" in reasons
    assert len(res.skipped) == 4
    assert set(res.history) == {"loss", "val_loss", "val_accuracy", "val_cer"} and len(res.history["loss"]) == 2
    assert set(res.metrics) >= {"accuracy", "cer", "accepted_wrong", "flagged", "confusions"}
    assert len(res.samples) == 8 and {"truth", "text", "confidence", "problem"} <= set(res.samples[0])
    model, options, report = O.load_reader(res.save(tmp_path / "saved"))
    images = [line.image for line in card_lines[32:36]]
    expected = res.read(images)
    assert [r.text for r in O.read_with(model, options, images)] == [r.text for r in expected]
    # the TFLite file (batch 1) reads the same lines with the same confidences
    lite = O.read_tflite(tmp_path / "saved" / "reader.tflite", options, images)
    assert [r.text for r in lite] == [r.text for r in expected]
    assert np.allclose([r.confidence for r in lite], [r.confidence for r in expected], atol=1e-3)
    import tensorflow as tf  # and the same logits column by column (the texts of a 2-epoch reader may be empty)

    interp = tf.lite.Interpreter(model_path=str(tmp_path / "saved" / "reader.tflite"))
    interp.allocate_tensors()
    x = line_input(images[0], options.shape)[None]
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    assert np.allclose(interp.get_tensor(interp.get_output_details()[0]["index"]), model.predict_on_batch(x), atol=1e-3)
    assert options == TINY and report["n_train"] == 32


def test_a_cancelled_call_keeps_its_epoch_a_resumed_one_goes_on_and_a_reader_fine_tunes(card_lines, tmp_path):
    ended = []
    one = O.ocr_train(card_lines[:32], card_lines[32:], options=TINY, work_dir=tmp_path / "r",
                      on_epoch=lambda h, p: ended.append(1), should_stop=lambda: len(ended) >= 1)
    assert one.cancelled and one.epochs_run == 1
    again = O.ocr_train(card_lines[:32], card_lines[32:], options=TINY, work_dir=tmp_path / "r")
    assert again.epochs_run == 2 and again.history["loss"][0] == one.history["loss"][0]
    tuned = O.ocr_train(card_lines[:8], card_lines[32:], options=dataclasses.replace(TINY, epochs=1),
                        work_dir=tmp_path / "t", init=again.model)
    assert tuned.epochs_run == 1
    last = O.ocr_train(card_lines[:8], card_lines[32:], options=dataclasses.replace(TINY, epochs=2, patience=1,
                                                                                   keep="last"),
                       work_dir=tmp_path / "l", init=again.model)
    assert last.epochs_run == 2 and last.best_epoch == 1  # every epoch run, the last kept, whatever validation says
    with pytest.raises(ValueError, match="another input size or alphabet"):
        O.ocr_train(card_lines[:8], card_lines[32:], options=dataclasses.replace(TINY, width=256),
                    work_dir=tmp_path / "x", init=again.model)
    with pytest.raises(ValueError, match="No usable validation line"):
        O.ocr_train(card_lines[:8], [O.TextLine(card_lines[0].image, "A")], options=TINY, work_dir=tmp_path / "y")
