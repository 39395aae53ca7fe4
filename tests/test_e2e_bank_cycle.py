"""A whole round of money on PostgreSQL and Redis, with a real Celery worker and a live server: roster → checks →
approvals → batches → a simulated bank pays over HTTP with failures → the department corrects → finance reissues →
the bank pays the reissue → everything paid; the ledger balances at every step."""

from __future__ import annotations

import io
import time

import pytest
from django.core.management import call_command
from stdnum import luhn

from banks.demo import seed_banks
from banks.models import Bank
from banks.tokens import bank_token_issue
from checks.enums import FindingStatus, Severity
from checks.models import CheckRun, Finding
from checks.services import finding_keep
from disbursement.batches import payout_release
from disbursement.corrections import payment_correct
from disbursement.enums import BatchStatus, PaymentStatus, PayoutStatus
from disbursement.ledger import ledger
from disbursement.models import Batch, Payment, Payout
from disbursement.reissue import payout_reissue
from disbursement.review import payout_submit, review_approve
from jobs.enums import JobStatus
from jobs.models import Job
from recipients.models import Roster
from recipients.services import roster_upload
from tests.jobs.test_celery_worker import worker_queue  # noqa: F401 — the fixture: a real worker on Redis

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def wait_until(condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; jobs: {list(Job.objects.values_list('kind', 'status'))}")


def jobs_done() -> bool:
    statuses = set(Job.objects.values_list("status", flat=True))
    if JobStatus.FAILED in statuses:
        raise AssertionError(list(Job.objects.filter(status=JobStatus.FAILED).values("kind", "error_code", "message")))
    return statuses <= {JobStatus.SUCCEEDED}


def balanced(payout) -> None:
    (entry,) = ledger([payout.code])
    assert entry.ok, entry.problems
    out = io.StringIO()
    call_command("reconcile", payout=[payout.code], stdout=out)  # exits non-zero (SystemExit) if unbalanced


def play_bank(url: str, token: str, *, fail_rate: float, seed: int) -> str:
    out = io.StringIO()
    call_command("bank_simulator", url=url, token=token, once=True, fail_rate=fail_rate, seed=seed, stdout=out)
    return out.getvalue()


def new_account(n: int) -> str:
    body = f"62170099{n:010d}"
    return body + luhn.calc_check_digit(body)


def test_a_round_of_money_from_roster_to_everyone_paid(
    worker_queue,  # noqa: F811
    live_server,
    clerk_a,
    reviewer_a,
    finance_reviewer,
    finance_admin,
    payout,
    roster_file,
):
    seed_banks()
    path, _rows = roster_file(40, seed=77)

    # The clerk's roster: imported by the worker, which then runs the cross-checks.
    roster = roster_upload(acting_user=clerk_a, payout=payout, filename=path.name, data=path.read_bytes())
    wait_until(lambda: jobs_done() and CheckRun.objects.filter(payout=payout, status="done").exists(), "import+checks")
    assert Roster.objects.get(pk=roster.pk).valid == Payment.objects.filter(payout=payout).count() > 30
    for finding in Finding.objects.filter(payout=payout, status=FindingStatus.OPEN, severity=Severity.BLOCK):
        finding_keep(acting_user=clerk_a, finding=finding, reason="已入户核实")

    # Review: the clerk submits, the department and finance approve.
    payout_submit(acting_user=clerk_a, payout=payout)
    review_approve(acting_user=reviewer_a, payout=Payout.objects.get(pk=payout.pk))
    review_approve(acting_user=finance_reviewer, payout=Payout.objects.get(pk=payout.pk))
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.APPROVED
    balanced(payout)

    # Release: one batch per bank, each file written by the worker.
    batches = payout_release(acting_user=finance_admin, payout=payout)
    wait_until(jobs_done, "batch files")
    assert all(b.generated_at for b in Batch.objects.filter(payout=payout))
    balanced(payout)

    # Each bank fetches, verifies, acknowledges and answers over HTTP; about a quarter fail.
    tokens = {b.bank_id: bank_token_issue(acting_user=finance_admin, bank=b.bank)[1] for b in batches}
    for bank_id, token in tokens.items():
        play_bank(live_server.url, token, fail_rate=0.25, seed=bank_id)
        balanced(payout)
    assert set(Batch.objects.filter(payout=payout).values_list("status", flat=True)) == {BatchStatus.CLOSED}
    failed = list(Payment.objects.filter(payout=payout, status=PaymentStatus.FAILED).order_by("pk"))
    assert failed, "the seeds were chosen so that some payments fail"
    paid_first_time = Payment.objects.filter(payout=payout, status=PaymentStatus.PAID).count()

    # The department corrects every failure (to an account at another bank for half of them); finance reissues.
    banks = list(Bank.objects.order_by("code"))
    for i, payment in enumerate(failed):
        payment_correct(
            acting_user=clerk_a,
            payment=payment,
            account=new_account(i),
            bank_name=banks[i % 2].name,
            reason="已与本人核实新账户",
        )
        balanced(payout)
    reissue_batches = payout_reissue(acting_user=finance_admin, payout=payout)
    wait_until(jobs_done, "reissue files")
    balanced(payout)
    assert sum(b.payment_count for b in reissue_batches) == len(failed)

    # The banks of the reissue pay everything this time.
    for batch in reissue_batches:
        token = tokens.get(batch.bank_id) or bank_token_issue(acting_user=finance_admin, bank=batch.bank)[1]
        play_bank(live_server.url, token, fail_rate=0.0, seed=1)
        balanced(payout)

    originals = Payment.objects.filter(payout=payout, attempt=1)
    assert originals.filter(status=PaymentStatus.PAID).count() == paid_first_time
    assert originals.filter(status=PaymentStatus.REISSUED).count() == len(failed)
    children = Payment.objects.filter(payout=payout, attempt=2)
    assert children.count() == len(failed)
    assert set(children.values_list("status", flat=True)) == {PaymentStatus.PAID}
    assert sorted(children.values_list("reissue_of_id", flat=True)) == [p.pk for p in failed]
    (entry,) = ledger([payout.code])
    assert entry.ok and entry.paid == entry.approved and entry.failed_open == entry.in_flight == 0
