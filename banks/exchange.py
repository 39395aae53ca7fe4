"""What a bank does with its batches before results: find them, download the frozen file, acknowledge it.

A bank sees its own batches and nothing else (``bank_batches``); any other batch number is simply not found.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Bank
from disbursement.enums import BatchStatus
from disbursement.models import Batch


class ChecksumMismatch(Exception):
    """The bank says the file it checked has another SHA-256 than the one we generated."""


def bank_batches(bank: Bank) -> QuerySet[Batch]:
    """The bank's batches whose file exists (one still being written has nothing to fetch), newest first."""
    return (
        Batch.objects.filter(bank=bank, generated_at__isnull=False)
        .select_related("payout")
        .order_by("-created_at", "batch_no")
    )


def bank_batch(bank: Bank, batch_no: str) -> Batch:
    """The bank's batch of that number; 404 for every other number — another bank's batch is not admitted to."""
    batch = bank_batches(bank).filter(batch_no=batch_no).first()
    if batch is None:
        raise Http404
    return batch


def mark_acknowledged(batch: Batch, *, now: dt.datetime) -> bool:
    """Record receipt once (batch → acknowledged); False if it already was. Runs inside the caller's transaction,
    with the batch row locked. Receipt is the batch's fact: its payments stay ``batched`` until their result —
    rewriting a million payment rows to say what the batch row says would cost a minute and gain nothing."""
    moved = Batch.objects.filter(pk=batch.pk, acknowledged_at__isnull=True, generated_at__isnull=False).update(
        acknowledged_at=now, status=BatchStatus.ACKNOWLEDGED
    )
    if not moved:
        return False
    batch.acknowledged_at, batch.status = now, BatchStatus.ACKNOWLEDGED
    return True


def batch_acknowledge(*, bank: Bank, batch: Batch, file_sha256: str = "") -> tuple[Batch, bool]:
    """The bank has the file and checked it. Idempotent: (batch, False) when it was acknowledged before. If the bank
    quotes the SHA-256 it computed, it must be the file's (ChecksumMismatch: nothing is recorded)."""
    if file_sha256 and file_sha256.lower() != batch.file_sha256:
        raise ChecksumMismatch
    with transaction.atomic():
        batch = Batch.objects.select_for_update(of=("self",)).select_related("payout").get(pk=batch.pk)
        if batch.acknowledged_at is not None:
            return batch, False
        now = timezone.now()
        mark_acknowledged(batch, now=now)
        audit_record(
            acting_user=bank.user,
            action=AuditAction.BATCH_ACK,
            obj=batch,
            before={"status": BatchStatus.READY},
            after={"status": BatchStatus.ACKNOWLEDGED, "file_sha256": batch.file_sha256},
            department_id=batch.payout.department_id,
        )
    return batch, True
