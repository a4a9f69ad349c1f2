"""Files go with their rows, and a photo that leaves a gallery leaves its
search index at once: a tombstone the searches skip (issue 14), without
rebuilding or sending the index's ids to the database."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from webapp.datasets.models import Dataset, DatasetImage
from webapp.search.models import ImageEmbedding, QueryPhoto, SearchTombstone


@receiver(post_delete, sender=QueryPhoto)
def _query_file(sender, instance, **kwargs):
    if instance.photo and instance.photo.name:
        storage, path = instance.photo.storage, instance.photo.name
        transaction.on_commit(lambda: storage.delete(path))


@receiver(post_delete, sender=ImageEmbedding)
def _embedding_gone(sender, instance, **kwargs):
    SearchTombstone.objects.create(dataset_id=instance.dataset_id, image_id=instance.image_id)


@receiver(post_save, sender=DatasetImage)
def _image_unreadable(sender, instance, **kwargs):
    # a photo that stopped being readable must stop being found, like a deleted one
    if instance.status != DatasetImage.Status.OK and ImageEmbedding.objects.filter(image_id=instance.pk).exists():
        SearchTombstone.objects.create(dataset_id=instance.dataset_id, image_id=instance.pk)


@receiver(post_delete, sender=Dataset)
def _gallery_gone(sender, instance, **kwargs):
    SearchTombstone.objects.filter(dataset_id=instance.pk).delete()
