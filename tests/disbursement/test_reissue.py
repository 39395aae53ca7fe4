"""补发: corrected failures reissued as children in new batches, their bank files, what the database refuses, and
the ledger through a whole cycle (fail → correct → reissue → fail again → reissue → paid)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.demo import seed_banks
from banks.models import Bank
from disbursement.bankfile import batch_file_bytes
from disbursement.batches import payout_release
from disbursement.corrections import correction_queue, payment_correct, payment_stop
from disbursement.enums import BankResult, BatchStatus, PaymentStatus
from disbursement.models import Batch, Payment, payment_ref
from disbursement.reissue import payout_reissue
from jobs.models import Job
from jobs.services import job_run
from org.enums import Role
from recipients.services import roster_upload
from tests.checks.test_concurrency import _in_threads
from tests.disbursement.test_batches import approve_directly
from tests.disbursement.test_corrections import (
    CCB,
    ICBC,
    balanced,
    bank_fails,
    bank_pays,
    bank_returns,
    fen_of,
    new_account,
    payments_of,
    release_payout,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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
def corrected(released, clerk_a):
    """Payments 0–2 failed, 3 paid then returned, the rest paid; 0 and 3 corrected (new CCB accounts), 1 corrected
    to ICBC, 2 left pending."""
    everyone = payments_of(released)
    bank_fails(everyone[:3])
    bank_pays(everyone[3:])
    bank_returns(everyone[3:4])
    payment_correct(acting_user=clerk_a, payment=everyone[0], account=new_account(10), holder_name="张三丰")
    payment_correct(acting_user=clerk_a, payment=everyone[1], account=new_account(11), bank_name=ICBC)
    payment_correct(acting_user=clerk_a, payment=everyone[3], account=new_account(13))
    return released


def _reissue(user, payout, capture, *, run_jobs=True):
    with capture(execute=run_jobs):
        return payout_reissue(acting_user=user, payout=payout)


def _details(batch: Batch) -> dict[str, list[str]]:
    """The bank file's detail lines by payment reference: [account, holder, fen, summary]."""
    text = batch_file_bytes(batch).decode(batch.encoding)
    lines = [line.split("|") for line in text.split("\r\n")[:-1]]
    return {fields[1]: fields[2:] for fields in lines if fields[0] == "D"}


def test_correct_then_reissue_makes_children_in_new_batches_whose_files_carry_the_corrected_accounts(
    corrected, finance_admin, django_capture_on_commit_callbacks
):
    everyone = payments_of(corrected)
    originals = [everyone[0], everyone[1], everyone[3]]

    batches = _reissue(finance_admin, corrected, django_capture_on_commit_callbacks)

    code = corrected.code
    assert sorted(b.batch_no for b in batches) == [f"{code}-CCB-ERQI-2".upper(), f"{code}-ICBC-ERQI-1".upper()]
    ccb = next(b for b in batches if b.bank.code == "ccb-erqi")
    icbc = next(b for b in batches if b.bank.code == "icbc-erqi")
    assert (ccb.attempt, ccb.payment_count, ccb.total_fen) == (2, 2, fen_of([everyone[0], everyone[3]]))
    assert (icbc.attempt, icbc.payment_count, icbc.total_fen) == (1, 1, fen_of([everyone[1]]))
    for original in originals:
        before = original
        original = Payment.objects.get(pk=before.pk)
        # The original is reissued; its batch and the bank's answer stay as they were.
        assert original.status == PaymentStatus.REISSUED
        assert (original.batch_id, original.result, original.result_code) == (
            before.batch_id,
            before.result,
            before.result_code,
        )
        child = original.reissue
        assert (child.attempt, child.status, child.result) == (2, PaymentStatus.BATCHED, BankResult.NONE)
        assert (child.payout_id, child.policy_id, child.period, child.recipient_id, child.roster_id, child.row) == (
            original.payout_id,
            original.policy_id,
            original.period,
            original.recipient_id,
            original.roster_id,
            original.row,
        )
        assert (child.amount, child.quantity) == (original.amount, original.quantity)
        assert child.account_masked == original.correction.account_masked
        assert child.account_hash == original.correction.account_hash
        assert child.bank_name == original.correction.bank_name
    # The file jobs ran once the reissue committed: new files with the corrected accounts and the -R2 references.
    ccb.refresh_from_db()
    icbc.refresh_from_db()
    assert ccb.status == icbc.status == BatchStatus.READY
    assert Job.objects.get(pk=ccb.job_id).kind == "batch.generate"
    details = _details(ccb)
    ref0, ref3 = payment_ref(code, everyone[0].row, 2), payment_ref(code, everyone[3].row, 2)
    assert set(details) == {ref0, ref3} and ref0.endswith("-R2")
    assert details[ref0][:2] == [new_account(10), "张三丰"]
    assert details[ref3][0] == new_account(13)
    assert _details(icbc)[payment_ref(code, everyone[1].row, 2)][0] == new_account(11)
    # The one left pending is still in the queue, untouched.
    assert [p.pk for p in correction_queue(finance_admin)] == [everyone[2].pk]
    event = AuditEvent.objects.get(action=AuditAction.PAYOUT_REISSUE)
    assert event.actor_label == "finance_admin"
    assert event.before == {"originals": {"failed": 2, "returned": 1}}
    assert event.after["payments"] == 3 and {b["batch_no"] for b in event.after["batches"]} == {
        b.batch_no for b in batches
    }
    balanced(corrected)


