"""Agreements (代发协议), the bank register and the failure-reason catalogue: kept by finance, every change audited,
and the agreement in force on a day found for the evaluation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.models import Agreement, Bank, FailureReason
from banks.services import agreement_in_force, agreement_save, failure_reason_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank(db):
    return Bank.objects.create(code="ccb-erqi", name="中国建设银行郑州二七支行", aliases=["建行"])


def agreement(bank, number, valid_from, valid_until=None, **terms):
    return Agreement(
        bank=bank,
        number=number,
        signed_on=valid_from - dt.timedelta(days=10),
        valid_from=valid_from,
        valid_until=valid_until,
        **terms,
    )


# --- Agreements --------------------------------------------------------------------------------


def test_finance_records_an_agreement_and_its_change_with_before_and_after(bank, finance_admin):
    saved = agreement_save(acting_user=finance_admin, agreement=agreement(bank, "EQ-2026-01", dt.date(2026, 1, 1)))
    saved.result_hours = 48
    saved.payment_notification = False
    agreement_save(acting_user=finance_admin, agreement=saved)

    created, changed = AuditEvent.objects.filter(action=AuditAction.AGREEMENT_SAVE).order_by("id")
    assert created.before is None and created.after["number"] == "EQ-2026-01" and created.after["ack_hours"] == 24
    assert changed.before["result_hours"] == 72
    assert changed.after == {"result_hours": 48, "payment_notification": False}
    assert Agreement.objects.get().result_hours == 48


@pytest.mark.parametrize("who", ["outsider", "clerk_a", "auditor", "finance_reviewer", "bank_user"])
def test_no_one_but_finance_admin_keeps_agreements(request, bank, who):
    with pytest.raises(PermissionDenied):
        agreement_save(acting_user=request.getfixturevalue(who), agreement=agreement(bank, "EQ-1", dt.date(2026, 1, 1)))

    assert not Agreement.objects.exists()


def test_an_agreement_that_ends_before_it_starts_is_refused(bank, finance_admin):
    bad = agreement(bank, "EQ-1", dt.date(2026, 6, 1), dt.date(2026, 1, 1))

    with pytest.raises(ValidationError):
        agreement_save(acting_user=finance_admin, agreement=bad)

    assert not Agreement.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.AGREEMENT_SAVE).exists()


def test_the_agreement_in_force_is_the_latest_one_valid_that_day(bank, finance_admin):
    old = agreement_save(
        acting_user=finance_admin, agreement=agreement(bank, "EQ-2025", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    )
    standing = agreement_save(acting_user=finance_admin, agreement=agreement(bank, "EQ-2026", dt.date(2026, 1, 1)))
    supplement = agreement_save(
        acting_user=finance_admin, agreement=agreement(bank, "EQ-2026-S", dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    )
    other_bank = Bank.objects.create(code="icbc-erqi", name="中国工商银行郑州二七支行")
    agreement_save(acting_user=finance_admin, agreement=agreement(other_bank, "GH-2026", dt.date(2026, 8, 1)))

    assert agreement_in_force(bank, dt.date(2024, 12, 31)) is None
    assert agreement_in_force(bank, dt.date(2025, 12, 31)) == old
    assert agreement_in_force(bank, dt.date(2026, 3, 1)) == standing
    assert agreement_in_force(bank, dt.date(2026, 8, 15)) == supplement
    assert agreement_in_force(bank, dt.date(2026, 9, 30)) == supplement
    assert agreement_in_force(bank, dt.date(2026, 10, 1)) == standing


def test_finance_adds_an_agreement_in_the_admin_through_the_service(login, bank, finance_admin):
    client = login(finance_admin)

    form = {
        "bank": bank.pk, "number": "EQ-2026-01", "signed_on": "2025-12-20", "valid_from": "2026-01-01",
        "valid_until": "", "free_card_activation": "on", "payment_notification": "on",
        "convenient_withdrawal": "on", "data_security": "on", "ack_hours": "12", "result_hours": "48", "notes": "",
    }  # fmt: skip

    response = client.post(reverse("admin:banks_agreement_add"), form)

    assert response.status_code == 302
    saved = Agreement.objects.get()
    assert (saved.ack_hours, saved.result_hours) == (12, 48)
    assert AuditEvent.objects.get(action=AuditAction.AGREEMENT_SAVE).actor == finance_admin


def test_the_agreement_list_shows_the_service_terms_and_time_limits(login, bank, finance_admin):
    agreement_save(acting_user=finance_admin, agreement=agreement(bank, "EQ-2026-01", dt.date(2026, 1, 1)))

    page = login(finance_admin).get(reverse("admin:banks_agreement_changelist")).content.decode()

    terms = ("免费开卡（激活）", "到账短信通知", "便捷取款", "数据安全保密", "接收确认时限（小时）", "回盘时限（小时）")
    assert all(term in page for term in terms)
    assert "EQ-2026-01" in page


def test_outsider_cannot_open_the_agreements(login, bank, finance_admin, outsider):
    saved = agreement_save(acting_user=finance_admin, agreement=agreement(bank, "EQ-1", dt.date(2026, 1, 1)))
    client = login(outsider)

    assert client.get(reverse("admin:banks_agreement_changelist")).status_code == 403
    assert client.get(reverse("admin:banks_agreement_change", args=[saved.pk])).status_code == 403


def test_the_bank_page_lists_its_agreements(login, bank, finance_admin):
    agreement_save(acting_user=finance_admin, agreement=agreement(bank, "EQ-2026-01", dt.date(2026, 1, 1)))

    page = login(finance_admin).get(reverse("admin:banks_bank_change", args=[bank.pk])).content.decode()

    assert "EQ-2026-01" in page


# --- The bank register -------------------------------------------------------------------------


def test_finance_requires_signatures_of_a_bank_in_the_admin_and_it_is_audited(login, bank, finance_admin):
    client = login(finance_admin)

    form = {
        "code": "ccb-erqi", "name": bank.name, "aliases": '["建行"]', "file_encoding": "gbk", "is_active": "on",
        "signature_required": "on",
        "agreements-TOTAL_FORMS": "0", "agreements-INITIAL_FORMS": "0",
        "agreements-MIN_NUM_FORMS": "0", "agreements-MAX_NUM_FORMS": "1000",
    }  # fmt: skip

    response = client.post(reverse("admin:banks_bank_change", args=[bank.pk]), form)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Bank.objects.get().signature_required is True
    assert AuditEvent.objects.get(action=AuditAction.BANK_SAVE).after == {"signature_required": True}


# --- The failure-reason catalogue --------------------------------------------------------------


def test_the_catalogue_holds_the_reasons_the_plans_name():
    names = set(FailureReason.objects.values_list("name", flat=True))

    assert {"卡号已注销", "户名不符", "账户冻结", "卡已达限额", "账户不存在", "其他"} <= names


def test_finance_renames_a_reason_and_it_is_audited(finance_admin):
    reason = FailureReason.objects.get(code="card_limit")
    reason.name = "卡片已达年度限额"
    reason.correctable = False

    failure_reason_save(acting_user=finance_admin, reason=reason)

    event = AuditEvent.objects.get(action=AuditAction.FAILURE_REASON_SAVE)
    assert event.before["name"] == "卡已达限额"
    assert event.after == {"name": "卡片已达年度限额", "correctable": False}


def test_a_reason_code_never_changes(finance_admin):
    reason = FailureReason.objects.get(code="card_limit")
    reason.code = "limit"

    with pytest.raises(ValidationError):
        failure_reason_save(acting_user=finance_admin, reason=reason)

    assert FailureReason.objects.filter(code="card_limit").exists()


def test_outsider_cannot_change_the_catalogue(outsider):
    reason = FailureReason.objects.get(code="other")
    reason.is_active = False

    with pytest.raises(PermissionDenied):
        failure_reason_save(acting_user=outsider, reason=reason)

    assert FailureReason.objects.get(code="other").is_active


def test_finance_adds_a_reason_in_the_admin_and_can_delete_none(login, finance_admin):
    client = login(finance_admin)

    response = client.post(
        reverse("admin:banks_failurereason_add"),
        {"code": "id_mismatch", "name": "证件号不符", "correctable": "on", "position": "85", "is_active": "on"},
    )
    added = FailureReason.objects.get(code="id_mismatch")

    assert response.status_code == 302
    assert AuditEvent.objects.get(action=AuditAction.FAILURE_REASON_SAVE).after["code"] == "id_mismatch"
    assert client.get(reverse("admin:banks_failurereason_delete", args=[added.pk])).status_code == 403
    change_page = client.get(reverse("admin:banks_failurereason_change", args=[added.pk])).content.decode()
    assert 'name="code"' not in change_page  # shown, not editable
