"""Releasing an approved payout (拨付): one batch per bank, payments batched, the payout released, audited."""

from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum
from django.utils import timezone

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.demo import seed_banks
from banks.models import Bank
from disbursement.batches import bank_key, payout_release
from disbursement.enums import BatchStatus, PaymentStatus, PayoutStatus, ReviewActionKind
from disbursement.models import Batch, Payment, Payout, ReviewAction
from jobs.models import Job

pytestmark = pytest.mark.django_db


def approve_directly(payout: Payout, *, submitted_by) -> Payout:
    """Make the payout APPROVED without the review services (written concurrently in issue 6): its draft and
    checked payments become approved and the payout approved for their total."""
    Payment.objects.filter(payout=payout, status__in=[PaymentStatus.DRAFT, PaymentStatus.CHECKED]).update(
        status=PaymentStatus.APPROVED
    )
    total = Payment.objects.filter(payout=payout, status=PaymentStatus.APPROVED).aggregate(s=Sum("amount"))["s"]
    Payout.objects.filter(pk=payout.pk).update(
        status=PayoutStatus.APPROVED,
        approved_total=total or Decimal("0"),
        submitted_by=submitted_by,
        submitted_at=timezone.now(),
        approved_at=timezone.now(),
    )
    payout.refresh_from_db()
    return payout


def fen(amount) -> int:
    return int(Decimal(amount) * 100)


@pytest.fixture
def approved_payout(payout, roster_file, upload, clerk_a):
    seed_banks()
    path, _rows = roster_file(40)
    upload(path)
    return approve_directly(payout, submitted_by=clerk_a)


def _release(user, payout, capture, *, run_jobs=True):
    with capture(execute=run_jobs):
        return payout_release(acting_user=user, payout=payout)


def test_finance_releases_an_approved_payout_into_one_batch_per_bank(
    finance_admin, approved_payout, django_capture_on_commit_callbacks
):
    payments = list(Payment.objects.filter(payout=approved_payout))
    directory = {alias: bank.code for bank in Bank.objects.all() for alias in bank.aliases}
    by_bank = Counter(directory[p.bank_name] for p in payments)

    batches = _release(finance_admin, approved_payout, django_capture_on_commit_callbacks)

    assert {b.bank.code: b.payment_count for b in batches} == dict(by_bank)
    assert sum(b.total_fen for b in batches) == sum(fen(p.amount) for p in payments)
    for batch in Batch.objects.filter(payout=approved_payout):
        assert batch.batch_no == f"{approved_payout.code}-{batch.bank.code}-1".upper()
        assert batch.attempt == 1 and batch.encoding == batch.bank.file_encoding
        mine = Payment.objects.filter(batch=batch)
        assert mine.count() == batch.payment_count
        assert sum(fen(p.amount) for p in mine) == batch.total_fen
        # The job ran once the release committed: the file is there.
        assert batch.status == BatchStatus.READY and batch.generated_at is not None and len(batch.file_sha256) == 64
        assert Job.objects.get(pk=batch.job_id).kind == "batch.generate"
    assert set(Payment.objects.filter(payout=approved_payout).values_list("status", flat=True)) == {
        PaymentStatus.BATCHED
    }
    approved_payout.refresh_from_db()
    assert approved_payout.status == PayoutStatus.RELEASED and approved_payout.released_at is not None
    event = AuditEvent.objects.get(action=AuditAction.PAYOUT_RELEASE)
    assert event.actor_label == "finance_admin"
    assert {b["batch_no"]: b["total_fen"] for b in event.after["batches"]} == {b.batch_no: b.total_fen for b in batches}
    assert event.after["payments"] == len(payments)
    assert ReviewAction.objects.get(payout=approved_payout, action=ReviewActionKind.RELEASE).acted_by == finance_admin
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_GENERATE).count() == len(batches)


def test_release_refuses_a_payout_that_is_not_approved(finance_admin, payout, django_capture_on_commit_callbacks):
    with pytest.raises(ValidationError) as caught:
        _release(finance_admin, payout, django_capture_on_commit_callbacks)
    assert caught.value.code == "payout_not_approved"
    assert not Batch.objects.exists()


