"""The ``annotators`` group: people who draw boxes on the detection datasets
they are assigned to (``Dataset.members``)."""

from django.db import migrations


def create(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name="annotators")


def remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="annotators").delete()


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(create, remove)]
