"""The admin home page's 工作台: its numbers (disbursement.dashboard) and the page, for finance and for a clerk.

Review, release and bank results come from other services; here payouts and payments are moved along with
queryset .update() calls that stand in for them, and batch rows are made directly.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from banks.models import Bank
from disbursement.dashboard import finance_dashboard
from disbursement.enums import BatchStatus, PaymentStatus, PayoutStatus
from disbursement.ledger import to_fen, yuan
from disbursement.models import Batch, Payment, Payout

NOW = timezone.now()


@pytest.fixture
def released_a(payout, roster_file, upload, finance_admin):
    """Department A's payout: approved whole, released, 8 of 10 payments in a batch still waiting for its bank,
    2 of those failed (waiting for correction)."""
    path, _rows = roster_file(10)
    upload(path)
    payments = Payment.objects.filter(payout=payout)
    payments.update(status=PaymentStatus.APPROVED)
    total = payments.aggregate(t=Sum("amount"))["t"]
    Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.RELEASED, approved_total=total)
    bank = Bank.objects.create(code="ccb-erqi", name="中国建设银行二七支行")
    chosen = list(payments.order_by("row")[:8])
    batch = Batch.objects.create(
        batch_no="MZ-B1", payout=payout, bank=bank, status=BatchStatus.READY, payment_count=8,
        total_fen=sum(to_fen(p.amount) for p in chosen), encoding="gbk", created_by=finance_admin,
    )  # fmt: skip
    Payment.objects.filter(pk__in=[p.pk for p in chosen]).update(batch=batch, status=PaymentStatus.SENT)
    Payment.objects.filter(pk__in=[p.pk for p in chosen[:2]]).update(status=PaymentStatus.FAILED)
    payout.refresh_from_db()
    return payout


@pytest.fixture
def overdue_b(payout, department_b, clerk_a):
    """Department B's payout, in review and past its step's time limit (made directly: B has no policy here)."""
    return Payout.objects.create(
        code="NY-2026-11", policy=payout.policy, policy_entry=payout.policy_entry, period="2026-11",
        region=payout.region, department=department_b, title="耕地地力保护补贴 2026-11",
        budget_document="二七财预〔2026〕89号", budget_amount=500000, status=PayoutStatus.SUBMITTED,
        step_due_at=NOW - dt.timedelta(hours=5), created_by=clerk_a,
    )  # fmt: skip


def by_status(board) -> dict:
    return {row["status"]: row for row in board["payouts"]["by_status"]}


def test_finance_sees_every_department(released_a, overdue_b, finance_admin):
    board = finance_dashboard(finance_admin, now=NOW)

    assert board["payouts"]["total"] == 2
    assert by_status(board)[PayoutStatus.RELEASED]["count"] == 1
    assert by_status(board)[PayoutStatus.SUBMITTED]["budget_yuan"] == "500,000.00"
    assert board["overdue"]["total"] == 1
    assert board["overdue"]["by_department"][0]["department"] == "农业农村"
    assert [p.code for p in board["overdue"]["payouts"]] == ["NY-2026-11"]


def test_batches_waiting_and_failures_are_counted_with_their_money(released_a, finance_admin):
    board = finance_dashboard(finance_admin, now=NOW)

    batch = Batch.objects.get()
    assert board["batches_waiting"]["total"] == 1
    assert board["batches_waiting"]["yuan"] == yuan(batch.total_fen, grouped=True)
    assert board["batches_waiting"]["batches"][0]["batch_no"] == "MZ-B1"
    failed = Payment.objects.filter(status=PaymentStatus.FAILED).aggregate(t=Sum("amount"))["t"]
    assert board["failed"]["total"] == 2
    assert board["failed"]["yuan"] == f"{failed:,.2f}"
    assert board["failed"]["by_payout"][0]["code"] == released_a.code


def test_money_adds_up_and_reconcile_is_ok(released_a, finance_admin):
    board = finance_dashboard(finance_admin, now=NOW)

    money = {row["name"]: row["fen"] for row in board["money"]}
    assert money["approved"] == to_fen(released_a.approved_total)
    assert money["approved"] == money["in_flight"] + money["paid"] + money["failed_open"] + money["stopped"]
    assert board["reconcile"] == {"ok": True, "payouts": 1, "unbalanced": [], "unbalanced_total": 0}


def test_an_unbalanced_payout_shows_in_the_reconcile_panel(released_a, finance_admin):
    Batch.objects.filter(batch_no="MZ-B1").update(total_fen=1)

    board = finance_dashboard(finance_admin, now=NOW)

    assert board["reconcile"]["ok"] is False
    assert board["reconcile"]["unbalanced"][0]["problems"] == ["batch_total_mismatch:MZ-B1"]


def test_a_clerk_sees_only_their_own_department(released_a, overdue_b, clerk_a):
    board = finance_dashboard(clerk_a, now=NOW)

    assert board["payouts"]["total"] == 1
    assert board["overdue"]["total"] == 0
    assert board["failed"]["total"] == 2
    assert board["reconcile"]["payouts"] == 1


def test_outsider_sees_none_of_department_a(released_a, overdue_b, outsider):
    board = finance_dashboard(outsider, now=NOW)

    assert board["payouts"]["total"] == 1
    assert board["overdue"]["total"] == 1
    assert board["batches_waiting"]["total"] == 0
    assert board["failed"]["total"] == 0
    assert all(row["fen"] == 0 for row in board["money"] if row["name"] != "budget")


def test_bars_are_shares_of_the_largest(released_a, overdue_b, finance_admin):
    board = finance_dashboard(finance_admin, now=NOW)

    rows = by_status(board)
    assert rows[PayoutStatus.RELEASED]["budget_pct"] == "100.0"  # A's 1,000,000
    assert rows[PayoutStatus.SUBMITTED]["budget_pct"] == "50.0"  # B's 500,000
    assert rows[PayoutStatus.DRAFT]["count_pct"] == "0"


def dashboard_html(response) -> str:
    html = response.content.decode()
    match = re.search(r'<section id="finance-dashboard".*?</section>', html, re.S)
    assert match, "the dashboard is on the page"
    return match.group(0)


def test_the_admin_home_shows_finance_the_dashboard_beside_the_app_list(released_a, overdue_b, login, finance_admin):
    response = login(finance_admin).get(reverse("admin:index"))

    assert response.status_code == 200
    section = dashboard_html(response)
    assert "资金发放概览" in section
    assert "NY-2026-11" in section
    assert "MZ-B1" in section
    assert "<svg" in section
    # The content security policy allows no inline styles or scripts: bars are SVG attributes and CSS classes.
    assert "style=" not in section
    assert "<script" not in section
    assert 'href="/static/css/dashboard.css"' in response.content.decode()
    assert 'id="content-main"' in response.content.decode()  # the stock app list stays
    assert reverse("admin:disbursement_payout_changelist") in response.content.decode()


def test_the_admin_home_shows_a_clerk_only_their_department(released_a, overdue_b, login, clerk_a):
    response = login(clerk_a).get(reverse("admin:index"))

    assert response.status_code == 200
    section = dashboard_html(response)
    assert released_a.code in section
    assert "NY-2026-11" not in section
    assert "没有超时的审核环节" in section
