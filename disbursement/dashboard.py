"""The numbers of the admin home page (工作台): payouts by state, money, overdue review steps, batches waiting for
banks, failed payments waiting for correction and the reconciliation — scoped to what the user may see."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Min, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disbursement.enums import BatchStatus, PaymentStatus, PayoutStatus
from disbursement.ledger import ledger, reconcile_ok, to_fen, yuan
from disbursement.models import Batch, Payout
from disbursement.selectors import overdue as overdue_in

WAITING_FOR_BANK = (BatchStatus.GENERATING, BatchStatus.READY)
LISTED = 10  # rows shown in each list; the totals count everything


def _yuan(fen: int) -> str:
    return yuan(fen, grouped=True)


def _share(value: int, largest: int) -> str:
    """A bar's length, 0–100, as text for an SVG attribute (never localised: "37.5", not "37,5")."""
    if largest <= 0 or value <= 0:
        return "0"
    return f"{max(100 * value / largest, 1):.1f}"


def finance_dashboard(user, *, now: dt.datetime | None = None) -> dict:
    """Everything the home page shows, for ``user``: finance and auditors see every department, other staff their
    own (``visible_to``). Amounts are in fen (``*_fen``) with the 元 text beside them (``*_yuan``)."""
    now = now or timezone.now()
    payouts = Payout.objects.visible_to(user)

    by_status = {
        row["status"]: row
        for row in payouts.order_by()
        .values("status")
        .annotate(count=Count("pk"), budget=Sum("budget_amount"), approved=Sum("approved_total"))
    }
    status_rows = []
    for status in PayoutStatus:
        row = by_status.get(status.value, {})
        budget = to_fen(row.get("budget") or 0)
        status_rows.append(
            {
                "status": status.value,
                "label": status.label,
                "count": row.get("count", 0),
                "budget_fen": budget,
                "budget_yuan": _yuan(budget),
            }
        )
    most = max((r["count"] for r in status_rows), default=0)
    largest = max((r["budget_fen"] for r in status_rows), default=0)
    for row in status_rows:
        row["count_pct"] = _share(row["count"], most)
        row["budget_pct"] = _share(row["budget_fen"], largest)

    overdue_payouts = overdue_in(payouts, now=now)
    overdue_rows = list(
        overdue_payouts.order_by()
        .values("department_id", "department__name", "department__short_name")
        .annotate(count=Count("pk"), oldest=Min("step_due_at"))
        .order_by("-count", "department__name")
    )
    most = max((r["count"] for r in overdue_rows), default=0)
    overdue = [
        {
            "department": r["department__short_name"] or r["department__name"],
            "count": r["count"],
            "oldest": r["oldest"],
            "pct": _share(r["count"], most),
        }
        for r in overdue_rows
    ]
    overdue_list = list(overdue_payouts.select_related("department").order_by("step_due_at", "code")[:LISTED])

    waiting = Batch.objects.visible_to(user).filter(status__in=WAITING_FOR_BANK)
    waiting_totals = {
        row["status"]: row
        for row in waiting.order_by().values("status").annotate(count=Count("pk"), fen=Sum("total_fen"))
    }
    waiting_rows = [
        {
            "status": status.value,
            "label": status.label,
            "count": waiting_totals.get(status.value, {}).get("count", 0),
            "fen": waiting_totals.get(status.value, {}).get("fen") or 0,
        }
        for status in WAITING_FOR_BANK
    ]
    for row in waiting_rows:
        row["yuan"] = _yuan(row["fen"])
    waiting_list = [
        {
            "batch_no": batch.batch_no,
            "bank": batch.bank.name,
            "status": batch.status,
            "status_label": batch.get_status_display(),
            "payout_id": batch.payout_id,
            "payout_code": batch.payout.code,
            "count": batch.payment_count,
            "yuan": _yuan(batch.total_fen),
            "created_at": batch.created_at,
        }
        for batch in waiting.select_related("bank", "payout").order_by("created_at", "batch_no")[:LISTED]
    ]

    ledgers = ledger(payouts=payouts)
    money = {
        name: sum(getattr(entry, name) for entry in ledgers)
        for name in ("budget", "approved", "in_flight", "paid", "failed_open", "reissued", "stopped")
    }
    largest = max(money.values(), default=0)
    money_labels = {
        "budget": _("预算指标"),
        "approved": _("审核通过"),
        "in_flight": _("在途"),
        "paid": _("发放成功"),
        "failed_open": _("发放失败待处理"),
        "reissued": _("已补发（原明细）"),
        "stopped": _("已停发"),
    }
    money_rows = [
        {"name": name, "label": money_labels[name], "fen": fen, "yuan": _yuan(fen), "pct": _share(fen, largest)}
        for name, fen in money.items()
    ]
    failed = sorted(
        (entry for entry in ledgers if _open_failures(entry)),
        key=lambda entry: (-entry.failed_open, entry.code),
    )
    largest_failed = failed[0].failed_open if failed else 0
    failed_rows = [
        {
            "payout_id": entry.payout_id,
            "code": entry.code,
            "title": entry.title,
            "count": _open_failures(entry),
            "fen": entry.failed_open,
            "yuan": _yuan(entry.failed_open),
            "pct": _share(entry.failed_open, largest_failed),
        }
        for entry in failed
    ]
    unbalanced = [
        {"payout_id": entry.payout_id, "code": entry.code, "title": entry.title, "problems": entry.problems}
        for entry in ledgers
        if entry.problems
    ]
    return {
        "now": now,
        "payouts": {"total": sum(r["count"] for r in status_rows), "by_status": status_rows},
        "money": money_rows,
        "overdue": {"total": sum(r["count"] for r in overdue), "by_department": overdue, "payouts": overdue_list},
        "batches_waiting": {
            "total": sum(r["count"] for r in waiting_rows),
            "fen": sum(r["fen"] for r in waiting_rows),
            "yuan": _yuan(sum(r["fen"] for r in waiting_rows)),
            "by_status": waiting_rows,
            "batches": waiting_list,
        },
        "failed": {
            "total": sum(r["count"] for r in failed_rows),
            "fen": sum(r["fen"] for r in failed_rows),
            "yuan": _yuan(sum(r["fen"] for r in failed_rows)),
            "by_payout": failed_rows[:LISTED],
        },
        "reconcile": {
            "ok": reconcile_ok(ledgers),
            "payouts": len(ledgers),
            "unbalanced": unbalanced[:LISTED],
            "unbalanced_total": len(unbalanced),
        },
    }


def _open_failures(entry) -> int:
    """Failed or returned (退回) payments waiting for the department's correction or stop."""
    return entry.counts.get(PaymentStatus.FAILED, 0) + entry.counts.get(PaymentStatus.RETURNED, 0)
