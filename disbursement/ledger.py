"""The money ledger (资金对账): where every fen of every payout stands, and whether it all adds up.

Read-only and set-based: one aggregate over the payments (GROUP BY payout, status, batch) and two small reads
(payouts, batches); no loop over payments. The definition is written down in docs/ledger.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal

from django.db.models import BigIntegerField, Count, F, QuerySet, Sum
from django.db.models.functions import Cast, Round

from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Batch, Payment, Payout

# Payments whose money is on its way to the bank; with paid, failed-open and stopped they make up what was approved.
IN_FLIGHT = (PaymentStatus.APPROVED, PaymentStatus.BATCHED, PaymentStatus.SENT)
# The bank answered and the money is not with the person: failed, or paid and then returned (退回). Both wait in the
# department's correction queue for a corrected account (then a reissue) or a stop.
FAILED_OPEN = (PaymentStatus.FAILED, PaymentStatus.RETURNED)
# Before the last review step: counted and shown, outside the identity.
PENDING = (PaymentStatus.DRAFT, PaymentStatus.CHECKED, PaymentStatus.SUBMITTED)
# Money moves only once the payout is approved: a payout still in draft or review holds none of these.
MOVED = (*IN_FLIGHT, PaymentStatus.PAID, *FAILED_OPEN, PaymentStatus.REISSUED, PaymentStatus.STOPPED)
# What a payment inside a bank batch may be: a payment never leaves the batch whose file carried it, whatever the
# bank answered and whatever the department decided afterwards (stopped, or reissued in a later batch).
IN_BATCH = frozenset(
    {
        PaymentStatus.BATCHED,
        PaymentStatus.SENT,
        PaymentStatus.PAID,
        PaymentStatus.FAILED,
        PaymentStatus.RETURNED,
        PaymentStatus.REISSUED,
        PaymentStatus.STOPPED,
    }
)
# The identity is checked for these payouts: their approved_total is the money that must be accounted for.
CHECKED_PAYOUTS = frozenset({PayoutStatus.APPROVED, PayoutStatus.RELEASED})


@dataclass
class PayoutLedger:
    """One payout's money, in fen (integers: compared exactly), and what does not add up (machine codes)."""

    payout_id: int
    code: str
    title: str
    status: str
    department_id: int
    budget: int
    approved: int
    in_flight: int = 0
    paid: int = 0
    failed_open: int = 0
    reissued: int = 0
    stopped: int = 0
    cancelled: int = 0
    pending: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def accounted(self) -> int:
        """What the approved money became: still on its way, paid, failed or returned and not yet reissued, or
        stopped. A reissued original is left out: its child (attempt + 1) carries the same money on."""
        return self.in_flight + self.paid + self.failed_open + self.stopped

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        data = asdict(self)
        data["accounted"] = self.accounted
        return data


def to_fen(yuan: Decimal) -> int:
    """Exact: amounts carry two decimals, so ×100 is an integer (quantize guards a value read back as 12.3)."""
    return int((Decimal(yuan) * 100).quantize(Decimal(1)))


