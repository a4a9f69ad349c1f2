"""``manage.py evaluate_ocr``: the product's one scoring of a reader on
held-out synthetic lines or a dataset's photos, with the lines it could not
take listed (issue 16: "printed by an evaluate command")."""

import dataclasses
import io

import pytest
from django.core.management import CommandError, call_command

from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(tmp_path):
    from vision.ocr.synth import synthetic_cards
    from vision.training import ocr as O

    from webapp.registry.services import model_version_register

    lines = [O.TextLine(s.pixels, s.text) for s in synthetic_cards(12, 21, line=True)]
    options = dataclasses.replace(O.CARD_LINE, epochs=1, batch_size=6, filters=8, rnn_units=16)
    res = O.ocr_train(lines[:8], lines[8:], options=options, work_dir=tmp_path / "w")
    return model_version_register(kind=ModelVersion.Kind.OCR, name="crnn-card_line", dataset=None,
                                  path=str(res.save(tmp_path / "reader")), params={}, metrics=res.report(),
                                  classes=[], job=None, activate=True)


def test_a_reader_is_scored_on_held_out_synthetic_lines_and_a_dataset(reader, tmp_path):
    from webapp.datasets.models import Dataset
    from webapp.datasets.services import dataset_image_add

    out = io.StringIO()
    call_command("evaluate_ocr", reader.pk, "--synthetic", "card_lines", "--count", "4", stdout=out)
    text = out.getvalue()
    for words in ("4 lines", "full-line accuracy", "CER", "accepted but wrong", "ms per line", "seed 3"):
        assert words in text, text
    ds = Dataset.objects.create(name="lines", kind="text_lines")
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((6, 8, 3), 255, np.uint8)).save(buf, "PNG")  # too small for any reader
    dataset_image_add(dataset=ds, name="tiny.png", data=buf.getvalue(), text="1234")
    out = io.StringIO()
    call_command("evaluate_ocr", reader.pk, "--dataset", ds.pk, "--split", "all", stdout=out)
    assert "1 lines" in out.getvalue() and "not read: tiny.png" in out.getvalue() and "too small" in out.getvalue()
    assert "full-line accuracy  0.0%" in out.getvalue()
    with pytest.raises(CommandError, match="either --synthetic"):
        call_command("evaluate_ocr", reader.pk)
    with pytest.raises(CommandError, match="No text-lines dataset"):
        call_command("evaluate_ocr", reader.pk, "--dataset", 999999)
