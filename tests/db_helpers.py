"""Test-only ways around the trail's protection: to tamper with it on purpose, and to let Django flush
the database between transactional tests (flush deletes every row, which the triggers rightly refuse)."""

from __future__ import annotations

import contextlib
import importlib

from django.db import connection


@contextlib.contextmanager
def audit_protection_lifted():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Superuser-only: triggers do not fire in a replication session.
            cursor.execute("SET session_replication_role = replica")
            try:
                yield cursor
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
        else:
            triggers = importlib.import_module("audit.migrations.0003_sqlite_append_only").SQLITE_TRIGGERS
            for name, _create in triggers:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            try:
                yield cursor
            finally:
                for _name, create in triggers:
                    cursor.execute(create)


@contextlib.contextmanager
def frozen_policy_rows_unlocked():
    """Change a published (frozen) policy entry as only a database operator could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
            try:
                yield cursor
            finally:
                cursor.execute("SET session_replication_role = DEFAULT")
        else:
            operation = importlib.import_module("policies.migrations.0002_sqlite_protection").Migration.operations[1]
            for name, _create in operation.sqlite_triggers:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            try:
                yield cursor
            finally:
                for _name, create in operation.sqlite_triggers:
                    cursor.execute(create)
