"""The PostgreSQL database a benchmark builds once and reuses: create and migrate it, say what it was built with,
point Django at it. Each benchmark has its own (its name) and records its build in a one-row table (its meta)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def connect(dbname: str):
    import psycopg2

    connection = psycopg2.connect(dbname=dbname, **SERVER)
    connection.autocommit = True
    return connection


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}"


class BenchDatabase:
    def __init__(self, name: str, meta: str) -> None:
        self.name = name
        self.meta = meta  # a one-row table: {"data": what the database was built with}
        self.url = f"postgres://{SERVER['user']}@{SERVER['host']}:{SERVER['port']}/{name}"

    def built_with(self) -> dict | None:
        """What the database was built with, or None when it is missing or its build did not finish."""
        import psycopg2

        try:
            connection = connect(self.name)
        except psycopg2.OperationalError:
            return None
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass(%s)", [self.meta])
                if cursor.fetchone()[0] is None:
                    return None
                cursor.execute(f"SELECT data FROM {self.meta}")  # noqa: S608 — our own table name
                row = cursor.fetchone()
                return row[0] if row else None
        finally:
            connection.close()

    def recreate(self) -> None:
        """Drop and create the database, then run the project's migrations on it."""
        connection = connect("postgres")
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
                cursor.execute(f"CREATE DATABASE {self.name}")
        finally:
            connection.close()
        env = {**os.environ, "DATABASE_URL": self.url}
        subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True)

    def setup_django(self) -> None:
        os.environ["DATABASE_URL"] = self.url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yikatong.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
