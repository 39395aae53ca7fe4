"""The default review chain, and on SQLite the same protection pgtrigger gives batches and batched payments."""

from django.db import migrations

from disbursement.defaults import install
from yikatong.sqlite_triggers import protect_on_sqlite

def default_chain(apps, schema_editor):
    install(apps)


class Migration(migrations.Migration):
    dependencies = [("disbursement", "0006_review_and_batches")]
    operations = [
        migrations.RunPython(default_chain, migrations.RunPython.noop),
        protect_on_sqlite(
            "batch_file_is_final",
            "disbursement_batch",
            update_when=(
                "OLD.generated_at IS NOT NULL AND (NEW.batch_no <> OLD.batch_no OR NEW.payout_id <> OLD.payout_id"
                " OR NEW.bank_id <> OLD.bank_id OR NEW.payment_count <> OLD.payment_count"
                " OR NEW.total_fen <> OLD.total_fen OR NEW.encoding <> OLD.encoding"
                " OR NEW.file_sha256 <> OLD.file_sha256 OR NEW.detail_sha256 <> OLD.detail_sha256"
                " OR NEW.stored_file <> OLD.stored_file OR NEW.generated_at IS NOT OLD.generated_at)"
            ),
            delete_when="OLD.generated_at IS NOT NULL",
        ),
        protect_on_sqlite(
            "payment_in_batch_is_final",
            "disbursement_payment",
            update_when=(
                "OLD.batch_id IS NOT NULL AND (NEW.batch_id IS NOT OLD.batch_id OR NEW.amount <> OLD.amount"
                " OR NEW.account_hash <> OLD.account_hash OR NEW.account_cipher <> OLD.account_cipher"
                ' OR NEW.holder_name <> OLD.holder_name OR NEW."row" <> OLD."row" OR NEW.payout_id <> OLD.payout_id)'
            ),
            delete_when="OLD.batch_id IS NOT NULL",
        ),
    ]
