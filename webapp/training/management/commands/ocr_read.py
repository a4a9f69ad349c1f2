"""``manage.py ocr_read MODEL_VERSION_ID FOLDER [--out readings.csv]``: read the
text line of every photo of a folder with a trained reader and write a CSV
(``filename,text,confidence,problem,suggestion,error``): a file that is not a
readable image, or too small or too wide for the reader, gets a row with the
reason in ``error``. Runs in this process (TensorFlow is fine outside the web
server)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from webapp.registry.models import ModelVersion
from webapp.training.management.folders import csv_out, folder_files, model_version_for


class Command(BaseCommand):
    help = "Read the text line of every photo in a folder with a reader; CSV to --out or standard output."

    def add_arguments(self, parser):
        parser.add_argument("model_version_id", type=int)
        parser.add_argument("folder")
        parser.add_argument("--out", default="-")
        parser.add_argument("--pattern", default="", help="A regular expression each text must match instead of "
                                                          "the reader's own rule (a plate format).")

    def handle(self, model_version_id, folder, out, pattern, **options):
        from vision.errors import InvalidImageError
        from vision.images import load_image
        from vision.ocr.text import Rule
        from vision.training.ocr import load_reader, read_with

        mv = model_version_for(model_version_id, ModelVersion.Kind.OCR, "text-line reader")
        root, files = folder_files(folder)
        try:
            rule = Rule("pattern", pattern) if pattern else None
        except ValueError as err:
            raise CommandError(str(err)) from err
        model, reader_options, _report = load_reader(Path(mv.path))
        n_ok = 0
        with csv_out(out) as w:
            w.writerow(["filename", "text", "confidence", "problem", "suggestion", "error"])
            for p in files:  # one at a time: a photo the reader refuses says why on its own row
                rel = p.relative_to(root).as_posix()
                try:
                    r = read_with(model, reader_options, [load_image(str(p)).pixels], rule)[0]
                except (InvalidImageError, ValueError) as err:  # not an image; too small or wide for the reader
                    w.writerow([rel, "", "", "", "", str(err)])
                else:
                    w.writerow([rel, r.text, f"{r.confidence:.4f}", r.problem, r.suggestion, ""])
                    n_ok += 1
        self.stderr.write(f"{n_ok} of {len(files)} files read with {mv}.")
