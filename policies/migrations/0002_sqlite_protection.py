"""On SQLite, a published list and the entries it froze refuse changes, as pgtrigger makes PostgreSQL do."""

from django.db import migrations

from yikatong.sqlite_triggers import protect_on_sqlite


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [
        protect_on_sqlite("policylist_published_is_final", "policies_policylist", when="OLD.status = 'published'"),
        protect_on_sqlite("policyentry_frozen", "policies_policyentry", when="OLD.frozen = 1"),
    ]