def yuan(fen: int, *, grouped: bool = False) -> str:
    """Fen as 元 with two decimals, exact (no float): -1 → "-0.01"; grouped: 123456789 → "1,234,567.89"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole:,}.{cents:02d}" if grouped else f"{sign}{whole}.{cents:02d}"


# Each payment's amount in fen, as an integer in SQL: exact on PostgreSQL (numeric) and on SQLite too, where the
# decimal is stored as a REAL and 0.29 × 100 is 28.999…; rounding each row first makes the sum an exact integer sum.
_FEN = Cast(Round(F("amount") * 100), BigIntegerField())


def ledger(payout_codes: Iterable[str] | None = None, *, payouts: QuerySet | None = None) -> list[PayoutLedger]:
    """The ledger of the given payouts (by code, or a queryset such as ``Payout.objects.visible_to(user)``;
    every payout when neither is given), ordered by code."""
    query = payouts if payouts is not None else Payout.objects.all()
    if payout_codes is not None:
        query = query.filter(code__in=list(payout_codes))
    rows = query.order_by("code").values_list(
        "pk", "code", "title", "status", "department_id", "budget_amount", "approved_total"
    )
    ledgers = {
        pk: PayoutLedger(
            payout_id=pk,
            code=code,
            title=title,
            status=status,
            department_id=department_id,
            budget=to_fen(budget),
            approved=to_fen(approved),
        )
        for pk, code, title, status, department_id, budget, approved in rows
    }
    if not ledgers:
        return []
    everything = payouts is None and payout_codes is None
    payments = Payment.objects.all() if everything else Payment.objects.filter(payout_id__in=list(ledgers))
    # The one pass over the payments. Grouping by batch too lets the batch checks below use the same rows:
    # a handful of groups per payout (statuses × its batches), never one per payment.
    groups = (
        payments.order_by()
        .values_list("payout_id", "status", "batch_id")
        .annotate(n=Count("pk"), fen=Sum(_FEN))
        .values_list("payout_id", "status", "batch_id", "n", "fen")
    )
    in_batches: dict[int, dict] = defaultdict(lambda: {"n": 0, "fen": 0, "wrong_status": 0, "payouts": set()})
    for payout_id, status, batch_id, n, fen in groups:
        entry = ledgers[payout_id]
        fen = fen or 0
        entry.counts[status] = entry.counts.get(status, 0) + n
        if status in IN_FLIGHT:
            entry.in_flight += fen
        elif status == PaymentStatus.PAID:
            entry.paid += fen
        elif status in FAILED_OPEN:
            entry.failed_open += fen
        elif status == PaymentStatus.REISSUED:
            entry.reissued += fen
        elif status == PaymentStatus.STOPPED:
            entry.stopped += fen
        elif status == PaymentStatus.CANCELLED:
            entry.cancelled += fen
        else:
            entry.pending += fen
        if batch_id is not None:
            carried = in_batches[batch_id]
            carried["n"] += n
            carried["fen"] += fen
            carried["payouts"].add(payout_id)
            if status not in IN_BATCH:
                carried["wrong_status"] += n

    for entry in ledgers.values():
        if entry.status in CHECKED_PAYOUTS:
            difference = entry.approved - entry.accounted
            if difference:
                entry.problems.append(f"unaccounted:{difference}")
            if entry.approved > entry.budget:
                entry.problems.append("over_budget")
        else:
            moved = sum(entry.counts.get(status, 0) for status in MOVED)
            if moved:
                entry.problems.append(f"moved_before_approval:{moved}")

    batches = Batch.objects.filter(payout_id__in=list(ledgers)) if not everything else Batch.objects.all()
    for batch_id, batch_no, payout_id, payment_count, total_fen in batches.order_by("batch_no").values_list(
        "pk", "batch_no", "payout_id", "payment_count", "total_fen"
    ):
        carried = in_batches.pop(batch_id, None) or {"n": 0, "fen": 0, "wrong_status": 0, "payouts": set()}
        problems = ledgers[payout_id].problems
        if carried["fen"] != total_fen:
            problems.append(f"batch_total_mismatch:{batch_no}")
        if carried["n"] != payment_count:
            problems.append(f"batch_count_mismatch:{batch_no}")
        if carried["wrong_status"]:
            problems.append(f"batch_status_mismatch:{batch_no}")
        for other in sorted(carried["payouts"] - {payout_id}):
            ledgers[other].problems.append(f"batch_payout_mismatch:{batch_no}")
    # Payments of these payouts in a batch of a payout outside the selection: that batch is not this payout's.
    if in_batches:
        numbers = dict(Batch.objects.filter(pk__in=list(in_batches)).values_list("pk", "batch_no"))
        for batch_id, carried in in_batches.items():
            for payout_id in sorted(carried["payouts"]):
                ledgers[payout_id].problems.append(f"batch_payout_mismatch:{numbers.get(batch_id, batch_id)}")
    return list(ledgers.values())


def reconcile_ok(ledgers: Iterable[PayoutLedger]) -> bool:
    return all(entry.ok for entry in ledgers)
