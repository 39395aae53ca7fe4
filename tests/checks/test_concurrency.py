"""Runs and submissions at the same time on PostgreSQL: one verdict per payout, one payment per person."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connections

from checks.engine import execute_run
from checks.enums import FindingStatus, RunStatus
from checks.models import CheckRun, Finding
from checks.services import finding_keep, queue_run
from disbursement.enums import PaymentStatus
from disbursement.models import Payment
from disbursement.review import payout_submit
from disbursement.services import payout_create
from jobs.registry import JobError
from jobs.services import job_run
from recipients.services import roster_upload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _in_threads(*functions):
    """Run each function in its own thread (its own database connection), all released at once."""
    start = threading.Barrier(len(functions))
    outcomes = [None] * len(functions)

    def body(i, function):
        try:
            start.wait()
            outcomes[i] = ("ok", function())
        except Exception as exc:  # the outcome is what the test looks at
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def _payout(clerk, policy, county, path):
    payout = payout_create(
        acting_user=clerk, policy=policy, period="2026-11", region=county,
        budget_document="并发", budget_amount=Decimal("100000"),
    )  # fmt: skip
    roster = roster_upload(acting_user=clerk, payout=payout, filename=path.name, data=path.read_bytes())
    job_run(job_id=roster.job_id)
    return payout


def test_two_runs_of_one_payout_at_once_leave_one_verdict(clerk_a, published_policy, county, roster_file, monkeypatch):
    monkeypatch.setattr("jobs.services._dispatch", lambda job_id: None)  # the threads below are the workers
    path, _rows = roster_file(40)
    payout = _payout(clerk_a, published_policy, county, path)
    first, second = queue_run(acting_user=clerk_a, payout=payout), queue_run(acting_user=clerk_a, payout=payout)

    outcomes = _in_threads(lambda: execute_run(first), lambda: execute_run(second))

    statuses = {run.pk: run.status for run in CheckRun.objects.filter(pk__in=[first.pk, second.pk])}
    assert statuses == {first.pk: RunStatus.SUPERSEDED, second.pk: RunStatus.DONE}, outcomes
    assert outcomes[0][0] == "error" and isinstance(outcomes[0][1], JobError)
    assert outcomes[0][1].code == "newer_run"
    assert outcomes[1][0] == "ok"


def test_two_payouts_paying_the_same_people_cannot_both_be_submitted(
    clerk_a, published_policy, county, roster_file, monkeypatch
):
    monkeypatch.setattr("jobs.services._dispatch", lambda job_id: None)
    path, _rows = roster_file(25)
    payouts = [_payout(clerk_a, published_policy, county, path) for _ in range(2)]
    for payout in payouts:
        run = queue_run(acting_user=clerk_a, payout=payout)
        execute_run(run)
        # Each sees the other's drafts as a payment in flight for the same policy and period …
        flagged = Finding.objects.filter(payout=payout, rule="already_paid", status=FindingStatus.OPEN)
        assert flagged.count() == 25
        # … and a careless clerk keeps them all.
        for finding in flagged:
            finding_keep(acting_user=clerk_a, finding=finding, reason="另一个项目会取消")

    outcomes = _in_threads(*(lambda p=p: payout_submit(acting_user=clerk_a, payout=p) for p in payouts))

    kinds = sorted(kind for kind, _value in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ValidationError) and error.code == "double_payment"
    # The database holds one submitted payment per person, never two.
    assert Payment.objects.filter(status=PaymentStatus.SUBMITTED).count() == 25
    assert Payment.objects.filter(status=PaymentStatus.DRAFT).count() == 25
