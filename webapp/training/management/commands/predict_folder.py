"""``manage.py predict_folder MODEL_VERSION_ID FOLDER [--out predictions.csv]``:
classify every photo of a folder with a trained model and write a CSV
(``file,class,probability,second_class,second_probability``; unreadable files
get an ``error`` column instead). Runs in this process (TensorFlow is fine
outside the web server)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from webapp.registry.models import ModelVersion
from webapp.training.management.folders import csv_out, folder_files, model_version_for


class Command(BaseCommand):
    help = "Predict the class of every photo in a folder; CSV to --out or standard output."

    def add_arguments(self, parser):
        parser.add_argument("model_version_id", type=int)
        parser.add_argument("folder")
        parser.add_argument("--out", default="-")
        parser.add_argument("--batch-size", type=int, default=32)

    def handle(self, model_version_id, folder, out, batch_size, **options):
        import numpy as np

        from vision.training.data import load_resized
        from vision.training.export import load_classifier

        mv = model_version_for(model_version_id, ModelVersion.Kind.CLASSIFIER, "classifier")
        root, files = folder_files(folder)
        model, meta = load_classifier(Path(mv.path))
        names, size = meta["class_names"], meta["image_size"]
        n_ok = 0
        with csv_out(out) as w:
            w.writerow(["file", "class", "probability", "second_class", "second_probability", "error"])
            for start in range(0, len(files), batch_size):
                chunk = files[start:start + batch_size]
                imgs = [load_resized(str(p), size) for p in chunk]
                ok = [i for i, im in enumerate(imgs) if im is not None]
                probs = np.asarray(model.predict(np.stack([imgs[i] for i in ok]), verbose=0)) if ok else []
                row_of = dict(zip(ok, probs))
                for i, p in enumerate(chunk):
                    rel = p.relative_to(root).as_posix()
                    if i not in row_of:
                        w.writerow([rel, "", "", "", "", "not a readable image"])
                        continue
                    pr = row_of[i]
                    top = np.argsort(-pr)[:2]
                    second = (names[top[1]], f"{pr[top[1]]:.4f}") if len(top) > 1 else ("", "")
                    w.writerow([rel, names[top[0]], f"{pr[top[0]]:.4f}", *second, ""])
                    n_ok += 1
        self.stderr.write(f"{n_ok} of {len(files)} files classified with {mv} ({', '.join(names)}).")
