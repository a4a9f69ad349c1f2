from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from webapp.datasets.models import DatasetImage


@receiver(post_delete, sender=DatasetImage)
def _image_files(sender, instance, **kwargs):
    for f in (instance.file, instance.thumbnail):
        if f and f.name:
            storage, path = f.storage, f.name
            transaction.on_commit(lambda s=storage, p=path: s.delete(p))
