"""``manage.py import_embeddings --gallery ID --vectors FILE.npy``: fill a
gallery with stored embeddings in bulk (``webapp.search.bulk``), e.g. to try
search at a million photos; then build its index on the gallery page."""

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from webapp.datasets.models import Dataset


class Command(BaseCommand):
    help = "Add photo rows with their embeddings from a .npy file of (n, d) float32 unit vectors."

    def add_arguments(self, parser):
        parser.add_argument("--gallery", type=int, required=True, help="the gallery's id")
        parser.add_argument("--vectors", required=True, help="a .npy file, (n, d) float32, L2-normalised rows")
        parser.add_argument("--backbone", default="efficientnet_lite0", help="backbone the vectors come from")

    def handle(self, *args, gallery, vectors, backbone, **options):
        from vision.backbones import SPECS
        from webapp.search.bulk import embeddings_import

        ds = Dataset.objects.filter(pk=gallery, kind=Dataset.Kind.GALLERY).first()
        if ds is None:
            raise CommandError(f"No gallery with id {gallery}.")
        if backbone not in SPECS:
            raise CommandError(f"Unknown backbone {backbone!r}; choose one of {', '.join(SPECS)}.")
        try:
            x = np.load(vectors, mmap_mode="r")
        except (OSError, ValueError) as err:
            raise CommandError(f"Could not read {vectors}: {err}") from err
        if x.ndim != 2 or x.shape[1] != SPECS[backbone].embedding_dim:
            raise CommandError(f"{vectors} holds {x.shape}; {backbone} embeddings are (n, {SPECS[backbone].embedding_dim}).")
        try:
            ids = embeddings_import(dataset=ds, vectors=np.asarray(x), backbone=backbone,
                                    backbone_version=SPECS[backbone].version,
                                    progress=lambda done, total: self.stdout.write(f"{done:,} of {total:,}"))
        except ValueError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(self.style.SUCCESS(f"Added {len(ids):,} photos with embeddings to {ds.name}."))
