"""PostgreSQL triggers that send ``NOTIFY gallery_changed`` from every statement
writing embeddings, tombstones or model versions (``webapp.search.changes``:
a search then reads its gallery's marks only after a change). Statement-level:
a bulk ``COPY`` of a million embeddings notifies once. Nothing on SQLite."""

from django.db import migrations

TABLES = ("search_imageembedding", "search_searchtombstone", "registry_modelversion")

CREATE = ["""
CREATE OR REPLACE FUNCTION search_gallery_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gallery_changed', '');
    RETURN NULL;
END $$"""] + [f"""
CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION search_gallery_changed()""" for table in TABLES]

DROP = [f"DROP TRIGGER IF EXISTS {table}_changed ON {table}" for table in TABLES] + [
    "DROP FUNCTION IF EXISTS search_gallery_changed()"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)
    return run


class Migration(migrations.Migration):

    dependencies = [
        ("search", "0002_tombstones_watermark"),
        ("registry", "0001_initial"),
    ]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
