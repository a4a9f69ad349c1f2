"""``manage.py ocr_synthetic NAME --kind cards|card_lines|plates --count N --seed S
[--owner USERNAME]``: a text-lines dataset of generated lines
(``vision.ocr.synth``), so the seed's experiment (a reader trained on 1,000
cards) runs without photos of one's own.

Sample ``i`` of seed ``S`` is always the same image: the same command run twice
adds nothing the second time (same content, stored once), and another seed is
a held-out set (``bench/ocr.py`` trains on seed 1 and tests on seeds 2 and 3).
Kinds: ``cards``, whole 512x384 cards (train the "whole cards" preset);
``card_lines``, tight crops of the number's line (about 420x60 px; "card-number
lines"); ``plates``, 320x160 licence plates ("plates")."""

import io

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from webapp.datasets.models import Dataset
from webapp.datasets.services import AddReport, dataset_image_add

#: ``--kind`` -> (what it makes, the reader preset that reads it).
KINDS = {"cards": ("whole cards", "card_whole"), "card_lines": ("card-number lines", "card_line"),
         "plates": ("licence plates", "plate")}


class Command(BaseCommand):
    help = "Create (or add to) a text-lines dataset of seeded synthetic cards, card-number lines or plates."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--kind", choices=KINDS, default="card_lines")
        parser.add_argument("--count", type=int, default=1000, help="How many lines (1..100000; the seed: 1,000).")
        parser.add_argument("--seed", type=int, default=1, help="Generator seed: another seed, other lines.")
        parser.add_argument("--owner", default="", help="Username that owns the dataset (default: none, staff see it).")

    def handle(self, name, kind, count, seed, owner, **options):
        from PIL import Image

        from vision.ocr.synth import synthetic_cards, synthetic_plates

        if not 1 <= count <= 100_000:
            raise CommandError("--count must be 1 to 100000.")
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user called {owner!r}.")
        dataset, created = Dataset.objects.get_or_create(name=name, kind=Dataset.Kind.TEXT_LINES,
                                                         defaults={"created_by": user})
        report = AddReport()
        for i in range(count):  # one at a time: 1,000 whole cards would hold 590 MB of pixels at once
            if kind == "plates":
                line = synthetic_plates(1, seed, start=i)[0]
            else:
                line = synthetic_cards(1, seed, start=i, line=kind == "card_lines")[0]
            buf = io.BytesIO()
            Image.fromarray(line.pixels).save(buf, "PNG")
            dataset_image_add(dataset=dataset, name=f"{kind}-{seed}-{i:05d}.png", data=buf.getvalue(), text=line.text,
                              report=report)
            if (i + 1) % 100 == 0:
                self.stderr.write(f"{i + 1} of {count} generated")
        what, preset = KINDS[kind]
        self.stdout.write(f"{'Created' if created else 'Updated'} text-lines dataset #{dataset.pk} “{dataset}”: "
                          f"{report.added} {what} added (seed {seed}), {len(report.duplicates)} already there. "
                          f"Train a reader on it with the “{preset}” preset (Train → Train a text-line reader).")