def test_reissuing_again_does_nothing(corrected, finance_admin, django_capture_on_commit_callbacks):
    first = _reissue(finance_admin, corrected, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationError) as caught:
        _reissue(finance_admin, corrected, django_capture_on_commit_callbacks)
    assert caught.value.code == "nothing_to_reissue"
    assert Batch.objects.filter(payout=corrected).count() == 1 + len(first)
    assert Payment.objects.filter(payout=corrected, attempt=2).count() == 3
    assert AuditEvent.objects.filter(action=AuditAction.PAYOUT_REISSUE).count() == 1


def test_nothing_to_reissue_while_no_failure_is_corrected(released, finance_admin, django_capture_on_commit_callbacks):
    bank_fails(payments_of(released)[:2])
    with pytest.raises(ValidationError) as caught:
        _reissue(finance_admin, released, django_capture_on_commit_callbacks)
    assert caught.value.code == "nothing_to_reissue"
    assert Batch.objects.filter(payout=released).count() == 1


def test_a_stopped_payment_is_not_reissued(corrected, clerk_a, finance_admin, django_capture_on_commit_callbacks):
    everyone = payments_of(corrected)
    payment_stop(acting_user=clerk_a, payment=everyone[1], reason="经核实已死亡")

    batches = _reissue(finance_admin, corrected, django_capture_on_commit_callbacks)

    assert [b.bank.code for b in batches] == ["ccb-erqi"]
    assert Payment.objects.get(pk=everyone[1].pk).status == PaymentStatus.STOPPED
    assert not Payment.objects.filter(reissue_of=everyone[1]).exists()
    balanced(corrected)


def test_only_finance_may_reissue(corrected, clerk_a, finance_reviewer, auditor, django_capture_on_commit_callbacks):
    for user in (clerk_a, finance_reviewer, auditor):
        with pytest.raises(PermissionDenied):
            _reissue(user, corrected, django_capture_on_commit_callbacks)
    assert Batch.objects.filter(payout=corrected).count() == 1
    assert not Payment.objects.filter(status=PaymentStatus.REISSUED).exists()


def test_a_bank_no_longer_active_at_reissue_is_refused_and_nothing_changes(
    corrected, finance_admin, django_capture_on_commit_callbacks
):
    Bank.objects.filter(code="icbc-erqi").update(is_active=False)
    with pytest.raises(ValidationError) as caught:
        _reissue(finance_admin, corrected, django_capture_on_commit_callbacks)
    assert caught.value.code == "bank_unknown" and caught.value.params["banks"] == {ICBC: 1}
    assert Batch.objects.filter(payout=corrected).count() == 1
    assert not Payment.objects.filter(status=PaymentStatus.REISSUED).exists()
    assert Payment.objects.filter(payout=corrected).count() == len(payments_of(corrected))


# --- What the database refuses ---------------------------------------------------------------------------------


def _child_of(original: Payment, *, attempt: int, status=PaymentStatus.APPROVED) -> Payment:
    child = Payment.objects.get(pk=original.pk)
    child.pk = child.id = None
    child._state.adding = True
    child.reissue_of, child.attempt, child.status, child.batch = original, attempt, status, None
    child.result, child.result_code, child.result_reason, child.result_at = BankResult.NONE, "", "", None
    return child


def test_the_database_refuses_a_child_while_the_original_is_still_failed(corrected):
    original = payments_of(corrected)[0]
    with pytest.raises(IntegrityError), transaction.atomic():
        _child_of(original, attempt=2).save()
    assert not Payment.objects.filter(reissue_of=original).exists()
    # What refused it is "once per policy and period": the same child is admitted once the original is reissued.
    Payment.objects.filter(pk=original.pk).update(status=PaymentStatus.REISSUED)
    _child_of(original, attempt=2).save()
    assert Payment.objects.get(reissue_of=original).attempt == 2


