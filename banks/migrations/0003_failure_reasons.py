"""The failure-reason catalogue banks quote in their results."""

from django.db import migrations

from banks.defaults import install


def failure_reasons(apps, schema_editor):
    install(apps)


class Migration(migrations.Migration):
    dependencies = [("banks", "0002_bank_exchange")]
    operations = [migrations.RunPython(failure_reasons, migrations.RunPython.noop)]
