from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from webapp.search.models import QueryPhoto


@receiver(post_delete, sender=QueryPhoto)
def _query_file(sender, instance, **kwargs):
    if instance.photo and instance.photo.name:
        storage, path = instance.photo.storage, instance.photo.name
        transaction.on_commit(lambda: storage.delete(path))
