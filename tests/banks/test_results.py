"""Applying a bank's results (回盘): all of a submission or none of it, and never twice."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import DatabaseError, transaction

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.models import ResultSubmission, SubmissionStatus
from banks.results import IdempotencyKeyReused, result_file_receive, results_submit_file, results_submit_json
from disbursement.enums import BatchStatus, PaymentStatus
from disbursement.ledger import ledger, reconcile_ok
from disbursement.models import Payment
from tests.banks.conftest import refs

pytestmark = pytest.mark.django_db


def submit(batch, items, *, key="", **extra):
    body = {"results": items, **extra}
    raw = json.dumps(body, sort_keys=True).encode()
    return results_submit_json(
        bank=batch.bank, batch=batch, body=body, body_sha256=hashlib.sha256(raw).hexdigest(), idempotency_key=key
    )


def paid(ref, txn="T1"):
    return {"payment_ref": ref, "status": "paid", "bank_txn_id": txn, "paid_at": "2026-11-24T09:30:00+08:00"}


def failed(ref, code="account_closed"):
    return {"payment_ref": ref, "status": "failed", "reason_code": code, "reason": "销户"}


def snapshot(batch):
    return list(
        Payment.objects.filter(batch=batch)
        .order_by("row")
        .values_list("status", "result", "result_code", "bank_txn_id", "paid_at", "result_at")
    )


def test_a_whole_batch_of_results_pays_and_fails_its_payments_and_closes_it(batch):
    all_refs = refs(batch)
    items = [paid(r, txn=f"T{i}") for i, r in enumerate(all_refs[1:])] + [failed(all_refs[0])]

    submission, new = submit(batch, items)

    assert new and submission.status == SubmissionStatus.APPLIED
    assert submission.counts == {"applied": {"paid": len(all_refs) - 1, "failed": 1, "returned": 0}, "unchanged": 0}
    first = Payment.objects.filter(batch=batch).order_by("row").first()
    assert (first.status, first.result, first.result_code) == (PaymentStatus.FAILED, "failed", "account_closed")
    others = Payment.objects.filter(batch=batch).exclude(pk=first.pk)
    assert set(others.values_list("status", flat=True)) == {PaymentStatus.PAID}
    assert all(p.paid_at is not None and p.bank_txn_id.startswith("T") for p in others)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.CLOSED and batch.closed_at and batch.acknowledged_at and batch.first_result_at
    assert AuditEvent.objects.filter(action=AuditAction.RESULTS_APPLY, object_id=str(batch.pk)).count() == 1
    assert reconcile_ok(ledger([batch.payout.code]))


def test_partial_results_leave_the_rest_open_and_acknowledge_the_batch(batch):
    all_refs = refs(batch)

    submit(batch, [paid(all_refs[0])])

    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACKNOWLEDGED and batch.closed_at is None
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.PAID).count() == 1
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.BATCHED).count() == len(all_refs) - 1
    assert reconcile_ok(ledger([batch.payout.code]))


def test_the_same_results_sent_again_change_nothing_and_say_so(batch):
    items = [paid(r) for r in refs(batch)[:3]] + [failed(refs(batch)[3])]
    submit(batch, items)
    before = snapshot(batch)

    again, new = submit(batch, items)

    assert new  # no key: a new submission, answered from the data
    assert again.status == SubmissionStatus.APPLIED
    assert again.counts == {"applied": {"paid": 0, "failed": 0, "returned": 0}, "unchanged": 4}
    assert snapshot(batch) == before


def test_the_same_idempotency_key_and_body_give_the_first_answer(batch):
    items = [paid(refs(batch)[0])]
    first, _new = submit(batch, items, key="k-1")

    second, new = submit(batch, items, key="k-1")

    assert not new and second.pk == first.pk
    assert ResultSubmission.objects.filter(idempotency_key="k-1").count() == 1


def test_the_same_idempotency_key_with_another_body_is_refused(batch):
    submit(batch, [paid(refs(batch)[0])], key="k-2")
    before = snapshot(batch)

    with pytest.raises(IdempotencyKeyReused):
        submit(batch, [paid(refs(batch)[1])], key="k-2")

    assert snapshot(batch) == before


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"payment_ref": "X", "status": "paid"}, "payment_not_in_batch"),
        ({"payment_ref": None, "status": "paid"}, "payment_not_in_batch"),
        ({"status": "done"}, "unknown_status"),
        ({"status": "failed"}, "reason_code_required"),
        ({"status": "failed", "reason_code": "moon_phase"}, "unknown_reason_code"),
        ({"status": "paid", "paid_at": "yesterday"}, "invalid_paid_at"),
        ({"status": "paid", "amount_fen": -5}, "invalid_amount"),
        ({"status": "paid", "amount_fen": 1}, "amount_mismatch"),
        ({"status": "returned"}, "result_conflict"),
    ],
)
def test_one_bad_result_rejects_the_whole_submission_and_changes_nothing(batch, item, code):
    good = [paid(r) for r in refs(batch)[1:]]
    bad = {"payment_ref": refs(batch)[0], **item}
    before = snapshot(batch)

    submission, _new = submit(batch, [*good[:2], bad, *good[2:]])

    assert submission.status == SubmissionStatus.REJECTED
    assert submission.error_code == code
    assert submission.errors[0]["code"] == code and submission.errors[0]["line"] == 3
    assert snapshot(batch) == before
    batch.refresh_from_db()
    assert batch.status == BatchStatus.READY and batch.acknowledged_at is None
    assert AuditEvent.objects.filter(action=AuditAction.RESULTS_REJECT, object_id=str(batch.pk)).exists()


def test_a_result_for_a_payment_of_another_batch_is_rejected(batch, other_batch):
    before = snapshot(batch)

    submission, _new = submit(batch, [paid(refs(batch)[0]), paid(refs(other_batch)[0])])

    assert submission.status == SubmissionStatus.REJECTED
    assert submission.errors == [
        {
            "code": "payment_not_in_batch",
            "detail": "本批次没有这笔发放明细。",
            "line": 2,
            "payment_ref": refs(other_batch)[0],
        }
    ]
    assert snapshot(batch) == before


def test_a_declared_total_that_does_not_match_the_payments_is_rejected(batch):
    ours = sum(Payment.objects.filter(batch=batch).values_list("amount", flat=True))
    items = [paid(r) for r in refs(batch)]

    wrong, _ = submit(batch, items, total_fen=int(ours * 100) + 1, count=len(items))
    right, _ = submit(batch, items, total_fen=int(ours * 100), count=len(items))

    assert (wrong.status, wrong.error_code) == (SubmissionStatus.REJECTED, "total_mismatch")
    assert right.status == SubmissionStatus.APPLIED


def test_a_payment_listed_twice_in_one_submission_is_rejected(batch):
    ref = refs(batch)[0]

    submission, _ = submit(batch, [paid(ref), failed(ref)])

    assert (submission.status, submission.error_code) == (SubmissionStatus.REJECTED, "duplicate_payment")
    assert submission.errors[0]["line"] == 2


def test_a_paid_payment_cannot_be_reported_failed_but_can_come_back_returned(batch):
    ref = refs(batch)[0]
    submit(batch, [paid(ref)])

    conflict, _ = submit(batch, [failed(ref)])
    returned, _ = submit(batch, [{"payment_ref": ref, "status": "returned", "reason_code": "account_closed"}])

    assert (conflict.status, conflict.error_code) == (SubmissionStatus.REJECTED, "result_conflict")
    assert returned.status == SubmissionStatus.APPLIED and returned.counts["applied"]["returned"] == 1
    payment = Payment.objects.get(batch=batch, result="returned")
    assert payment.status == PaymentStatus.RETURNED and payment.returned_at and payment.paid_at
    assert reconcile_ok(ledger([batch.payout.code]))


def test_the_database_refuses_a_result_moving_backwards(batch):
    submit(batch, [paid(refs(batch)[0])])
    payment = Payment.objects.get(batch=batch, result="paid")

    with pytest.raises(DatabaseError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(result="failed", result_code="other")
    with pytest.raises(DatabaseError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(result="")


# --- Result files -------------------------------------------------------------------------------------------


def result_file(batch, lines, *, header=None, trailer=None, encoding=None) -> bytes:
    body = [header or f"H|{batch.batch_no}|{batch.bank.code}|{len(lines)}|20261124"]
    total = 0
    for ref, status, fen, code, reason, txn, when in lines:
        body.append(f"D|{ref}|{status}|{fen}|{code}|{reason}|{txn}|{when}")
        total += int(fen)
    body.append(trailer or f"T|{len(lines)}|{total}")
    return ("\r\n".join(body) + "\r\n").encode(encoding or batch.bank.file_encoding)


def file_lines(batch, *, fail_first=True):
    rows = Payment.objects.filter(batch=batch).order_by("row").values_list("row", "attempt", "amount")
    out = []
    for i, (_row, _attempt, amount) in enumerate(rows):
        ref = refs(batch)[i]
        fen = int(amount * 100)
        if i == 0 and fail_first:
            out.append((ref, "failed", fen, "name_mismatch", "户名不符", "", ""))
        else:
            out.append((ref, "paid", fen, "", "", f"B{i:08d}", "20261124093000"))
    return out


def send_file(batch, data: bytes, django_capture_on_commit_callbacks, key=""):
    path, digest, _size = result_file_receive([data], max_bytes=10 * 1024 * 1024)
    with django_capture_on_commit_callbacks(execute=True):
        submission, _new = results_submit_file(
            bank=batch.bank, batch=batch, path=path, body_sha256=digest, idempotency_key=key
        )
    submission.refresh_from_db()
    return submission


def test_a_result_file_is_applied_by_its_job(batch, django_capture_on_commit_callbacks):
    data = result_file(batch, file_lines(batch))

    submission = send_file(batch, data, django_capture_on_commit_callbacks)

    assert submission.status == SubmissionStatus.APPLIED, submission.errors
    assert submission.counts["applied"] == {"paid": batch.payment_count - 1, "failed": 1, "returned": 0}
    assert submission.job.status == "succeeded"
    failed_payment = Payment.objects.get(batch=batch, status=PaymentStatus.FAILED)
    assert (failed_payment.result_code, failed_payment.result_reason) == ("name_mismatch", "户名不符")
    paid_at = Payment.objects.filter(batch=batch, status=PaymentStatus.PAID).values_list("paid_at", flat=True)[0]
    assert paid_at.isoformat() == "2026-11-24T01:30:00+00:00"  # 09:30 Beijing time


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"header": "H|OTHER-BATCH|ccb-erqi|1|20261124"}, "batch_mismatch"),
        ({"trailer": "T|1|1"}, "count_mismatch"),
    ],
)
def test_a_result_file_with_a_wrong_header_or_trailer_is_rejected_whole(
    batch, change, code, django_capture_on_commit_callbacks
):
    before = snapshot(batch)

    submission = send_file(batch, result_file(batch, file_lines(batch), **change), django_capture_on_commit_callbacks)

    assert submission.status == SubmissionStatus.REJECTED
    assert code in {e["code"] for e in submission.errors}
    assert snapshot(batch) == before


def test_a_result_file_whose_trailer_total_is_wrong_is_rejected(batch, django_capture_on_commit_callbacks):
    lines = file_lines(batch)
    data = result_file(batch, lines, trailer=f"T|{len(lines)}|{sum(int(x[2]) for x in lines) + 1}")

    submission = send_file(batch, data, django_capture_on_commit_callbacks)

    assert (submission.status, submission.error_code) == (SubmissionStatus.REJECTED, "total_mismatch")


def test_a_result_file_sent_twice_with_one_key_is_applied_once(batch, django_capture_on_commit_callbacks):
    data = result_file(batch, file_lines(batch))
    first = send_file(batch, data, django_capture_on_commit_callbacks, key="file-1")
    before = snapshot(batch)

    second = send_file(batch, data, django_capture_on_commit_callbacks, key="file-1")

    assert second.pk == first.pk and snapshot(batch) == before
    assert ResultSubmission.objects.filter(batch=batch).count() == 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        (2, "done", "unknown_status"),
        (3, "-1", "invalid_amount"),
        (4, "moon_phase", "unknown_reason_code"),
        (7, "20261131093000", "invalid_paid_at"),
        (1, "MZ-99-2026-11-000001", "payment_not_in_batch"),
    ],
)
def test_one_bad_line_in_a_result_file_is_named_with_its_line_and_code(
    batch, field, value, code, django_capture_on_commit_callbacks
):
    lines = [list(line) for line in file_lines(batch)]
    lines[2][field - 1] = value  # the fourth line of the file: header, then details
    before = snapshot(batch)

    submission = send_file(batch, result_file(batch, [tuple(x) for x in lines]), django_capture_on_commit_callbacks)

    assert submission.status == SubmissionStatus.REJECTED
    assert {"code": code, "line": 4} == {k: submission.errors[0][k] for k in ("code", "line")}, submission.errors
    assert snapshot(batch) == before