def test_the_database_refuses_a_second_child(corrected, finance_admin, django_capture_on_commit_callbacks):
    _reissue(finance_admin, corrected, django_capture_on_commit_callbacks, run_jobs=False)
    original = payments_of(corrected)[0]
    assert original.status == PaymentStatus.REISSUED
    # Even with the first child out of the money statuses, a second child of the same original is refused.
    Payment.objects.filter(reissue_of=original).update(status=PaymentStatus.CANCELLED)
    with pytest.raises(IntegrityError), transaction.atomic():
        _child_of(original, attempt=3).save()
    with pytest.raises(IntegrityError), transaction.atomic():  # one payment per person, payout and attempt
        _child_of(original, attempt=2).save()
    assert Payment.objects.filter(reissue_of=original).count() == 1


# --- A whole cycle ---------------------------------------------------------------------------------------------


def test_a_reissue_that_fails_again_is_corrected_and_reissued_once_more_and_everything_balances(
    released, clerk_a, finance_admin, django_capture_on_commit_callbacks
):
    everyone = payments_of(released)
    bank_fails(everyone[:2])
    bank_pays(everyone[2:])
    balanced(released)
    for n, payment in enumerate(everyone[:2]):
        payment_correct(acting_user=clerk_a, payment=payment, account=new_account(20 + n))
    balanced(released)

    (second,) = _reissue(finance_admin, released, django_capture_on_commit_callbacks)
    entry = balanced(released)
    assert entry.in_flight == fen_of(everyone[:2]) and entry.failed_open == 0
    assert entry.reissued == fen_of(everyone[:2])

    children = payments_of(released, PaymentStatus.BATCHED)
    bank_fails(children[:1], code="name_mismatch", reason="户名不符")
    bank_pays(children[1:])
    balanced(released)
    payment_correct(acting_user=clerk_a, payment=children[0], account=new_account(30), holder_name="王五")

    (third,) = _reissue(finance_admin, released, django_capture_on_commit_callbacks)
    assert (second.batch_no, third.batch_no) == (
        f"{released.code}-CCB-ERQI-2".upper(),
        f"{released.code}-CCB-ERQI-3".upper(),
    )
    grandchild = Payment.objects.get(reissue_of=children[0])
    assert grandchild.attempt == 3 and grandchild.batch_id == third.pk
    third.refresh_from_db()
    ref = payment_ref(released.code, everyone[0].row, 3)
    assert ref.endswith("-R3") and _details(third)[ref][:2] == [new_account(30), "王五"]
    balanced(released)

    bank_pays([grandchild])
    entry = balanced(released)
    assert entry.paid == entry.approved and entry.failed_open == entry.in_flight == 0
    assert list(correction_queue(clerk_a)) == []


# --- Two at once (PostgreSQL) ---------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_finance_users_reissuing_at_once_make_one_child_per_payment(
    clerk_a, finance_admin, payout, roster_file, monkeypatch
):
    monkeypatch.setattr("jobs.services._dispatch", lambda job_id: None)  # file generation is not what is tested
    other_finance = UserFactory(username="finance_admin_2", role=Role.FINANCE_ADMIN)
    seed_banks()
    path, _rows = roster_file(12)
    roster = roster_upload(acting_user=clerk_a, payout=payout, filename=path.name, data=path.read_bytes())
    job_run(job_id=roster.job_id)
    Payment.objects.filter(payout=payout).update(bank_name=CCB)
    approve_directly(payout, submitted_by=clerk_a)
    (batch,) = payout_release(acting_user=finance_admin, payout=payout)
    Batch.objects.filter(pk=batch.pk).update(generated_at=batch.created_at, file_sha256="0" * 64, stored_file="x")
    everyone = payments_of(payout)
    bank_fails(everyone[:5])
    bank_pays(everyone[5:])
    for n, payment in enumerate(everyone[:5]):
        payment_correct(acting_user=clerk_a, payment=payment, account=new_account(40 + n))

    outcomes = _in_threads(
        *(lambda user=user: payout_reissue(acting_user=user, payout=payout) for user in (finance_admin, other_finance))
    )

    kinds = sorted(kind for kind, _value in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ValidationError) and error.code == "nothing_to_reissue"
    (made,) = next(value for kind, value in outcomes if kind == "ok")
    assert made.payment_count == 5
    for original in everyone[:5]:
        assert Payment.objects.filter(reissue_of=original).count() == 1
    assert Payment.objects.filter(payout=payout, attempt=2).count() == 5
    assert Batch.objects.filter(payout=payout).count() == 2
    balanced(payout)
