"""The money ledger and `manage.py reconcile`: every fen of an approved payout is in flight, paid, failed or stopped.

The review, release and bank-result services come in later issues: these tests import a real roster through the
payout fixtures, then move payments and payouts along with queryset .update() calls that stand in for those steps.
"""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from banks.models import Bank
from disbursement.enums import BatchStatus, PaymentStatus, PayoutStatus
from disbursement.ledger import ledger, reconcile_ok, to_fen, yuan
from disbursement.models import Batch, Payment, Payout

ROWS = 20


def reconcile(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def approved_payout(payout, roster_file, upload):
    """A payout whose roster of 20 was imported, then (standing in for the review chain) approved whole."""
    path, _rows = roster_file(ROWS)
    upload(path)
    payments = Payment.objects.filter(payout=payout)
    assert payments.count() == ROWS
    payments.update(status=PaymentStatus.APPROVED)
    total = payments.aggregate(total=Sum("amount"))["total"]
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.APPROVED, approved_total=total)
    payout.refresh_from_db()
    return payout


@pytest.fixture
def bank(db):
    return Bank.objects.create(code="ccb-erqi", name="中国建设银行二七支行", aliases=["建行"])


def make_batch(payout, bank, payments, *, created_by, batch_no="PF-B1", attempt=1, total_fen=None, status=None):
    """A batch row made directly (batch generation is a later issue), carrying `payments`, which become batched."""
    ids = [p.pk for p in payments]
    fen = sum(to_fen(p.amount) for p in payments)
    batch = Batch.objects.create(
        batch_no=batch_no,
        payout=payout,
        bank=bank,
        attempt=attempt,
        status=status or BatchStatus.READY,
        payment_count=len(ids),
        total_fen=fen if total_fen is None else total_fen,
        encoding="gbk",
        created_by=created_by,
    )
    Payment.objects.filter(pk__in=ids).update(batch=batch, status=PaymentStatus.BATCHED)
    return batch


@pytest.fixture
def released_payout(approved_payout, bank, finance_admin):
    """Released, 16 of its 20 payments in one batch: 10 paid, 3 failed, 2 sent, 1 failed and reissued (its new
    attempt approved, waiting for the next batch); 2 stopped before batching; 2 still approved."""
    payout = approved_payout
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.RELEASED)
    payments = list(Payment.objects.filter(payout=payout).order_by("row"))
    make_batch(payout, bank, payments[:16], created_by=finance_admin)
    ids = [p.pk for p in payments]
    Payment.objects.filter(pk__in=ids[:10]).update(status=PaymentStatus.PAID)
    Payment.objects.filter(pk__in=ids[10:13]).update(status=PaymentStatus.FAILED)
    Payment.objects.filter(pk__in=ids[13:15]).update(status=PaymentStatus.SENT)
    Payment.objects.filter(pk=ids[15]).update(status=PaymentStatus.REISSUED)
    reissue(payments[15])
    Payment.objects.filter(pk__in=ids[16:18]).update(status=PaymentStatus.STOPPED)
    payout.refresh_from_db()
    return payout


def reissue(original: Payment) -> Payment:
    """The new attempt of a failed payment, carrying its money on: the child of the original (attempt + 1, same
    person), not yet in a batch; the ledger only sees the statuses."""
    new = Payment.objects.get(pk=original.pk)
    new.pk = None
    new.batch = None
    new.attempt = original.attempt + 1
    new.reissue_of = original
    new.status = PaymentStatus.APPROVED
    new.save()
    return new


def fen_of(payout, *statuses) -> int:
    total = Payment.objects.filter(payout=payout, status__in=statuses).aggregate(t=Sum("amount"))["t"]
    return to_fen(total or Decimal(0))


def test_an_approved_payout_balances_to_the_fen(approved_payout):
    (entry,) = ledger([approved_payout.code])

    assert entry.approved == to_fen(approved_payout.approved_total) > 0
    assert entry.in_flight == entry.approved
    assert entry.paid == entry.failed_open == entry.stopped == entry.reissued == 0
    assert entry.counts == {PaymentStatus.APPROVED: ROWS}
    assert entry.problems == []
    assert reconcile_ok([entry])


def test_a_released_payout_balances_with_the_reissued_original_left_out(released_payout):
    (entry,) = ledger([released_payout.code])

    assert entry.problems == []
    assert entry.paid == fen_of(released_payout, PaymentStatus.PAID)
    assert entry.failed_open == fen_of(released_payout, PaymentStatus.FAILED)
    assert entry.stopped == fen_of(released_payout, PaymentStatus.STOPPED)
    assert entry.reissued == fen_of(released_payout, PaymentStatus.REISSUED) > 0
    assert entry.in_flight == fen_of(released_payout, PaymentStatus.APPROVED, PaymentStatus.SENT)
    assert entry.approved == entry.in_flight + entry.paid + entry.failed_open + entry.stopped
    assert entry.counts[PaymentStatus.PAID] == 10
    assert entry.counts[PaymentStatus.APPROVED] == 3  # two never batched, one reissue


def test_a_draft_payout_is_shown_but_not_held_to_the_identity(payout, roster_file, upload):
    path, _rows = roster_file(5)
    upload(path)

    (entry,) = ledger([payout.code])

    assert entry.approved == 0
    assert entry.pending == fen_of(payout, PaymentStatus.DRAFT, PaymentStatus.CHECKED) > 0
    assert entry.problems == []


def test_a_payout_not_yet_approved_holds_no_moving_money(payout, roster_file, upload):
    path, _rows = roster_file(5)
    upload(path)
    Payment.objects.filter(pk=Payment.objects.filter(payout=payout).first().pk).update(status=PaymentStatus.PAID)

    (entry,) = ledger([payout.code])

    assert entry.problems == ["moved_before_approval:1"]


