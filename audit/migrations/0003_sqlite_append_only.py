"""The embedded SQLite database refuses changes to the trail as PostgreSQL does (pgtrigger covers PG)."""

from django.db import migrations

SQLITE_TRIGGERS = [
    (
        "audit_append_only_update",
        "CREATE TRIGGER IF NOT EXISTS audit_append_only_update BEFORE UPDATE ON audit_auditevent "
        "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
    ),
    (
        "audit_append_only_delete",
        "CREATE TRIGGER IF NOT EXISTS audit_append_only_delete BEFORE DELETE ON audit_auditevent "
        "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;",
    ),
]


def install(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for _name, sql in SQLITE_TRIGGERS:
        schema_editor.execute(sql)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for name, _sql in SQLITE_TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_initial")]
    operations = [migrations.RunPython(install, uninstall)]
