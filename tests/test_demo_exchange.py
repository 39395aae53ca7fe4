"""The demo's bank exchange: September paid to the end (failures corrected, one stopped, the rest reissued and
paid), October's batches waiting for the banks, and every payout's money accounted for."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command

from disbursement.enums import BatchStatus, CorrectionKind, PaymentStatus
from disbursement.ledger import ledger, reconcile_ok
from disbursement.models import Batch, Correction, Payment, Payout

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(capsys, django_capture_on_commit_callbacks) -> str:
    """What seed_demo printed, after it ran (tasks in-process, as ``make run`` has them)."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")
    return capsys.readouterr().out


def test_september_went_all_the_way_round_every_payment_paid_or_stopped(demo):
    september = Payout.objects.get(period="2026-09")
    payments = Payment.objects.filter(payout=september)

    # Every payment that is still a payment of its own (a reissued one lives on in its child) is paid or stopped.
    final = Counter(payments.exclude(status=PaymentStatus.REISSUED).values_list("status", flat=True))
    assert set(final) == {PaymentStatus.PAID, PaymentStatus.STOPPED}
    assert final[PaymentStatus.STOPPED] == 1
    # The bank failed a handful; the clerk corrected all but the stopped one, with a masked new account.
    failed_first = payments.filter(attempt=1).exclude(result_code="")
    assert failed_first.count() == 6
    corrections = Correction.objects.filter(payment__payout=september)
    assert Counter(corrections.values_list("kind", flat=True)) == {CorrectionKind.CORRECT: 5, CorrectionKind.STOP: 1}
    assert all("*" in c.account_masked and c.bank_name for c in corrections.filter(kind=CorrectionKind.CORRECT))
    assert corrections.get(kind=CorrectionKind.STOP).reason
    # Finance reissued the five: each a child (attempt 2) in a second batch of its bank, paid.
    reissued = payments.filter(status=PaymentStatus.REISSUED)
    children = payments.filter(attempt=2)
    assert reissued.count() == children.count() == 5
    assert set(children.values_list("reissue_of_id", flat=True)) == set(reissued.values_list("pk", flat=True))
    assert set(children.values_list("status", flat=True)) == {PaymentStatus.PAID}
    reissue_batches = Batch.objects.filter(payout=september, attempt=2)
    assert reissue_batches.exists()
    assert set(reissue_batches.values_list("status", flat=True)) == {BatchStatus.CLOSED}
    assert set(Batch.objects.filter(payout=september).values_list("status", flat=True)) == {BatchStatus.CLOSED}


def test_october_waits_for_the_banks_and_every_payout_balances(demo):
    october = Batch.objects.filter(payout__period="2026-10")

    assert set(october.values_list("status", flat=True)) == {BatchStatus.READY}
    assert october.values("bank").distinct().count() >= 2
    assert not october.filter(acknowledged_at__isnull=False).exists()
    assert (
        not Payment.objects.filter(payout__period="2026-10")
        .exclude(status=PaymentStatus.BATCHED)
        .exclude(batch__isnull=True)
        .exists()
    )
    assert reconcile_ok(ledger())
    assert [entry.code for entry in ledger()] == ["MZ-04-2026-09", "MZ-04-2026-10", "MZ-04-2026-11"]
    # What an integrator is told: how to get a token, where the docs are, which batches wait.
    assert "python manage.py bank_token ccb-erqi" in demo and "docs/bank-api.md" in demo
    for batch_no in october.values_list("batch_no", flat=True):
        assert batch_no in demo
