"""失败更正: the queue of failed and returned payments, correcting one (the account, for a reissue) or stopping it
(停发), who may, and the ledger at each step.

The bank-results service is written concurrently (issue 7): `bank_fails`, `bank_pays` and `bank_returns` put
payments into the state it will, with the one conditional update the database triggers allow. The helpers here are
shared with test_reissue.py and test_corrections_doors.py."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone
from stdnum import luhn

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.demo import seed_banks
from disbursement.batches import payout_release
from disbursement.corrections import (
    CorrectionRefused,
    correction_queue,
    payment_correct,
    payment_stop,
    queue_filter,
)
from disbursement.enums import BankResult, CorrectionKind, PaymentStatus
from disbursement.ledger import ledger, to_fen
from disbursement.models import Correction, Payment, Payout
from disbursement.services import payout_create
from recipients.services import roster_upload
from tests.disbursement.test_batches import approve_directly
from yikatong import pii

pytestmark = pytest.mark.django_db

ROWS = 8
CCB = "中国建设银行二七区支行"  # an alias of the demo bank ccb-erqi
ICBC = "中国工商银行二七区支行"  # an alias of icbc-erqi


# --- Shared helpers -----------------------------------------------------------------------------------------


def new_account(n: int) -> str:
    """A 19-digit card number that passes the Luhn check, different for each n."""
    base = f"62170024{n:010d}"
    return base + luhn.calc_check_digit(base)


def release_payout(payout, *, clerk, finance, roster_file, capture, rows=ROWS, seed=11, name="roster.xlsx"):
    """Import a roster of `rows` people into the payout, all banking with CCB, approve it (standing in for the
    review chain) and release it; the bank file jobs run once the release commits."""
    seed_banks()
    path, _rows = roster_file(rows, seed=seed, name=name)
    with capture(execute=True):
        roster_upload(acting_user=clerk, payout=payout, filename=path.name, data=path.read_bytes())
    Payment.objects.filter(payout=payout).update(bank_name=CCB)
    approve_directly(payout, submitted_by=clerk)
    with capture(execute=True):
        payout_release(acting_user=finance, payout=payout)
    payout.refresh_from_db()
    return payout


def payments_of(payout, *statuses) -> list[Payment]:
    found = Payment.objects.filter(payout=payout)
    if statuses:
        found = found.filter(status__in=statuses)
    return list(found.order_by("row", "attempt"))


def _answered(payments, **changes) -> int:
    # As the results service applies a result: once, to payments that are batched or sent in a generated batch.
    return Payment.objects.filter(
        pk__in=[p.pk for p in payments],
        status__in=[PaymentStatus.BATCHED, PaymentStatus.SENT],
        batch__generated_at__isnull=False,
    ).update(result_at=timezone.now(), **changes)


def bank_fails(payments, *, code="account_closed", reason="卡号已注销") -> None:
    moved = _answered(
        payments, status=PaymentStatus.FAILED, result=BankResult.FAILED, result_code=code, result_reason=reason
    )
    assert moved == len(payments)


def bank_pays(payments) -> None:
    moved = _answered(payments, status=PaymentStatus.PAID, result=BankResult.PAID, paid_at=timezone.now())
    assert moved == len(payments)


def bank_returns(payments, *, code="account_dormant", reason="账户久悬，资金退回") -> None:
    """A paid payment the bank later reports returned (退回)."""
    moved = Payment.objects.filter(pk__in=[p.pk for p in payments], status=PaymentStatus.PAID).update(
        status=PaymentStatus.RETURNED,
        result=BankResult.RETURNED,
        result_code=code,
        result_reason=reason,
        returned_at=timezone.now(),
    )
    assert moved == len(payments)


def reconcile_exit(code: str) -> int:
    try:
        call_command("reconcile", "--payout", code, stdout=io.StringIO())
    except SystemExit as exc:
        return exc.code
    return 0


def balanced(payout):
    """The payout's ledger, asserting it balances to the fen (and that `manage.py reconcile` says so too)."""
    (entry,) = ledger([payout.code])
    assert entry.problems == [], entry.problems
    assert entry.approved == entry.in_flight + entry.paid + entry.failed_open + entry.stopped
    assert reconcile_exit(payout.code) == 0
    return entry


def fen_of(payments) -> int:
    return sum(to_fen(p.amount) for p in payments)


# --- Fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def released(payout, clerk_a, finance_admin, roster_file, django_capture_on_commit_callbacks):
    return release_payout(
        payout,
        clerk=clerk_a,
        finance=finance_admin,
        roster_file=roster_file,
        capture=django_capture_on_commit_callbacks,
    )


@pytest.fixture
def failed(released):
    """The released payout with its first three payments failed (卡号已注销) and the rest paid."""
    first = payments_of(released)
    bank_fails(first[:3])
    bank_pays(first[3:])
    return released


