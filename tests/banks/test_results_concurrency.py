"""Results replayed at the same moment on PostgreSQL: each result is applied once, whatever arrives together."""

from __future__ import annotations

import pytest

from banks.models import ResultSubmission, SubmissionStatus
from disbursement.enums import PaymentStatus
from disbursement.ledger import ledger, reconcile_ok
from disbursement.models import Payment
from tests.banks.conftest import refs
from tests.banks.test_results import failed, paid, submit
from tests.checks.test_concurrency import _in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def whole_batch(batch):
    all_refs = refs(batch)
    return [failed(all_refs[0]), *(paid(r, txn=f"T{i}") for i, r in enumerate(all_refs[1:]))]


def test_every_result_of_a_batch_sent_four_times_at_once_is_applied_once(batch):
    items = whole_batch(batch)

    outcomes = _in_threads(*(lambda: submit(batch, items) for _ in range(4)))

    assert [kind for kind, _value in outcomes] == ["ok"] * 4, outcomes
    submissions = [value[0] for _kind, value in outcomes]
    applied = [s for s in submissions if sum(s.counts["applied"].values())]
    assert len(applied) == 1
    assert applied[0].counts == {"applied": {"paid": len(items) - 1, "failed": 1, "returned": 0}, "unchanged": 0}
    for other in submissions:
        if other is not applied[0]:
            assert other.counts == {"applied": {"paid": 0, "failed": 0, "returned": 0}, "unchanged": len(items)}
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.PAID).count() == len(items) - 1
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.FAILED).count() == 1
    assert reconcile_ok(ledger([batch.payout.code]))


def test_one_idempotency_key_sent_four_times_at_once_makes_one_submission(batch):
    items = whole_batch(batch)

    outcomes = _in_threads(*(lambda: submit(batch, items, key="same-key") for _ in range(4)))

    assert [kind for kind, _value in outcomes] == ["ok"] * 4, outcomes
    assert len({value[0].pk for _kind, value in outcomes}) == 1
    assert sorted(value[1] for _kind, value in outcomes) == [False, False, False, True]
    (submission,) = ResultSubmission.objects.filter(batch=batch)
    assert submission.status == SubmissionStatus.APPLIED
    assert Payment.objects.filter(batch=batch).exclude(result="").count() == len(items)


def test_replaying_every_result_twice_after_it_was_applied_changes_nothing(batch):
    items = whole_batch(batch)
    submit(batch, items)
    before = list(Payment.objects.filter(batch=batch).order_by("pk").values())

    outcomes = _in_threads(lambda: submit(batch, items), lambda: submit(batch, items))

    assert all(value[0].counts["unchanged"] == len(items) for _kind, value in outcomes), outcomes
    assert list(Payment.objects.filter(batch=batch).order_by("pk").values()) == before
