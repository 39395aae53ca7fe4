"""Releasing an approved payout (拨付): its payments split per bank into batches (代发批次), each with a job that
writes the batch's bank file (see disbursement/bankfile.py and docs/bank-file-format.md). The reissue (补发,
disbursement/reissue.py) makes its batches with the same functions."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Bank
from disbursement.enums import PaymentStatus, PayoutStatus, ReviewActionKind
from disbursement.models import Batch, Payment, Payout, ReviewAction
from jobs.services import job_enqueue
from org.scoping import scope_of

GENERATE_JOB = "batch.generate"
_SPACES = re.compile(r"\s+")
_BATCH_NO_MAX = Batch._meta.get_field("batch_no").max_length


def bank_key(name: str) -> str:
    """How a roster's 开户银行 is compared with a bank's name and aliases: exactly, once spaces are gone."""
    return _SPACES.sub("", name or "")


def bank_directory() -> dict[str, Bank]:
    """Every name (and alias) of an active bank → the bank. Where two banks claim one name, the first code wins."""
    found: dict[str, Bank] = {}
    for bank in Bank.objects.filter(is_active=True).order_by("code"):
        for name in [bank.name, *(bank.aliases or [])]:
            key = bank_key(str(name))
            if key:
                found.setdefault(key, bank)
    return found


def batch_number(payout: Payout, bank: Bank, attempt: int) -> str:
    number = f"{payout.code}-{bank.code}-{attempt}".upper()
    if len(number) > _BATCH_NO_MAX:
        # Long codes: the ids keep it unique and short; the payout and bank stay on the batch row.
        number = f"P{payout.pk}-B{bank.pk}-{attempt}"
    return number


def can_release(user) -> bool:
    # Clerks hold disbursement.add_* for their payouts; releasing money is the finance bureau's (county-wide) act.
    if user is None or not user.is_authenticated:
        return False
    return user.has_perm("disbursement.add_batch") and scope_of(user).everything


@dataclass
class BankShare:
    """The payments of one payout bound for one bank: the 开户银行 names that led to it, their number and total."""

    bank: Bank
    names: list[str] = field(default_factory=list)
    count: int = 0
    total: Decimal = Decimal("0")

    @property
    def total_fen(self) -> int:
        # SQLite sums decimals as floats: rounding to the fen gives back the exact sum of 2-decimal amounts.
        return int((self.total * 100).quantize(Decimal(1)))


def shares_by_bank(groups: Iterable[dict]) -> list[BankShare]:
    """Rows of ``{"bank_name", "n", "total"}`` (payments grouped by their 开户银行) → one share per active bank,
    ordered by bank code. Names no active bank answers to are refused, all of them in one error."""
    directory = bank_directory()
    per_bank: dict[int, BankShare] = {}
    unknown: dict[str, int] = defaultdict(int)
    for group in groups:
        bank = directory.get(bank_key(group["bank_name"]))
        if bank is None:
            unknown[group["bank_name"] or _("（空）")] += group["n"]
            continue
        share = per_bank.setdefault(bank.pk, BankShare(bank=bank))
        share.names.append(group["bank_name"])
        share.count += group["n"]
        share.total += Decimal(group["total"])
    if unknown:
        listing = "；".join(f"{name}（{n} 笔）" for name, n in sorted(unknown.items()))
        raise ValidationError(
            _("以下开户银行不是已启用的代发金融机构，请先在“代发金融机构”中登记其名称：%(banks)s") % {"banks": listing},
            code="bank_unknown",
            params={"banks": dict(unknown)},
        )
    return sorted(per_bank.values(), key=lambda share: share.bank.code)


def batches_create(
    *, acting_user, payout: Payout, shares: list[BankShare], fill: Callable[[Batch, BankShare], int]
) -> list[Batch]:
    """One new batch per bank share, each the next attempt of this payout at that bank, filled by ``fill`` (which
    puts the share's payments into the batch and returns how many it put), and a job per batch that writes its
    bank file once the caller's transaction has committed. Shared by the release (拨付) and the reissue (补发);
    the caller holds the payout's row lock, so nothing else moves these payments meanwhile."""
    latest = dict(Batch.objects.filter(payout=payout).order_by().values_list("bank_id").annotate(last=Max("attempt")))
    batches: list[Batch] = []
    for share in shares:
        bank = share.bank
        attempt = latest.get(bank.pk, 0) + 1
        batch = Batch.objects.create(
            batch_no=batch_number(payout, bank, attempt),
            payout=payout,
            bank=bank,
            attempt=attempt,
            payment_count=share.count,
            total_fen=share.total_fen,
            encoding=bank.file_encoding,
            created_by=acting_user,
        )
        moved = fill(batch, share)
        if moved != share.count:
            raise RuntimeError(f"batch {batch.batch_no}: moved {moved} payments, counted {share.count}")
        job = job_enqueue(
            acting_user=acting_user,
            kind=GENERATE_JOB,
            params={"batch_id": batch.pk},
            target_type="disbursement.batch",
            target_id=str(batch.pk),
            department_id=payout.department_id,
        )
        Batch.objects.filter(pk=batch.pk).update(job=job)
        batch.job = job
        batches.append(batch)
    return batches


def batches_summary(batches: list[Batch]) -> list[dict]:
    """What the audit trail keeps of new batches."""
    return [
        {"batch_no": b.batch_no, "bank": b.bank.code, "payments": b.payment_count, "total_fen": b.total_fen}
        for b in batches
    ]


def payout_release(*, acting_user, payout: Payout) -> list[Batch]:
    """Finance releases an approved payout: one batch per bank, its payments moved approved → batched, the payout
    released, and a job per batch to write the bank file once this transaction has committed."""
    if not can_release(acting_user):
        raise PermissionDenied(_("无权拨付发放项目。"))
    with transaction.atomic():
        payout = (
            Payout.objects.select_for_update(of=("self",)).select_related("region", "policy_entry").get(pk=payout.pk)
        )
        if payout.status != PayoutStatus.APPROVED:
            raise ValidationError(
                _("发放项目 %(code)s 不是“已审核待拨付”状态，不能拨付。") % {"code": payout.code},
                code="payout_not_approved",
            )
        approved = Payment.objects.filter(payout=payout, status=PaymentStatus.APPROVED)
        groups = list(
            approved.order_by().values("bank_name").annotate(n=Count("pk"), total=Sum("amount")).order_by("bank_name")
        )
        if not groups:
            raise ValidationError(_("发放项目没有审核通过的发放明细，不能拨付。"), code="payout_empty")
        shares = shares_by_bank(groups)

        def fill(batch: Batch, share: BankShare) -> int:
            return approved.filter(bank_name__in=share.names).update(batch=batch, status=PaymentStatus.BATCHED)

        batches = batches_create(acting_user=acting_user, payout=payout, shares=shares, fill=fill)

        now = timezone.now()
        Payout.objects.filter(pk=payout.pk, status=PayoutStatus.APPROVED).update(
            status=PayoutStatus.RELEASED, released_at=now
        )
        if payout.submitted_by_id is not None:
            ReviewAction.objects.create(
                payout=payout,
                step=payout.review_step,
                role=acting_user.role or "",
                action=ReviewActionKind.RELEASE,
                acted_by=acting_user,
                submitted_by_id=payout.submitted_by_id,
            )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.PAYOUT_RELEASE,
            obj=payout,
            before={"status": PayoutStatus.APPROVED},
            after={
                "status": PayoutStatus.RELEASED,
                "payments": sum(b.payment_count for b in batches),
                "total_fen": sum(b.total_fen for b in batches),
                "batches": batches_summary(batches),
            },
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
        payout.status, payout.released_at = PayoutStatus.RELEASED, now
    return batches


def batches_visible_to(user):
    """Batches the user may see (finance and auditors: all; a department: its payouts'), newest first."""
    return Batch.objects.visible_to(user).select_related("payout", "bank").order_by("-created_at", "batch_no")


def can_download_file(user) -> bool:
    """The bank file holds account numbers in full: only finance, who sends it to the bank, may download it."""
    return can_release(user)
