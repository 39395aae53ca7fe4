"""The built-in rules and reference sources (checks/defaults.py)."""

from django.db import migrations

from checks.defaults import install


def load(apps, schema_editor):
    install(apps)


class Migration(migrations.Migration):
    dependencies = [("checks", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