@pytest.fixture
def payout_b(
    clerk_a, published_policy, county, department_b, finance_admin, roster_file, django_capture_on_commit_callbacks
):
    """A released payout of department B with two failures. The one published policy is A's: the payout is made
    by A's clerk, then moved to B, which is all the scoping looks at."""
    payout = payout_create(
        acting_user=clerk_a, policy=published_policy, period="2026-11", region=county,
        budget_document="二七财预〔2026〕90号", budget_amount=Decimal("100000.00"),
    )  # fmt: skip
    release_payout(
        payout, clerk=clerk_a, finance=finance_admin, roster_file=roster_file,
        capture=django_capture_on_commit_callbacks,
        rows=4, seed=77, name="b.xlsx",
    )  # fmt: skip
    Payout.objects.filter(pk=payout.pk).update(department=department_b)
    bank_fails(payments_of(payout)[:2], code="name_mismatch", reason="户名不符")
    payout.refresh_from_db()
    return payout


# --- The queue ------------------------------------------------------------------------------------------------


def test_the_queue_shows_failed_and_returned_payments_with_the_banks_reason(failed, clerk_a):
    paid = payments_of(failed, PaymentStatus.PAID)
    bank_returns(paid[:1])

    queue = list(correction_queue(clerk_a))

    assert [p.status for p in queue] == [PaymentStatus.FAILED] * 3 + [PaymentStatus.RETURNED]
    assert [p.reason_name for p in queue] == ["卡号已注销"] * 3 + ["账户久悬未激活"]
    assert all(p.pending and p.correctable for p in queue)
    assert queue[3].pk == paid[0].pk
    assert [p.pk for p in queue_filter(correction_queue(clerk_a), status=PaymentStatus.RETURNED)] == [paid[0].pk]
    assert queue_filter(correction_queue(clerk_a), reason="account_closed").count() == 3


def test_a_clerk_sees_only_their_departments_failures_and_finance_sees_all(
    failed, payout_b, clerk_a, outsider, finance_admin, auditor
):
    assert {p.payout_id for p in correction_queue(clerk_a)} == {failed.pk}
    assert {p.payout_id for p in correction_queue(outsider)} == {payout_b.pk}
    assert correction_queue(outsider).count() == 2
    assert correction_queue(finance_admin).count() == correction_queue(auditor).count() == 5


def test_the_queue_tells_pending_from_corrected(failed, clerk_a):
    first = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=first, account=new_account(1))

    queue = correction_queue(clerk_a)
    assert [p.pk for p in queue_filter(queue, state="corrected")] == [first.pk]
    assert queue_filter(queue, state="pending").count() == 2
    assert not queue.get(pk=first.pk).pending


# --- Correcting -----------------------------------------------------------------------------------------------


def test_the_clerk_corrects_a_failed_payment_and_only_the_masked_account_is_kept_in_the_clear(failed, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    account = new_account(7)

    correction = payment_correct(
        acting_user=clerk_a, payment=payment, account=f" {account[:4]}-{account[4:]} ", reason="已电话核实新卡号"
    )

    stored = Correction.objects.get(payment=payment)
    assert stored.pk == correction.pk and stored.kind == CorrectionKind.CORRECT
    assert stored.account_masked == "****" + account[-4:]
    assert pii.decrypt(bytes(stored.account_cipher), purpose="account") == account
    assert stored.account_hash == pii.keyed_hash(account, purpose="account")
    # Holder and bank left empty keep the payment's own.
    assert (stored.holder_name, stored.bank_name) == (payment.holder_name, payment.bank_name)
    assert stored.corrected_by == clerk_a and stored.reason == "已电话核实新卡号"
    # The failed payment itself never changes.
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.result == BankResult.FAILED
    event = AuditEvent.objects.get(action=AuditAction.PAYMENT_CORRECT)
    assert event.actor_label == "clerk_a" and event.object_id == str(payment.pk)
    assert event.after["correction"]["account"] == "****" + account[-4:]
    assert event.after["original_account"] == payment.account_masked
    assert account not in json.dumps([event.before, event.after], ensure_ascii=False)


def test_correcting_again_replaces_the_correction_until_the_reissue(failed, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
    payment_correct(acting_user=clerk_a, payment=payment, account=new_account(2), bank_name=ICBC, holder_name="李四")

    stored = Correction.objects.get(payment=payment)
    assert stored.account_masked == "****" + new_account(2)[-4:]
    assert (stored.bank_name, stored.holder_name) == (ICBC, "李四")
    second = AuditEvent.objects.filter(action=AuditAction.PAYMENT_CORRECT).order_by("pk").last()
    assert second.before["correction"]["account"] == "****" + new_account(1)[-4:]
    assert second.after["correction"]["holder_name"] == "李*"


@pytest.mark.parametrize(
    ("account", "code"),
    [("", "account_missing"), ("6217 0024", "account_format"), ("62170024ABCD12345", "account_format")],
)
def test_a_malformed_account_is_refused_with_the_roster_imports_code(failed, clerk_a, account, code):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    with pytest.raises(ValidationError) as caught:
        payment_correct(acting_user=clerk_a, payment=payment, account=account)
    assert caught.value.code == code
    assert not Correction.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PAYMENT_CORRECT).exists()


def test_a_bank_that_is_not_an_active_disbursing_bank_is_refused(failed, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    with pytest.raises(ValidationError) as caught:
        payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1), bank_name="火星银行")
    assert caught.value.code == "bank_unknown"
    assert "火星银行" in caught.value.messages[0]
    assert not Correction.objects.exists()


