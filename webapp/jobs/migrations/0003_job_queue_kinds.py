"""Job.queue (the Celery queue a job was routed to), and job kinds and task
names spelled one way: ``<app>.<action>`` and ``workers.<app>.<action>``."""

from django.db import migrations, models

# old kind -> (new kind, new task name, queue)
RENAMES = {
    "enrol": ("checkin.enrol", "workers.checkin.enrol", "interactive"),
    "checkin": ("checkin.checkin", "workers.checkin.checkin", "interactive"),
    "image_search": ("search.query", "workers.search.query", "interactive"),
    "imagenet_classify": ("search.classify", "workers.search.classify", "interactive"),
    "predict": ("training.predict", "workers.training.predict", "interactive"),
    "activations": ("training.activations", "workers.training.activations", "interactive"),
    "annotation.detect": ("annotation.detect", "workers.annotation.detect", "interactive"),
    "train_classifier": ("training.classifier", "workers.training.classifier", "batch"),
    "dataset_import": ("datasets.import", "workers.datasets.import", "batch"),
    "gallery_embed": ("search.embed", "workers.search.embed", "batch"),
    "search_index": ("search.build_index", "workers.search.build_index", "batch"),
    "annotation.preannotate": ("annotation.preannotate", "workers.annotation.preannotate", "batch"),
    "annotation.export": ("annotation.export", "workers.annotation.export", "batch"),
}


def forwards(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    for old, (kind, task, queue) in RENAMES.items():
        for job in Job.objects.filter(kind=old).only("pk", "key"):
            key = job.key.replace(f"{old}:", f"{kind}:", 1) if job.key.startswith(f"{old}:") else job.key
            Job.objects.filter(pk=job.pk).update(kind=kind, task_name=task, queue=queue, key=key)


def backwards(apps, schema_editor):
    Job = apps.get_model("jobs", "Job")
    for old, (kind, _task, _queue) in RENAMES.items():
        Job.objects.filter(kind=kind).update(kind=old)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0002_job_queued_at")]

    operations = [
        migrations.AddField(model_name="job", name="queue",
                            field=models.CharField(blank=True, db_index=True, max_length=100)),
        migrations.RunPython(forwards, backwards),
    ]
