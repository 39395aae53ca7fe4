"""On PostgreSQL the staging table is UNLOGGED: COPY into it writes no WAL, and after a crash it is empty,
which a retried import expects anyway (it starts by clearing its own staging rows)."""

from django.db import migrations


def unlogged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE recipients_rosterstage SET UNLOGGED")


def logged(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE recipients_rosterstage SET LOGGED")


class Migration(migrations.Migration):
    dependencies = [("recipients", "0001_initial")]
    operations = [migrations.RunPython(unlogged, logged)]