def test_a_reason_that_cannot_be_corrected_can_only_be_stopped(released, clerk_a):
    payment = payments_of(released)[0]
    bank_fails([payment], code="holder_deceased", reason="户主已身故")
    (queued,) = correction_queue(clerk_a)
    assert queued.reason_name == "户主已身故" and not queued.correctable

    with pytest.raises(ValidationError) as caught:
        payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
    assert caught.value.code == "reason_not_correctable"

    payment_stop(acting_user=clerk_a, payment=payment, reason="经核实户主已于2026年10月身故")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.STOPPED


def test_a_payment_the_bank_has_not_answered_or_paid_cannot_be_corrected(released, clerk_a):
    batched, paid = payments_of(released)[:2]
    bank_pays([paid])
    for payment in (batched, paid):
        with pytest.raises(ValidationError) as caught:
            payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
        assert caught.value.code == "not_correctable"
        with pytest.raises(ValidationError) as caught:
            payment_stop(acting_user=clerk_a, payment=payment, reason="不应停发")
        assert caught.value.code == "not_correctable"
    assert not Correction.objects.exists()


# --- Stopping -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_stop_needs_a_reason(failed, clerk_a, reason):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    with pytest.raises(ValidationError) as caught:
        payment_stop(acting_user=clerk_a, payment=payment, reason=reason)
    assert caught.value.code == "reason_required"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert not Correction.objects.exists()


def test_a_stop_replaces_a_correction_and_keeps_the_payment_in_its_batch(failed, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))

    payment_stop(acting_user=clerk_a, payment=payment, reason="已迁出本区，不再享受")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.STOPPED and payment.batch_id is not None
    assert payment.result == BankResult.FAILED  # what the bank said stays
    stored = Correction.objects.get(payment=payment)
    assert (stored.kind, stored.reason, stored.account_masked) == (CorrectionKind.STOP, "已迁出本区，不再享受", "")
    assert stored.account_cipher is None
    event = AuditEvent.objects.get(action=AuditAction.PAYMENT_STOP)
    assert event.before["status"] == PaymentStatus.FAILED and event.before["correction"]["kind"] == "correct"
    assert event.after == {"status": "stopped", "result_code": "account_closed", "reason": "已迁出本区，不再享受"}
    assert payment.pk not in {p.pk for p in correction_queue(clerk_a)}


def test_a_stopped_payment_cannot_be_corrected_or_stopped_again(failed, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_stop(acting_user=clerk_a, payment=payment, reason="停发")
    with pytest.raises(ValidationError) as caught:
        payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
    assert caught.value.code == "not_correctable"
    with pytest.raises(ValidationError) as caught:
        payment_stop(acting_user=clerk_a, payment=payment, reason="再停发")
    assert caught.value.code == "not_correctable"
    assert AuditEvent.objects.filter(action=AuditAction.PAYMENT_STOP).count() == 1


# --- Who may --------------------------------------------------------------------------------------------------


def test_the_outsider_cannot_correct_or_stop(failed, outsider):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    with pytest.raises(CorrectionRefused) as caught:
        payment_correct(acting_user=outsider, payment=payment, account=new_account(1))
    assert caught.value.code == "out_of_scope"
    with pytest.raises(CorrectionRefused) as caught:
        payment_stop(acting_user=outsider, payment=payment, reason="不是我的")
    assert caught.value.code == "out_of_scope"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and not Correction.objects.exists()


def test_only_a_clerk_corrects_not_the_reviewer_nor_finance(failed, reviewer_a, finance_admin, auditor):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    for user in (reviewer_a, finance_admin, auditor):
        with pytest.raises(CorrectionRefused) as caught:
            payment_correct(acting_user=user, payment=payment, account=new_account(1))
        assert caught.value.code == "not_clerk"
    assert not Correction.objects.exists()


# --- The ledger -----------------------------------------------------------------------------------------------


def test_returned_money_is_failed_open_and_reconcile_balances_at_each_step(released, clerk_a):
    everyone = payments_of(released)
    entry = balanced(released)
    assert entry.in_flight == entry.approved

    bank_fails(everyone[:2])
    bank_pays(everyone[2:])
    entry = balanced(released)
    assert entry.failed_open == fen_of(everyone[:2])

    bank_returns(everyone[2:3])
    entry = balanced(released)
    assert entry.failed_open == fen_of(everyone[:3])
    assert entry.paid == fen_of(everyone[3:])
    assert entry.counts[PaymentStatus.RETURNED] == 1

    payment_correct(acting_user=clerk_a, payment=everyone[2], account=new_account(3))
    balanced(released)

    payment_stop(acting_user=clerk_a, payment=everyone[0], reason="经核实不符合条件")
    entry = balanced(released)
    assert entry.stopped == fen_of(everyone[:1])
    assert entry.failed_open == fen_of(everyone[1:3])
