"""``manage.py evaluate_ocr MODEL_VERSION_ID (--synthetic cards|card_lines|plates [--count 200] [--seed 3]
| --dataset ID [--split val|train|all])``: score a trained text-line reader on
labelled lines it did not train on, with the product's one scoring
(``vision.training.ocr.evaluate_readings``): full-line accuracy, character
error rate, the share accepted by the format check yet wrong, the share
flagged, the most frequent confusions, and milliseconds per line at batch 1.

Synthetic lines come from ``vision.ocr.synth`` with a generator seed: a
reader trained on seed 1 and picked on seed 2 is scored on seed 3 (issue 16:
200 held-out cards). Photos a reader cannot take (too small, too wide,
unreadable) are counted as misread and listed."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.registry.models import ModelVersion
from webapp.training.management.folders import model_version_for

SYNTHETIC = ("cards", "card_lines", "plates")


class Command(BaseCommand):
    help = "Score a text-line reader on held-out synthetic lines or a text-lines dataset."

    def add_arguments(self, parser):
        parser.add_argument("model_version_id", type=int)
        parser.add_argument("--synthetic", choices=SYNTHETIC, help="generated lines of this kind")
        parser.add_argument("--count", type=int, default=200)
        parser.add_argument("--seed", type=int, default=3, help="generator seed (train on 1, pick on 2, score on 3)")
        parser.add_argument("--dataset", type=int, help="a text-lines dataset's photos instead")
        parser.add_argument("--split", choices=("val", "train", "all"), default="val")

    def handle(self, model_version_id, synthetic, count, seed, dataset, split, **options):
        from vision.ocr.decode import Reading
        from vision.training.ocr import evaluate_readings, load_reader, read_with

        if bool(synthetic) == bool(dataset):
            raise CommandError("Give either --synthetic KIND or --dataset ID.")
        mv = model_version_for(model_version_id, ModelVersion.Kind.OCR, "text-line reader")
        model, reader_options, _ = load_reader(Path(mv.path))
        lines, what = (_synthetic(synthetic, count, seed) if synthetic else _dataset(dataset, split))
        if not lines:
            raise CommandError(f"No labelled line in {what}.")
        readings, refused, truths, times = [], [], [], []
        for name, pixels, text in lines:  # one at a time: the batch-1 latency, and a refusal says which
            t0 = time.perf_counter()
            try:
                readings.append(read_with(model, reader_options, [pixels])[0] if pixels is not None else None)
            except ValueError as err:  # too small or too wide for this reader: a miss, said why
                readings.append(None)
                refused.append(f"{name}: {err}")
            else:
                times.append((time.perf_counter() - t0) * 1000)
            truths.append(text)
        times = times[1:]  # the first call traces the model's graph
        scored = [r or Reading("", (), 0.0, "Not read.") for r in readings]
        m = evaluate_readings(scored, truths)
        self.stdout.write(f"{mv} on {what}: {m['n']} lines")
        self.stdout.write(f"  full-line accuracy  {m['accuracy']:.1%}")
        self.stdout.write(f"  CER                 {m['cer']:.2%}")
        self.stdout.write(f"  accepted but wrong  {m['accepted_wrong']:.1%} (passed the {reader_options.rule} check)")
        self.stdout.write(f"  flagged             {m['flagged']:.1%}")
        if times:
            self.stdout.write(f"  ms per line         {statistics.median(times):.1f} (median, batch 1, "
                              f"{len(times)} lines)")
        top = ", ".join(f"{k} {v}" for k, v in list(m["confusions"].items())[:10])
        self.stdout.write(f"  confusions (truth>read): {top or 'none'}")
        for line in refused[:20]:
            self.stdout.write(f"  not read: {line}")


def _synthetic(kind: str, count: int, seed: int) -> tuple[list, str]:
    from vision.ocr.synth import synthetic_cards, synthetic_plates

    samples = (synthetic_plates(count, seed) if kind == "plates"
               else synthetic_cards(count, seed, line=kind == "card_lines"))
    return [(f"{kind} {i}", s.pixels, s.text) for i, s in enumerate(samples)], f"{count} generated {kind} (seed {seed})"


def _dataset(pk: int, split: str) -> tuple[list, str]:
    from vision.errors import InvalidImageError
    from vision.images import load_image

    from webapp.datasets.models import Dataset, DatasetImage

    ds = Dataset.objects.filter(pk=pk, kind=Dataset.Kind.TEXT_LINES).first()
    if ds is None:
        raise CommandError(f"No text-lines dataset with id {pk}.")
    rows = ds.images.filter(status=DatasetImage.Status.OK).exclude(text="").order_by("id")
    if split != "all":
        rows = rows.filter(split=split)
    out = []
    for r in rows:
        try:
            out.append((r.original_name, load_image(r.file.path).pixels, r.text))
        except (InvalidImageError, OSError):
            out.append((r.original_name, None, r.text))
    return out, f"“{ds}” ({split} photos)"
