"""代发机构考评: each bank's evaluation for a period, computed from its batches and payments in SQL, with finance's
manual score on top. The rules and the formula are written down in docs/bank-evaluation.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from banks.models import Agreement, Bank, BankScore
from disbursement.enums import BankResult
from disbursement.models import Batch, Payment
from disbursement.periods import period_range

CHINA = ZoneInfo("Asia/Shanghai")
# Limits for a batch generated while its bank had no agreement in force: the model's defaults (docs).
DEFAULT_ACK_HOURS = 24
DEFAULT_RESULT_HOURS = 72
# The formula's weights (docs/bank-evaluation.md): computed part out of 80, finance's part out of 20.
ACK_POINTS = 25
RESULT_POINTS = 25
SUCCESS_POINTS = 30
COMPLAINT_PENALTY = 2
COMPUTED_MAX = ACK_POINTS + RESULT_POINTS + SUCCESS_POINTS
MANUAL_MAX = 20
ONE_DECIMAL = Decimal("0.1")


def one_decimal(value: Fraction | Decimal) -> Decimal:
    if isinstance(value, Fraction):
        value = Decimal(value.numerator) / Decimal(value.denominator)
    return value.quantize(ONE_DECIMAL, rounding=ROUND_HALF_UP)


def _rate(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


@dataclass(frozen=True)
class BankEvaluation:
    """One bank's numbers for one period. Counts are exact; rates are fractions (``None``: nothing to count yet);
    hours and scores are rounded to one decimal for display."""

    bank: Bank
    period: str
    # The agreement in force on the period's last day (or today, while the period runs); None: none was.
    agreement: Agreement | None
    ack_hours: int
    result_hours: int
    batches: int = 0
    payments: int = 0
    amount_fen: int = 0
    ack_on_time: int = 0
    ack_late: int = 0
    ack_pending: int = 0  # not acknowledged, still within the limit: not counted yet
    result_on_time: int = 0
    result_late: int = 0
    result_pending: int = 0
    first_answered: int = 0  # first-attempt payments the bank answered (paid, failed or later returned)
    first_paid: int = 0  # … still paid: a returned (退回) payment is not a success
    first_failed: int = 0
    first_returned: int = 0
    mean_ack_hours: Decimal | None = None
    mean_close_hours: Decimal | None = None
    complaints: int = 0  # complaints from the public naming this bank, filed in the period
    manual: BankScore | None = None

    @property
    def has_business(self) -> bool:
        return self.batches > 0

    @property
    def ack_rate(self) -> Fraction | None:
        return _rate(self.ack_on_time, self.ack_on_time + self.ack_late)

    @property
    def result_rate(self) -> Fraction | None:
        return _rate(self.result_on_time, self.result_on_time + self.result_late)

    @property
    def success_rate(self) -> Fraction | None:
        return _rate(self.first_paid, self.first_answered)

    @property
    def pending(self) -> bool:
        """The bank had business, but one of the rates has nothing to count yet: no score is made up for it."""
        return self.has_business and None in (self.ack_rate, self.result_rate, self.success_rate)

    @property
    def computed_score(self) -> Decimal | None:
        """25 × ack-on-time + 25 × result-on-time + 30 × success − 2 per complaint, never below 0, out of 80."""
        if not self.has_business or self.pending:
            return None
        score = ACK_POINTS * self.ack_rate + RESULT_POINTS * self.result_rate + SUCCESS_POINTS * self.success_rate
        score -= COMPLAINT_PENALTY * self.complaints
        return one_decimal(max(score, Fraction(0)))

    @property
    def manual_score(self) -> Decimal | None:
        return self.manual.manual_score if self.manual is not None else None

    @property
    def total_score(self) -> Decimal | None:
        """Out of 100, once both parts exist."""
        computed, manual = self.computed_score, self.manual_score
        if computed is None or manual is None:
            return None
        return one_decimal(computed + manual)


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """The period as [start, end) instants, midnight to midnight in Beijing time. ValueError for a bad period."""
    first, last = period_range(period)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=CHINA)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=CHINA)
    return start, end


def last_month(today: dt.date | None = None) -> str:
    today = today or timezone.localdate(timezone=CHINA)
    previous = today.replace(day=1) - dt.timedelta(days=1)
    return f"{previous.year}-{previous.month:02d}"


def default_period(today: dt.date | None = None) -> str:
    """The period the page opens on: last month, or — while last month had no batch at all (a new platform, the
    demo) — the current one."""
    period = last_month(today)
    start, end = period_range(period)
    if Batch.objects.filter(generated_at__date__gte=start, generated_at__date__lte=end).exists():
        return period
    today = today or timezone.localdate(timezone=CHINA)
    current = f"{today.year}-{today.month:02d}"
    return current if Batch.objects.filter(generated_at__isnull=False).exists() else period


class _Seconds(Func):
    """A duration as seconds. PostgreSQL: EXTRACT(EPOCH …) of the interval, exact numeric; SQLite: Django keeps a
    datetime difference there as integer microseconds. A duration limit is compared exactly on both."""

    output_field = DecimalField(max_digits=20, decimal_places=6)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="(%(expressions)s / 1000000.0)", **extra_context)


def _elapsed(end, start: str = "generated_at") -> _Seconds:
    return _Seconds(ExpressionWrapper(end - F(start), output_field=DurationField()))


def _terms_in_force(field: str, default: int):
    """The agreement term for each batch's bank on the day its file was generated (Beijing date); the default when
    the bank had no agreement that day. Same rule as ``agreement_in_force``: latest valid_from, not yet ended."""
    terms = (
        Agreement.objects.filter(bank=OuterRef("bank_id"), valid_from__lte=OuterRef("generated_on"))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=OuterRef("generated_on")))
        .order_by("-valid_from", "-signed_on", "-pk")
        .values(field)[:1]
    )
    return Coalesce(Subquery(terms, output_field=IntegerField()), Value(default)) * Value(3600)


def _batch_figures(bank_ids: list[int], start: dt.datetime, end: dt.datetime, now: dt.datetime) -> dict[int, dict]:
    """Per bank, one grouped query over its batches generated in the period: counts, money, time limits kept."""
    now_value = Value(now, output_field=DateTimeField())
    batches = (
        Batch.objects.filter(bank_id__in=bank_ids, generated_at__gte=start, generated_at__lt=end)
        .annotate(generated_on=TruncDate("generated_at", tzinfo=CHINA))
        .annotate(
            ack_limit=_terms_in_force("ack_hours", DEFAULT_ACK_HOURS),
            result_limit=_terms_in_force("result_hours", DEFAULT_RESULT_HOURS),
            ack_seconds=_elapsed(F("acknowledged_at")),
            close_seconds=_elapsed(F("closed_at")),
            open_seconds=_elapsed(now_value),
        )
    )
    acked, closed = Q(acknowledged_at__isnull=False), Q(closed_at__isnull=False)
    rows = (
        batches.order_by()
        .values("bank_id")
        .annotate(
            batches=Count("pk"),
            payments=Sum("payment_count"),
            amount_fen=Sum("total_fen"),
            ack_on_time=Count("pk", filter=acked & Q(ack_seconds__lte=F("ack_limit"))),
            ack_late=Count(
                "pk",
                filter=(acked & Q(ack_seconds__gt=F("ack_limit"))) | (~acked & Q(open_seconds__gt=F("ack_limit"))),
            ),
            ack_pending=Count("pk", filter=~acked & Q(open_seconds__lte=F("ack_limit"))),
            result_on_time=Count("pk", filter=closed & Q(close_seconds__lte=F("result_limit"))),
            result_late=Count(
                "pk",
                filter=(closed & Q(close_seconds__gt=F("result_limit")))
                | (~closed & Q(open_seconds__gt=F("result_limit"))),
            ),
            result_pending=Count("pk", filter=~closed & Q(open_seconds__lte=F("result_limit"))),
            mean_ack_seconds=Avg("ack_seconds", filter=acked),
            mean_close_seconds=Avg("close_seconds", filter=closed),
        )
    )
    return {row.pop("bank_id"): row for row in rows}


def _payment_figures(bank_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, dict]:
    """Per bank, one grouped query over the first-attempt payments of those batches (reissues are left out: a
    reissue repeats a payment the bank already answered once)."""
    rows = (
        Payment.objects.filter(
            batch__bank_id__in=bank_ids, batch__generated_at__gte=start, batch__generated_at__lt=end, attempt=1
        )
        .order_by()
        .values("batch__bank_id")
        .annotate(
            first_answered=Count("pk", filter=~Q(result=BankResult.NONE)),
            first_paid=Count("pk", filter=Q(result=BankResult.PAID)),
            first_failed=Count("pk", filter=Q(result=BankResult.FAILED)),
            first_returned=Count("pk", filter=Q(result=BankResult.RETURNED)),
        )
    )
    return {row.pop("batch__bank_id"): row for row in rows}


def _complaint_counts(bank_ids: list[int], start: dt.datetime, end: dt.datetime) -> dict[int, int]:
    """投诉 naming each bank (disclosure.Complaint.bank), filed in the period, whatever became of them."""
    from disclosure.models import Complaint  # the public side counts here; it does not depend on banks' code

    rows = (
        Complaint.objects.filter(bank_id__in=bank_ids, created_at__gte=start, created_at__lt=end)
        .order_by()
        .values("bank_id")
        .annotate(n=Count("pk"))
    )
    return {row["bank_id"]: row["n"] for row in rows}


def _agreement_in_force(agreements: list[Agreement], on: dt.date) -> Agreement | None:
    """``banks.services.agreement_in_force`` over agreements already read (every bank's at once, not a query per
    bank): of those in force on ``on``, the one that took effect last."""
    found = [a for a in agreements if a.valid_from <= on and (a.valid_until is None or a.valid_until >= on)]
    return max(found, key=lambda a: (a.valid_from, a.signed_on, a.pk), default=None)


def _hours(seconds) -> Decimal | None:
    return None if seconds is None else one_decimal(Decimal(str(seconds)) / 3600)


def bank_evaluation(period: str, *, banks=None, now: dt.datetime | None = None) -> list[BankEvaluation]:
    """Every bank's evaluation for ``period`` ("YYYY-MM", "YYYY-Qn" or "YYYY"), ordered by bank code.

    ``banks``: the banks to evaluate; by default every active bank, and any inactive one that had batches in the
    period (a bank stopped since then still answers for that period). A county-wide figure: the door decides who
    may see it. ``now`` is when not-yet-acknowledged or not-yet-closed batches are judged late.
    """
    start, end = period_bounds(period)
    now = now or timezone.now()
    if banks is None:
        in_period = Batch.objects.filter(generated_at__gte=start, generated_at__lt=end).values("bank_id")
        banks = Bank.objects.filter(Q(is_active=True) | Q(pk__in=in_period))
    banks = sorted(banks, key=lambda bank: bank.code)
    bank_ids = [bank.pk for bank in banks]

    batch_rows = _batch_figures(bank_ids, start, end, now)
    payment_rows = _payment_figures(bank_ids, start, end)
    complaints = _complaint_counts(bank_ids, start, end)
    scores = {
        s.bank_id: s for s in BankScore.objects.filter(period=period, bank_id__in=bank_ids).select_related("scored_by")
    }
    agreements: dict[int, list[Agreement]] = {}
    for agreement in Agreement.objects.filter(bank_id__in=bank_ids):
        agreements.setdefault(agreement.bank_id, []).append(agreement)
    shown_on = min(end.date() - dt.timedelta(days=1), timezone.localdate(now, timezone=CHINA))

    evaluations = []
    for bank in banks:
        agreement = _agreement_in_force(agreements.get(bank.pk, []), shown_on)
        figures = dict(batch_rows.get(bank.pk, {}))
        mean_ack = figures.pop("mean_ack_seconds", None)
        mean_close = figures.pop("mean_close_seconds", None)
        evaluations.append(
            BankEvaluation(
                bank=bank,
                period=period,
                agreement=agreement,
                ack_hours=agreement.ack_hours if agreement else DEFAULT_ACK_HOURS,
                result_hours=agreement.result_hours if agreement else DEFAULT_RESULT_HOURS,
                **{key: value or 0 for key, value in figures.items()},
                **payment_rows.get(bank.pk, {}),
                mean_ack_hours=_hours(mean_ack),
                mean_close_hours=_hours(mean_close),
                complaints=complaints.get(bank.pk, 0),
                manual=scores.get(bank.pk),
            )
        )
    return evaluations