def test_reconcile_exits_0_and_prints_yuan_when_everything_balances(released_payout):
    code, out = reconcile()

    assert code == 0
    line = next(row for row in out.splitlines() if row.startswith(released_payout.code))
    assert yuan(to_fen(released_payout.budget_amount)) in line
    assert f"{released_payout.approved_total:.2f}" in line
    assert line.endswith("ok")
    assert "1 payouts, 0 with problems." in out


def test_a_single_fen_changed_after_approval_makes_reconcile_exit_1(released_payout):
    # A payment still approved (not in a batch, so the frozen-batch trigger allows it) grows by one fen.
    loose = Payment.objects.filter(payout=released_payout, status=PaymentStatus.APPROVED, batch=None).first()
    Payment.objects.filter(pk=loose.pk).update(amount=loose.amount + Decimal("0.01"))

    code, out = reconcile("--payout", released_payout.code)

    assert code == 1
    line = next(row for row in out.splitlines() if row.startswith(released_payout.code))
    assert "unaccounted:-1" in line
    assert "1 payouts, 1 with problems." in out


def test_a_fen_lost_by_a_stopped_payment_turned_cancelled_is_unaccounted(released_payout):
    stopped = Payment.objects.filter(payout=released_payout, status=PaymentStatus.STOPPED).first()
    Payment.objects.filter(pk=stopped.pk).update(status=PaymentStatus.CANCELLED)

    (entry,) = ledger([released_payout.code])

    assert entry.problems == [f"unaccounted:{to_fen(stopped.amount)}"]
    assert entry.cancelled == to_fen(stopped.amount)


def test_a_batch_whose_total_is_wrong_is_found(approved_payout, bank, finance_admin):
    payments = list(Payment.objects.filter(payout=approved_payout).order_by("row")[:5])
    right = sum(to_fen(p.amount) for p in payments)
    # Before its file is generated (generated_at unset) the batch row may still change: the trigger allows it.
    make_batch(approved_payout, bank, payments, created_by=finance_admin, batch_no="PF-B9", total_fen=right + 1)

    code, out = reconcile()

    assert code == 1
    assert "batch_total_mismatch:PF-B9" in out
    (entry,) = ledger()
    assert entry.problems == ["batch_total_mismatch:PF-B9"]


def test_a_batch_whose_count_is_wrong_is_found(approved_payout, bank, finance_admin):
    payments = list(Payment.objects.filter(payout=approved_payout).order_by("row")[:5])
    batch = make_batch(approved_payout, bank, payments, created_by=finance_admin)
    Batch.objects.filter(pk=batch.pk).update(payment_count=6)

    (entry,) = ledger()

    assert entry.problems == ["batch_count_mismatch:PF-B1"]


def test_a_payment_in_a_batch_that_went_back_to_approved_is_found(approved_payout, bank, finance_admin):
    payments = list(Payment.objects.filter(payout=approved_payout).order_by("row")[:5])
    make_batch(approved_payout, bank, payments, created_by=finance_admin)
    Payment.objects.filter(pk=payments[0].pk).update(status=PaymentStatus.APPROVED)

    (entry,) = ledger()

    assert entry.problems == ["batch_status_mismatch:PF-B1"]


def test_amounts_that_floats_cannot_hold_add_up_exactly(approved_payout):
    # 0.29 × 100 is 28.999… as a float: on SQLite the amounts are REALs, so the ledger rounds each row to fen.
    ids = list(Payment.objects.filter(payout=approved_payout).order_by("row").values_list("pk", flat=True))
    for pk, amount in zip(ids, ["0.29", "0.57", "1.01", "1.15", "4.35", "0.07"], strict=False):
        Payment.objects.filter(pk=pk).update(amount=Decimal(amount))
    total = Payment.objects.filter(payout=approved_payout).aggregate(t=Sum("amount"))["t"]
    Payout.objects.filter(pk=approved_payout.pk).update(approved_total=total)

    (entry,) = ledger()

    assert entry.in_flight == to_fen(total)
    assert entry.problems == []


def test_json_output_has_every_amount_in_fen_and_the_problems(released_payout):
    code, out = reconcile("--json", "--payout", released_payout.code)

    assert code == 0
    data = json.loads(out)
    assert data["ok"] is True
    (entry,) = data["payouts"]
    assert entry["code"] == released_payout.code
    assert entry["status"] == PayoutStatus.RELEASED
    for name in ("budget", "approved", "in_flight", "paid", "failed_open", "reissued", "stopped", "cancelled"):
        assert isinstance(entry[name], int)
    assert entry["approved"] == entry["accounted"] == to_fen(released_payout.approved_total)
    assert entry["counts"]["paid"] == 10
    assert entry["problems"] == []


def test_json_output_says_not_ok_and_exits_1_when_a_batch_is_off(approved_payout, bank, finance_admin):
    payments = list(Payment.objects.filter(payout=approved_payout)[:3])
    make_batch(approved_payout, bank, payments, created_by=finance_admin, total_fen=1)

    code, out = reconcile("--json")

    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    assert data["payouts"][0]["problems"] == ["batch_total_mismatch:PF-B1"]


def test_an_unknown_payout_is_an_error_of_its_own(db):
    with pytest.raises(CommandError, match="NOPE") as raised:
        call_command("reconcile", "--payout", "NOPE", stdout=io.StringIO())

    assert raised.value.returncode == 2


def test_yuan_prints_fen_exactly():
    assert yuan(0) == "0.00"
    assert yuan(1) == "0.01"
    assert yuan(-1) == "-0.01"
    assert yuan(123456789012) == "1234567890.12"
    assert yuan(123456789012, grouped=True) == "1,234,567,890.12"
    assert yuan(-100000, grouped=True) == "-1,000.00"