def test_a_released_payout_cannot_be_released_again(finance_admin, approved_payout, django_capture_on_commit_callbacks):
    first = _release(finance_admin, approved_payout, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as caught:
        _release(finance_admin, approved_payout, django_capture_on_commit_callbacks)
    assert caught.value.code == "payout_not_approved"
    assert Batch.objects.count() == len(first)


def test_an_unknown_bank_is_refused_and_nothing_changes(
    finance_admin, approved_payout, django_capture_on_commit_callbacks
):
    Bank.objects.filter(code="abc-erqi").update(is_active=False)
    Payment.objects.filter(payout=approved_payout, row=Payment.objects.order_by("row").first().row).update(
        bank_name="火星银行"
    )
    unknown = ["中国农业银行二七区支行", "火星银行"]
    expected = Counter(
        Payment.objects.filter(payout=approved_payout, bank_name__in=unknown).values_list("bank_name", flat=True)
    )

    with pytest.raises(ValidationError) as caught:
        _release(finance_admin, approved_payout, django_capture_on_commit_callbacks)

    assert caught.value.code == "bank_unknown"
    assert caught.value.params["banks"] == dict(expected)
    assert "火星银行（1 笔）" in caught.value.messages[0]
    assert not Batch.objects.exists() and not Job.objects.filter(kind="batch.generate").exists()
    assert Payout.objects.get(pk=approved_payout.pk).status == PayoutStatus.APPROVED
    assert set(Payment.objects.filter(payout=approved_payout).values_list("status", flat=True)) == {
        PaymentStatus.APPROVED
    }
    assert not AuditEvent.objects.filter(action=AuditAction.PAYOUT_RELEASE).exists()


def test_bank_names_match_aliases_once_spaces_are_removed(
    finance_admin, approved_payout, django_capture_on_commit_callbacks
):
    Payment.objects.filter(payout=approved_payout).update(bank_name=" 建 行\u3000")
    batches = _release(finance_admin, approved_payout, django_capture_on_commit_callbacks, run_jobs=False)
    assert [b.bank.code for b in batches] == ["ccb-erqi"]
    assert batches[0].payment_count == Payment.objects.filter(payout=approved_payout).count()
    assert bank_key(" 中国 建设银行 ") == "中国建设银行"


def test_payments_left_out_of_the_approval_stay_out_of_the_batches(
    finance_admin, approved_payout, django_capture_on_commit_callbacks
):
    cancelled = Payment.objects.filter(payout=approved_payout).order_by("row").first()
    Payment.objects.filter(pk=cancelled.pk).update(status=PaymentStatus.CANCELLED)
    batches = _release(finance_admin, approved_payout, django_capture_on_commit_callbacks, run_jobs=False)
    assert sum(b.payment_count for b in batches) == Payment.objects.filter(payout=approved_payout).count() - 1
    cancelled.refresh_from_db()
    assert cancelled.batch_id is None and cancelled.status == PaymentStatus.CANCELLED


@pytest.mark.parametrize("actor", ["clerk_a", "outsider", "auditor", "finance_reviewer", "reviewer_a"])
def test_only_finance_may_release(request, actor, approved_payout, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionDenied):
        _release(request.getfixturevalue(actor), approved_payout, django_capture_on_commit_callbacks)
    assert Payout.objects.get(pk=approved_payout.pk).status == PayoutStatus.APPROVED
    assert not Batch.objects.exists()


def test_batch_totals_are_exact_in_fen(finance_admin, approved_payout, django_capture_on_commit_callbacks):
    amounts = [Decimal("0.01"), Decimal("12345.67"), Decimal("0.10")]
    for payment, amount in zip(Payment.objects.filter(payout=approved_payout).order_by("row"), amounts, strict=False):
        Payment.objects.filter(pk=payment.pk).update(amount=amount)
    batches = _release(finance_admin, approved_payout, django_capture_on_commit_callbacks, run_jobs=False)
    expected = sum(fen(a) for a in Payment.objects.filter(payout=approved_payout).values_list("amount", flat=True))
    assert sum(b.total_fen for b in batches) == expected
