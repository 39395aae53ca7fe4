"""The embedded SQLite database refuses changes to the trail as PostgreSQL does (pgtrigger covers PG)."""

from django.db import migrations

from yikatong.sqlite_triggers import protect_on_sqlite

append_only = protect_on_sqlite("audit_append_only", "audit_auditevent")
SQLITE_TRIGGERS = append_only.sqlite_triggers


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_initial")]
    operations = [append_only]
