"""The no-重发 constraint keyed on a generated "holds money" column instead of the status, and room left on the
payment table's pages (fillfactor), so that a bank's result updates a payment in place (HOT) on PostgreSQL."""

import importlib

from django.db import migrations, models

# SQLite rebuilds the table to add the column, which drops its triggers: the ones 0008 installed are put back.
_SQLITE_PAYMENT_TRIGGERS = [
    operation
    for operation in importlib.import_module("disbursement.migrations.0008_results_and_corrections").Migration.operations
    if isinstance(operation, migrations.RunPython)
]


def leave_room_on_pages(apps, schema_editor):
    # Each payment is written once (roster import) and rewritten about once (its bank result): with half of each
    # page free, the new version fits beside the old one and no index is touched. New pages only; the table's
    # existing pages keep their fill until rewritten (VACUUM FULL, CLUSTER).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE disbursement_payment SET (fillfactor = 45)")


def fill_pages(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE disbursement_payment RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('disbursement', '0008_results_and_corrections'),
        ('policies', '0002_sqlite_protection'),
        ('recipients', '0004_roster_failed_status'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='payment',
            name='payment_once_per_policy_period',
        ),
        migrations.AddField(
            model_name='payment',
            name='money_committed',
            field=models.GeneratedField(db_persist=True, expression=models.Q(('status__in', ['submitted', 'approved', 'batched', 'sent', 'paid', 'failed', 'returned'])), output_field=models.BooleanField()),
        ),
        migrations.AddConstraint(
            model_name='payment',
            constraint=models.UniqueConstraint(condition=models.Q(('money_committed', True)), fields=('policy', 'period', 'recipient'), name='payment_once_per_policy_period'),
        ),
        migrations.RunPython(leave_room_on_pages, fill_pages),
        *_SQLITE_PAYMENT_TRIGGERS,
    ]
