"""Test-only ways around the database's protections: to tamper with the trail or a frozen row on purpose, as
an operator with database access could, and to let Django flush the database between transactional tests
(flush deletes every row, which the append-only triggers rightly refuse)."""

from __future__ import annotations

import contextlib
import importlib

from django.db import connection


@contextlib.contextmanager
def _triggers_lifted(sqlite_triggers):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Superuser-only: triggers do not fire in a replication session.
            cursor.execute("SET session_replication_role = replica")
            try:
                yield cursor
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
        else:
            for name, _create in sqlite_triggers:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            try:
                yield cursor
            finally:
                for _name, create in sqlite_triggers:
                    cursor.execute(create)


def all_protection_lifted():
    """Every refusing trigger lifted (the trail's, frozen batches' and payments', published policies'): for flush."""
    if connection.vendor == "postgresql":
        return _triggers_lifted([])
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL")
        return _triggers_lifted(cursor.fetchall())


def audit_protection_lifted():
    return _triggers_lifted(importlib.import_module("audit.migrations.0003_sqlite_append_only").SQLITE_TRIGGERS)


def frozen_policy_rows_unlocked():
    """Change a published (frozen) policy entry as only a database operator could."""
    operation = importlib.import_module("policies.migrations.0002_sqlite_protection").Migration.operations[1]
    return _triggers_lifted(operation.sqlite_triggers)
