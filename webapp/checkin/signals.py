"""Files go with their rows: deleting a sample, check-in or photo (directly,
or by deleting a member) removes its files once the transaction commits."""

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from webapp.checkin.models import CheckIn, CheckInFrame, CheckInPhoto, FaceSample


def _delete_files(instance, *names):
    for name in names:
        f = getattr(instance, name)
        if f and f.name:
            storage, path = f.storage, f.name
            transaction.on_commit(lambda s=storage, p=path: s.delete(p))


@receiver(post_delete, sender=FaceSample)
def _sample_files(sender, instance, **kwargs):
    _delete_files(instance, "photo", "crop")


@receiver(post_delete, sender=CheckIn)
def _checkin_files(sender, instance, **kwargs):
    _delete_files(instance, "crop")


@receiver(post_delete, sender=CheckInPhoto)
def _photo_files(sender, instance, **kwargs):
    _delete_files(instance, "photo")


@receiver(post_delete, sender=CheckInFrame)
def _frame_files(sender, instance, **kwargs):
    _delete_files(instance, "image")
