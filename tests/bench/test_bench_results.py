"""The result-file benchmark (bench/bench_results.py) run at a tiny size, so that it cannot rot."""

from __future__ import annotations

import pytest
from django.db import connection

from banks.demo import seed_banks
from banks.exchange import batch_acknowledge
from banks.models import FailureReason
from banks.resultfile import Problems, RowReader, file_rows
from banks.tokens import bank_identity
from bench import bench_results
from disbursement.batches import payout_release
from disbursement.models import Batch, Payment, payment_ref
from tests.disbursement.test_batches import approve_directly

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(payout, roster_file, upload, clerk_a, finance_admin, django_capture_on_commit_callbacks) -> Batch:
    """The largest batch of a released payout of 40 people, its file generated and acknowledged by its bank."""
    seed_banks()
    path, _rows = roster_file(40)
    upload(path)
    approve_directly(payout, submitted_by=clerk_a)
    with django_capture_on_commit_callbacks(execute=True):
        payout_release(acting_user=finance_admin, payout=payout)
    batch = Batch.objects.filter(payout=payout).select_related("bank", "payout").order_by("-payment_count")[0]
    bank_identity(batch.bank)
    batch_acknowledge(bank=batch.bank, batch=batch)
    return batch


def read(batch: Batch, path) -> tuple[list, Problems]:
    problems = Problems()
    reader = RowReader(
        payout_code=batch.payout.code,
        reason_codes=FailureReason.objects.values_list("code", flat=True),
        problems=problems,
    )
    with path.open("rb") as handle:
        rows = list(
            file_rows(
                handle, reader, encoding=batch.bank.file_encoding, batch_no=batch.batch_no, bank_code=batch.bank.code
            )
        )
    return rows, problems


def test_the_benchmarks_result_file_reads_back_whole_and_each_bad_file_has_its_one_bad_line(batch, tmp_path):
    files = bench_results.write_files(batch, tmp_path)

    rows, problems = read(batch, files.paths["apply"])
    assert not problems, problems.items
    assert len(rows) == files.payments == batch.payment_count
    assert sum(r.status == "failed" for r in rows) == files.failed >= 1
    assert all(r.reason_code for r in rows if r.status == "failed")
    assert all(r.bank_txn_id and r.paid_at for r in rows if r.status == "paid")
    ours = {
        (payment_ref(batch.payout.code, row, attempt), int(amount * 100))
        for row, attempt, amount in Payment.objects.filter(batch=batch).values_list("row", "attempt", "amount")
    }
    assert {(r.ref, r.amount_fen) for r in rows} == ours

    _rows, problems = read(batch, files.paths["bad_status"])
    assert [(p["code"], p["line"]) for p in problems.items] == [("unknown_status", files.payments + 1)]

    rows, problems = read(batch, files.paths["not_in_batch"])
    assert not problems  # well-formed: only the checks against the batch's payments can find it
    assert rows[-1].ref not in {ref for ref, _fen in ours}


@pytest.mark.postgres
def test_two_runs_apply_replay_and_reject_and_leave_the_payments_protected(batch, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    files = bench_results.write_files(batch, tmp_path)

    runs = [bench_results.run(batch, files) for _ in range(2)]

    assert [(r["ok"], r["problems"]) for r in runs] == [(True, [])] * 2
    assert all(r["apply"]["update"] > 0 and r["bad_status"].get("update") is None for r in runs)
    statuses = set(Payment.objects.filter(batch=batch).values_list("status", flat=True))
    assert statuses == {"paid", "failed"}
    batch.refresh_from_db()
    assert batch.status == "closed"
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgenabled FROM pg_trigger WHERE tgrelid = 'disbursement_payment'::regclass AND tgname LIKE %s",
            ["pgtrigger_payment_result_moves_once_%"],
        )
        assert cursor.fetchall() == [("O",)]  # enabled again after the benchmark's reset
    assert not any((tmp_path / "media" / "results").iterdir())  # received files are not kept
    report = bench_results.table(runs)
    assert "**apply: receive + submit + job**" in report and report.count("\n") == len(bench_results.ROWS) + 1
