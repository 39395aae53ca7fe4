"""投诉举报/咨询 in the admin, with the standing cast: department A answers its own, the outsider of department B
neither sees nor answers them, finance assigns, overdue ones are flagged, and the bank evaluation counts them."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from banks.evaluation import bank_evaluation
from disclosure.complaints import complaint_answer, complaint_file
from disclosure.enums import ComplaintKind, ComplaintStatus
from disclosure.models import Complaint
from tests.disclosure import test_complaints as shared
from tests.disclosure.test_complaints import PHONE, actions_of, make_overdue

# The service tests' fixtures, shared by name: the published list, a bank, a complaint for A and an unassigned one.
published, elderly, farmland, ccb = shared.published, shared.elderly, shared.farmland, shared.ccb
filed, unassigned = shared.filed, shared.unassigned

pytestmark = pytest.mark.django_db

LIST = "/admin/disclosure/complaint/"


def change_url(complaint: Complaint) -> str:
    return f"{LIST}{complaint.pk}/change/"


def text_of(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def farmland_filed(farmland):
    """A complaint about 耕地地力保护补贴: department B's."""
    return complaint_file(kind=ComplaintKind.REPORT, text="有人冒领耕地地力保护补贴，请核查。", policy=farmland)


# --- Who sees what ----------------------------------------------------------------------------------------------


def test_the_department_lists_its_own_complaints_only(login, clerk_a, filed, farmland_filed, unassigned):
    response = login(clerk_a).get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert filed.tracking_no in html
    assert farmland_filed.tracking_no not in html and unassigned.tracking_no not in html


def test_the_outsider_cannot_see_or_open_department_a_complaints(login, outsider, filed, farmland_filed):
    client = login(outsider)

    assert filed.tracking_no not in client.get(LIST).content.decode()
    assert farmland_filed.tracking_no in client.get(LIST).content.decode()
    opened = client.get(change_url(filed))
    assert opened.status_code == 302 and opened["Location"] == "/admin/"


def test_the_outsider_cannot_answer_department_a_complaint(login, outsider, filed):
    response = login(outsider).post(change_url(filed), {"answer": "外部门的答复。", "_save": "1"})

    assert response.status_code == 302 and response["Location"] == "/admin/"
    filed.refresh_from_db()
    assert filed.status == ComplaintStatus.OPEN and filed.answer == ""
    assert actions_of(filed) == ["complaint.file"]


def test_finance_and_the_auditor_see_every_complaint(login, finance_admin, auditor, filed, farmland_filed, unassigned):
    for user in (finance_admin, auditor):
        html = login(user).get(LIST).content.decode()
        assert all(c.tracking_no in html for c in (filed, farmland_filed, unassigned)), user.username


