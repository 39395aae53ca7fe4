"""Two releases of one payout at the same moment on PostgreSQL: exactly one set of batches."""

import pytest
from django.core.exceptions import ValidationError

from banks.demo import seed_banks
from disbursement.batches import payout_release
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Batch, Payment, Payout
from jobs.models import Job
from jobs.services import job_run
from recipients.services import roster_upload
from tests.checks.test_concurrency import _in_threads
from tests.disbursement.test_batches import approve_directly

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_releases_of_one_payout_at_once_make_one_set_of_batches(
    clerk_a, finance_admin, payout, roster_file, monkeypatch
):
    monkeypatch.setattr("jobs.services._dispatch", lambda job_id: None)  # generation is not what is tested here
    seed_banks()
    path, _rows = roster_file(40)
    roster = roster_upload(acting_user=clerk_a, payout=payout, filename=path.name, data=path.read_bytes())
    job_run(job_id=roster.job_id)
    approve_directly(payout, submitted_by=clerk_a)

    outcomes = _in_threads(*(lambda: payout_release(acting_user=finance_admin, payout=payout) for _ in range(2)))

    kinds = sorted(kind for kind, _value in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ValidationError) and error.code == "payout_not_approved"
    made = next(value for kind, value in outcomes if kind == "ok")
    assert sorted(b.pk for b in Batch.objects.all()) == sorted(b.pk for b in made)
    assert Job.objects.filter(kind="batch.generate").count() == len(made)
    assert Payment.objects.filter(payout=payout, status=PaymentStatus.BATCHED).count() == 40
    assert Payout.objects.get(pk=payout.pk).status == PayoutStatus.RELEASED
