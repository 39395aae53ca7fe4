"""Fixtures for the bank exchange: a released payout whose batch files are written, and the banks' identities."""

from __future__ import annotations

import pytest

from banks.demo import seed_banks
from banks.models import Bank
from banks.tokens import bank_identity
from disbursement.batches import payout_release
from disbursement.models import Batch, Payment, payment_ref
from tests.disbursement.test_batches import approve_directly


@pytest.fixture
def released(payout, roster_file, upload, clerk_a, finance_admin, django_capture_on_commit_callbacks):
    """Department A's payout of 40 people, approved and released: one generated batch per bank."""
    seed_banks()
    path, _rows = roster_file(40)
    upload(path)
    approve_directly(payout, submitted_by=clerk_a)
    with django_capture_on_commit_callbacks(execute=True):
        payout_release(acting_user=finance_admin, payout=payout)
    for bank in Bank.objects.all():
        bank_identity(bank)
    return payout


@pytest.fixture
def batch(released) -> Batch:
    """The released payout's largest batch (ties: by bank code)."""
    return (
        Batch.objects.filter(payout=released)
        .select_related("bank", "payout")
        .order_by("-payment_count", "bank__code")[0]
    )


@pytest.fixture
def other_batch(released, batch) -> Batch:
    """A batch of the same payout that belongs to another bank."""
    return Batch.objects.filter(payout=released).exclude(bank=batch.bank).select_related("bank", "payout")[0]


def refs(batch: Batch) -> list[str]:
    return [
        payment_ref(batch.payout.code, row, attempt)
        for row, attempt in Payment.objects.filter(batch=batch).order_by("row").values_list("row", "attempt")
    ]
