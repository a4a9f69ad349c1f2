"""``manage.py evaluate_detectors``: AP@0.5 per class and mAP of the pretrained detectors and
of trained ones (``--detector trained:<id>``, a detector version's id; ``--trained``: every
active one, each on its own dataset).

* ``evaluate_detectors --standard [--shared ../shared/datasets/detection]``: dlib's HOG
  and CNN face detectors on the dlib face photos, OpenCV's HOG people detector
  on the COCO photos (the boxes of ``annotations.csv``).
* ``evaluate_detectors --csv annotations.csv [--prefix coco/] --detector NAME ...``
* ``evaluate_detectors --dataset ID --detector NAME ...``: a detection dataset's accepted boxes.
* ``evaluate_detectors --trained``: every active trained detector on its own dataset's accepted
  boxes (the photos it trained on count too: for its held-out figure see its page).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vision.detectors import DETECTORS

STANDARD = [("dlib_hog_face", "dlib_faces/"), ("dlib_cnn_face", "dlib_faces/"), ("opencv_hog_people", "coco/")]


class Command(BaseCommand):
    help = "Score pretrained detectors with AP@0.5 per class (PASCAL VOC all-point interpolation) and mAP."

    def add_arguments(self, parser):
        parser.add_argument("--standard", action="store_true", help="the three reference runs on the shared photos")
        parser.add_argument("--shared", default=str(Path(settings.BASE_DIR).parent / "shared" / "datasets" / "detection"))
        parser.add_argument("--csv", help="an annotations.csv next to its photos")
        parser.add_argument("--prefix", default="", help="only photos whose relative name starts with this")
        parser.add_argument("--dataset", help="detection dataset id or name")
        parser.add_argument("--detector", action="append", default=[],
                            help=f"{', '.join(sorted(DETECTORS))}, or trained:<id> of a trained detector")
        parser.add_argument("--trained", action="store_true", help="every active trained detector on its dataset")
        parser.add_argument("--upsample", type=int, default=1, help="dlib upsampling (0..2)")

    def handle(self, standard, shared, csv, prefix, dataset, detector, upsample, trained, **options):
        from webapp.annotation.detectors import UnknownDetector, detector_classes, trained_detector_id, trained_detectors
        from webapp.annotation.evaluation import csv_ground_truth, dataset_ground_truth, evaluate_detector

        for d in detector:
            try:
                detector_classes(d)
            except UnknownDetector as err:
                raise CommandError(err.message) from None
        runs = []
        if trained:
            runs = [(trained_detector_id(mv), lambda ds=mv.dataset: dataset_ground_truth(dataset=ds),
                     f"dataset “{mv.dataset}”") for mv in trained_detectors().filter(dataset__isnull=False)]
            if not runs:
                raise CommandError("No active trained detector: train one first (Train → Train an object detector).")
        elif standard:
            path = Path(shared) / "annotations.csv"
            if not path.is_file():
                raise CommandError(f"{path} not found; pass --shared DIR.")
            runs = [(d, lambda p=p: csv_ground_truth(csv_path=path, prefix=p), f"{path} [{p}]") for d, p in STANDARD]
        elif csv or dataset:
            if not detector:
                raise CommandError("Choose at least one --detector.")
            if csv:
                load = lambda: csv_ground_truth(csv_path=Path(csv), prefix=prefix)  # noqa: E731
                where = f"{csv} [{prefix}]"
            else:
                from webapp.annotation.management.commands.annotations_import import dataset_by_ref

                ds = dataset_by_ref(dataset)
                load = lambda: dataset_ground_truth(dataset=ds)  # noqa: E731
                where = f"dataset “{ds}”"
            runs = [(d, load, where) for d in detector]
        else:
            raise CommandError("Use --standard, --trained, --csv FILE or --dataset ID.")
        for det, load, where in runs:
            photos, gt = load()
            run = evaluate_detector(detector=det, photos=photos, ground_truth=gt, upsample=upsample)
            ev = run.evaluation
            self.stdout.write(f"{det} on {where}: {run.n_images} photos, {run.seconds_per_image * 1000:.0f} ms/photo")
            for c in ev.per_class:
                self.stdout.write(f"  AP@{ev.iou_threshold:g} {c.label:<10} {c.ap:.4f}  "
                                  f"({c.n_true_positives} TP of {c.n_detections} detections, {c.n_ground_truth} boxes)")
            self.stdout.write(f"  mAP@{ev.iou_threshold:g} {ev.mean_ap:.4f}")
