"""The reader's management commands: ``ocr_synthetic`` makes a text-lines
dataset of seeded generated lines, ``ocr_read`` reads a folder to CSV with a
reason on the row of every file it cannot read."""

import csv
import io
import json
from dataclasses import asdict

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from webapp.datasets.models import Dataset
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_ocr_synthetic_creates_a_text_lines_dataset_once_per_seed_and_sample():
    out = io.StringIO()
    call_command("ocr_synthetic", "Plates", "--kind", "plates", "--count", "3", "--seed", "5", stdout=out)
    ds = Dataset.objects.get(name="Plates")
    rows = list(ds.images.order_by("id"))
    assert ds.kind == "text_lines" and len(rows) == 3 and all(r.status == "ok" and r.text for r in rows)
    assert (rows[0].width, rows[0].height) == (320, 160) and "3 licence plates added" in out.getvalue()
    call_command("ocr_synthetic", "Plates", "--kind", "plates", "--count", "4", "--seed", "5", stdout=out)
    assert ds.images.count() == 4 and "1 licence plates added (seed 5), 3 already there" in out.getvalue()
    with pytest.raises(CommandError, match="--count must be 1 to 100000"):
        call_command("ocr_synthetic", "X", "--count", "0")


def test_ocr_read_writes_a_csv_row_per_file_with_the_reason_for_those_it_cannot_read(tmp_path):
    """An untrained tiny reader, saved as training saves one: the command's contract, not its accuracy."""
    from PIL import Image

    from vision.ocr.model import build_reader
    from vision.ocr.synth import synthetic_cards
    from vision.ocr.text import Alphabet
    from vision.training.ocr import CARD_LINE

    folder = tmp_path / "reader"
    folder.mkdir()
    build_reader(CARD_LINE.shape, Alphabet(CARD_LINE.alphabet).size, filters=8, rnn_units=16).save(folder / "reader.keras")
    (folder / "reader.json").write_text(json.dumps({"options": asdict(CARD_LINE)}))
    mv = ModelVersion.objects.create(kind="ocr", name="crnn-card_line", version=1, path=str(folder / "reader.keras"))
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    for i, line in enumerate(synthetic_cards(2, 3, line=True)):
        Image.fromarray(line.pixels).save(photos / f"card{i}.png")
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(photos / "sub" / "tiny.png")
    (photos / "notes.txt").write_text("not a photo")
    out = tmp_path / "readings.csv"
    call_command("ocr_read", str(mv.pk), str(photos), "--out", str(out))
    rows = list(csv.DictReader(out.open()))
    assert [r["filename"] for r in rows] == ["card0.png", "card1.png", "notes.txt", "sub/tiny.png"]
    assert list(rows[0]) == ["filename", "text", "confidence", "problem", "suggestion", "error"]
    assert all(r["error"] == "" and 0 <= float(r["confidence"]) <= 1 for r in rows[:2])
    assert all(r["problem"] or len(r["text"]) == 16 for r in rows[:2])  # the card rule, checked
    assert "not an image" in rows[2]["error"] and "too small to hold a line of text" in rows[3]["error"]
    with pytest.raises(CommandError, match="No text-line reader with id"):
        call_command("ocr_read", "999999", str(photos))