def test_nobody_adds_or_deletes_complaints_in_the_admin(login, finance_admin, filed):
    client = login(finance_admin)
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(f"{LIST}{filed.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Complaint.objects.filter(pk=filed.pk).exists()


def test_the_page_shows_the_contact_phone_masked_only(login, clerk_a, filed):
    html = login(clerk_a).get(change_url(filed)).content.decode()
    assert "138****5678" in html and PHONE not in html


# --- Answering ------------------------------------------------------------------------------------------------


def test_the_department_answers_its_own_complaint_on_its_page(login, clerk_a, filed):
    client = login(clerk_a)
    page = client.get(change_url(filed)).content.decode()
    assert '<textarea name="answer"' in page
    assert 'name="department"' not in page  # assigning is finance's

    response = client.post(change_url(filed), {"answer": "经核实，已于本月补发。", "_save": "1"}, follow=True)

    assert response.status_code == 200
    assert "已答复" in text_of(response)
    filed.refresh_from_db()
    assert (filed.status, filed.answer, filed.answered_by) == (
        ComplaintStatus.ANSWERED,
        "经核实，已于本月补发。",
        clerk_a,
    )
    assert actions_of(filed) == ["complaint.file", "complaint.answer"]


def test_an_answered_complaint_is_read_only_for_its_department(login, clerk_a, filed):
    complaint_answer(complaint=filed, answer="第一次答复。", acting_user=clerk_a)

    page = login(clerk_a).get(change_url(filed))

    assert page.status_code == 200 and '<textarea name="answer"' not in page.content.decode()
    assert "第一次答复。" in text_of(page)


def test_a_second_answer_from_a_page_opened_before_the_first_is_refused_with_a_message(
    login, clerk_a, finance_admin, filed
):
    """Two people had the page open; the second to press save is told it was answered, and nothing changes."""
    client = login(clerk_a)
    assert '<textarea name="answer"' in client.get(change_url(filed)).content.decode()
    complaint_answer(complaint=filed, answer="第一次答复。", acting_user=finance_admin)

    response = client.post(change_url(filed), {"answer": "第二次答复。", "_save": "1"}, follow=True)

    assert response.status_code == 200
    assert "不能再次答复" in text_of(response)
    filed.refresh_from_db()
    assert (filed.answer, filed.answered_by) == ("第一次答复。", finance_admin)
    assert AuditEvent.objects.filter(action="complaint.answer").count() == 1


def test_a_reviewer_and_the_auditor_only_read(login, reviewer_a, auditor, filed):
    for user in (reviewer_a, auditor):
        client = login(user)
        page = client.get(change_url(filed))
        assert page.status_code == 200 and '<textarea name="answer"' not in page.content.decode()
        assert client.post(change_url(filed), {"answer": "只读用户的答复。", "_save": "1"}).status_code == 403
    filed.refresh_from_db()
    assert filed.status == ComplaintStatus.OPEN


# --- Assigning ------------------------------------------------------------------------------------------------


def test_finance_assigns_an_unassigned_complaint_and_the_department_then_answers_it(
    login, finance_admin, clerk_a, outsider, department_a, ccb, unassigned
):
    finance = login(finance_admin)
    page = finance.get(change_url(unassigned)).content.decode()
    assert '<select name="department"' in page and '<select name="bank"' in page

    response = finance.post(
        change_url(unassigned), {"department": department_a.pk, "bank": ccb.pk, "answer": "", "_save": "1"}
    )

    assert response.status_code == 302
    unassigned.refresh_from_db()
    assert (unassigned.department, unassigned.bank, unassigned.status) == (department_a, ccb, ComplaintStatus.OPEN)
    event = AuditEvent.objects.get(action="complaint.assign")
    assert event.actor_id == finance_admin.pk
    assert event.before["department"] is None and event.after["department"]["id"] == department_a.pk

    assert unassigned.tracking_no not in login(outsider).get(LIST).content.decode()
    login(clerk_a).post(change_url(unassigned), {"answer": "请到侯寨街道便民服务中心办理。", "_save": "1"})
    unassigned.refresh_from_db()
    assert unassigned.status == ComplaintStatus.ANSWERED
    assert actions_of(unassigned) == ["complaint.file", "complaint.assign", "complaint.answer"]


def test_finance_cannot_clear_the_department(login, finance_admin, filed):
    response = login(finance_admin).post(change_url(filed), {"department": "", "bank": "", "answer": "", "_save": "1"})
    assert response.status_code == 200 and "请选择承办部门" in text_of(response)
    filed.refresh_from_db()
    assert filed.department is not None
    assert actions_of(filed) == ["complaint.file"]


def test_saving_without_a_change_writes_nothing(login, finance_admin, filed):
    response = login(finance_admin).post(
        change_url(filed), {"department": filed.department_id, "bank": "", "answer": "", "_save": "1"}, follow=True
    )
    assert "没有修改" in text_of(response)
    assert actions_of(filed) == ["complaint.file"]


# --- Time limits ----------------------------------------------------------------------------------------------


def test_overdue_complaints_are_flagged_and_filtered(login, finance_admin, clerk_a, filed, farmland_filed, unassigned):
    make_overdue(filed)
    make_overdue(farmland_filed)
    complaint_answer(complaint=farmland_filed, answer="已核查，情况属实，已追回。", acting_user=finance_admin)
    client = login(finance_admin)

    listing = text_of(client.get(LIST))
    assert "已超期" in listing and "超期答复" in listing and "按期" in listing

    overdue = client.get(LIST, {"overdue": "open_overdue"}).content.decode()
    assert filed.tracking_no in overdue
    assert farmland_filed.tracking_no not in overdue and unassigned.tracking_no not in overdue
    late = client.get(LIST, {"overdue": "answered_late"}).content.decode()
    assert farmland_filed.tracking_no in late and filed.tracking_no not in late
    on_time = client.get(LIST, {"overdue": "on_time"}).content.decode()
    assert unassigned.tracking_no in on_time and filed.tracking_no not in on_time

    assert "已超期" in text_of(login(clerk_a).get(change_url(filed)))


# --- The bank evaluation --------------------------------------------------------------------------------------


def test_the_bank_evaluation_counts_a_complaint_naming_the_bank(ccb, elderly):
    other = type(ccb).objects.create(code="icbc-erqi", name="中国工商银行郑州二七支行")
    complaint_file(kind=ComplaintKind.COMPLAINT, text="建设银行代发的补贴迟迟不到账。", policy=elderly, bank=ccb)
    complaint_file(kind=ComplaintKind.QUESTION, text="请问高龄津贴每月几号发放？", policy=elderly)

    period = timezone.localdate().strftime("%Y-%m")
    rows = {row.bank.code: row for row in bank_evaluation(period, banks=[ccb, other])}

    assert rows["ccb-erqi"].complaints == 1
    assert rows["icbc-erqi"].complaints == 0
