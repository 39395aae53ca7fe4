"""Refusing triggers for the embedded SQLite database, mirroring what django-pgtrigger installs on PostgreSQL.

pgtrigger only speaks PostgreSQL; without these, the zero-setup SQLite platform would let a frozen row be
changed. Used from migrations: ``protect_on_sqlite(name, table, when=…)``.
"""

from __future__ import annotations

from django.db import migrations


def trigger_sql(name: str, table: str, operation: str, when: str | None) -> str:
    condition = f" WHEN {when}" if when else ""
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON {table}{condition} "
        f"BEGIN SELECT RAISE(ABORT, '{table}: row is protected ({name})'); END;"
    )


def protect_on_sqlite(
    name: str,
    table: str,
    *,
    when: str | None = None,
    update_when: str | None = None,
    delete_when: str | None = None,
) -> migrations.RunPython:
    """Refuse UPDATE and DELETE on ``table`` (where ``when`` holds, in terms of OLD) on SQLite only.

    ``update_when`` (which may compare NEW with OLD) and ``delete_when`` replace ``when`` for one operation.
    """
    names = [f"{name}_update", f"{name}_delete"]
    statements = [
        trigger_sql(names[0], table, "UPDATE", update_when or when),
        trigger_sql(names[1], table, "DELETE", delete_when or when),
    ]

    def install(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for sql in statements:
                schema_editor.execute(sql)

    def uninstall(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for trigger in names:
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger}")

    operation = migrations.RunPython(install, uninstall)
    operation.sqlite_triggers = list(zip(names, statements, strict=True))
    return operation
