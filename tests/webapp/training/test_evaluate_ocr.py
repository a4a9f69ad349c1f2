"""``manage.py evaluate_ocr``: the product's one scoring of a reader on
held-out synthetic lines or a dataset's photos, with the lines it could not
take listed (issue 16: "printed by an evaluate command")."""

import dataclasses
import io

import pytest
from django.core.management import CommandError, call_command

from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def saved_reader(tmp_path_factory):
    """A toy reader trained once for the module: ``(path of reader.keras, report)``."""
    from vision.ocr.synth import synthetic_cards
    from vision.training import ocr as O

    tmp = tmp_path_factory.mktemp("reader")
    lines = [O.TextLine(s.pixels, s.text) for s in synthetic_cards(12, 21, line=True)]
    options = dataclasses.replace(O.CARD_LINE, epochs=1, batch_size=6, filters=8, rnn_units=16)
    res = O.ocr_train(lines[:8], lines[8:], options=options, work_dir=tmp / "w")
    return str(res.save(tmp / "reader")), res.report()


@pytest.fixture
def reader(saved_reader):
    from webapp.registry.services import model_version_register

    path, report = saved_reader
    return model_version_register(kind=ModelVersion.Kind.OCR, name="crnn-card_line", dataset=None, path=path,
                                  params={}, metrics=report, classes=[], job=None, activate=True)


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


def test_the_reader_downloads_load_back_and_read_the_same(reader, staff_client, tmp_path):
    """Issue 16's downloads: the .keras file with its JSON, loaded back outside the product,
    gives the same scores per column as the reader the product uses."""
    import numpy as np

    from vision.ocr.synth import synthetic_cards
    from vision.training.ocr import load_reader

    for name in ("reader.keras", "reader.json"):
        r = staff_client.get(f"/training/models/{reader.pk}/files/{name}")
        assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
        (tmp_path / "dl").mkdir(exist_ok=True)
        (tmp_path / "dl" / name).write_bytes(b"".join(r.streaming_content))
    model, options, _ = load_reader(tmp_path / "dl" / "reader.keras")
    mine, _, _ = load_reader(reader.path)
    from vision.ocr.model import line_input

    x = np.stack([line_input(s.pixels, options.shape) for s in synthetic_cards(2, 9, line=True)])
    assert np.allclose(model.predict_on_batch(x), mine.predict_on_batch(x), atol=1e-5)
    assert staff_client.get(f"/training/models/{reader.pk}/files/model.tflite").status_code == 404
