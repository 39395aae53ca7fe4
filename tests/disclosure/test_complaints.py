"""投诉举报/咨询: filing, assigning and answering (the services), and the public pages a visitor uses to file one and
follow it by its tracking number."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from banks.models import Bank
from disclosure import complaints as complaints_module
from disclosure.complaints import (
    complaint_answer,
    complaint_assign,
    complaint_file,
    complaint_public,
    complaints_overdue,
    mask_long_numbers,
    normalize_tracking_no,
)
from disclosure.enums import ComplaintKind, ComplaintStatus
from disclosure.models import TRACKING_PATTERN, Complaint
from policies.models import Policy
from policies.services import policy_list_publish, policy_list_submit
from tests.policies.factories import draft_list
from yikatong import pii

pytestmark = pytest.mark.django_db

TYPED_ID = "410103199001011234"
PHONE = "13812345678"
TEXT = "高龄津贴本月没有到账，请帮忙查一下原因。"


# --- Fixtures (test_complaints_admin.py uses them too) ------------------------------------------------------------


@pytest.fixture
def published(finance_admin, finance_reviewer, department_a, department_b):
    """The current list: 高龄津贴 (民政), 耕地地力保护补贴 (农业农村), and a secret 民政 policy."""
    policy_list = draft_list(
        finance_admin,
        2026,
        [
            ("MZ-01", department_a, {}),
            ("NY-01", department_b, {"name": "耕地地力保护补贴", "standard_unit": "元/亩", "frequency": "yearly"}),
            ("MZ-99", department_a, {"name": "涉密补助", "is_secret": True}),
        ],
    )
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    return policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)


@pytest.fixture
def elderly(published) -> Policy:
    return Policy.objects.get(code="MZ-01")


@pytest.fixture
def farmland(published) -> Policy:
    return Policy.objects.get(code="NY-01")


@pytest.fixture
def secret_policy(published) -> Policy:
    return Policy.objects.get(code="MZ-99")


@pytest.fixture
def ccb(db) -> Bank:
    return Bank.objects.create(code="ccb-erqi", name="中国建设银行郑州二七支行")


@pytest.fixture
def closed_bank(db) -> Bank:
    return Bank.objects.create(code="old-bank", name="已停用的银行", is_active=False)


@pytest.fixture
def filed(elderly, township):
    """A complaint about 高龄津贴: it goes to 民政 (department A)."""
    return complaint_file(
        kind=ComplaintKind.COMPLAINT,
        text=TEXT,
        policy=elderly,
        township=township,
        contact_name="张三",
        contact_phone=PHONE,
        remote_addr="203.0.113.9",
    )


@pytest.fixture
def unassigned(township):
    """A question naming no policy: finance must assign it."""
    return complaint_file(kind=ComplaintKind.QUESTION, text="请问低保怎么申请，需要准备哪些材料？", township=township)


def make_overdue(complaint: Complaint, *, days: int = 20) -> Complaint:
    """Filed ``days`` ago, so its 15-day limit has passed."""
    created = timezone.now() - dt.timedelta(days=days)
    Complaint.objects.filter(pk=complaint.pk).update(
        created_at=created, due_at=created + dt.timedelta(days=settings.COMPLAINT_ANSWER_DAYS)
    )
    complaint.refresh_from_db()
    return complaint


def actions_of(complaint: Complaint) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="disclosure.complaint", object_id=str(complaint.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def page_text(response) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def form_data(**overrides) -> dict:
    data = {
        "kind": ComplaintKind.COMPLAINT,
        "policy": "MZ-01",
        "township": "410103015",
        "bank": "",
        "text": TEXT,
        "contact_name": "",
        "contact_phone": "",
    }
    data.update(overrides)
    return data


# --- Filing ---------------------------------------------------------------------------------------------------


def test_a_complaint_about_a_policy_goes_to_its_department_and_is_due_in_fifteen_days(filed, department_a):
    filed.refresh_from_db()
    assert filed.department == department_a
    assert filed.status == ComplaintStatus.OPEN
    assert filed.assigned_at == filed.created_at
    assert filed.due_at - filed.created_at == dt.timedelta(days=15)
    assert re.match(TRACKING_PATTERN, filed.tracking_no)
    assert filed.tracking_no[3:11] == timezone.localdate(filed.created_at).strftime("%Y%m%d")


def test_a_question_naming_no_policy_waits_for_finance_to_assign_it(unassigned):
    assert unassigned.department is None and unassigned.assigned_at is None


def test_the_contact_phone_is_kept_encrypted_and_shown_masked(filed):
    filed.refresh_from_db()
    assert filed.contact_masked == "138****5678"
    assert PHONE not in filed.contact_masked
    assert pii.decrypt(bytes(filed.contact_cipher), purpose="contact") == PHONE


def test_filing_is_audited_as_the_public_with_no_contact_details_in_the_trail(filed, department_a):
    (event,) = AuditEvent.objects.filter(action="complaint.file")
    assert (event.actor_id, event.actor_label, event.remote_addr) == (None, "公众", "203.0.113.9")
    assert event.object_repr == filed.tracking_no and event.department_id == department_a.pk
    trail = json.dumps([event.before, event.after], ensure_ascii=False)
    assert PHONE not in trail and "张三" not in trail and TEXT not in trail
    assert event.after["contact_phone"] == "138****5678" and event.after["policy"] == "MZ-01"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"text": "太短了"}, "text_too_short"),
        ({"text": "长" * 2001}, "text_too_long"),
        ({"kind": "praise"}, "kind_unknown"),
        ({"contact_phone": "12345"}, "phone_format"),
        ({"contact_name": "名" * 33}, "contact_name_too_long"),
    ],
)
def test_bad_input_is_refused_with_its_code_and_nothing_is_saved(township, overrides, code):
    values = {"kind": ComplaintKind.QUESTION, "text": TEXT, "township": township, **overrides}
    with pytest.raises(ValidationError) as raised:
        complaint_file(**values)
    assert raised.value.code == code
    assert not Complaint.objects.exists() and not AuditEvent.objects.filter(action="complaint.file").exists()


def test_a_township_must_be_a_township_and_a_bank_active(county, closed_bank):
    with pytest.raises(ValidationError) as raised:
        complaint_file(kind=ComplaintKind.QUESTION, text=TEXT, township=county)
    assert raised.value.code == "township_level"
    with pytest.raises(ValidationError) as raised:
        complaint_file(kind=ComplaintKind.COMPLAINT, text=TEXT, bank=closed_bank)
    assert raised.value.code == "bank_inactive"
    assert not Complaint.objects.exists()


def test_tracking_numbers_are_unique_and_match_the_pattern(township):
    numbers = [complaint_file(kind=ComplaintKind.QUESTION, text=TEXT).tracking_no for _ in range(40)]
    assert len(set(numbers)) == 40
    assert all(re.fullmatch(TRACKING_PATTERN, number) for number in numbers)
    assert not any(letter in number[12:] for number in numbers for letter in "ILOU")


def test_a_tracking_number_that_clashes_with_an_existing_one_is_drawn_again(filed, monkeypatch):
    fresh = "TS-20260101-ABCDEFGH"
    drawn = iter([filed.tracking_no, fresh])
    monkeypatch.setattr(complaints_module, "new_tracking_no", lambda on: next(drawn))

    second = complaint_file(kind=ComplaintKind.QUESTION, text=TEXT)

    assert second.tracking_no == fresh
    assert Complaint.objects.filter(tracking_no=filed.tracking_no).count() == 1
    assert Complaint.objects.count() == 2


# --- Masking and reading ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (f"我的身份证号是{TYPED_ID}，请查询", "我的身份证号是**************1234，请查询"),
        ("身份证41010319900101123X", "身份证**************123X"),
        ("卡号 6222 0202 0000 1234 567 收不到钱", "卡号 ***************4567 收不到钱"),
        ("全角４１０１０３１９９００１０１１２３４", "全角**************１２３４"),
        ("2025-10-01 打电话 13812345678 问过，金额 1200 元", "2025-10-01 打电话 13812345678 问过，金额 1200 元"),
    ],
)
def test_long_numbers_are_starred_but_dates_amounts_and_phones_stay(text, shown):
    assert mask_long_numbers(text) == shown


@pytest.mark.parametrize(
    "typed",
    [
        "TS-20261207-7K3Q9XWA",
        "ts-20261207-7k3q9xwa",
        " TS 20261207 7K3Q9XWA ",
        "TS202612077K3Q9XWA",
        "20261207-7K3Q9XWA",
    ],
)
def test_a_tracking_number_is_read_however_it_is_typed(typed):
    assert normalize_tracking_no(typed) == "TS-20261207-7K3Q9XWA"


def test_o_and_i_typed_for_zero_and_one_are_read_as_digits():
    assert normalize_tracking_no("TS-20261207-O1I0LABC") == "TS-20261207-01101ABC"


@pytest.mark.parametrize(
    "typed", ["", "TS-2026-ABC", "TS-20261207-7K3Q9XWU", "<script>", "TS-20261207-7K3Q9XWA1", None]
)
def test_a_malformed_tracking_number_is_none(typed):
    assert normalize_tracking_no(typed) is None
    assert complaint_public(typed) is None


def test_only_open_complaints_past_their_limit_are_overdue(filed, unassigned, clerk_a):
    make_overdue(filed)
    assert list(complaints_overdue()) == [filed]
    complaint_answer(complaint=filed, answer="已核实，本月补发。", acting_user=clerk_a)
    assert not complaints_overdue().exists()


# --- Assigning ------------------------------------------------------------------------------------------------


def test_finance_assigns_an_unassigned_complaint_and_the_trail_shows_before_and_after(
    unassigned, finance_admin, department_b, ccb
):
    assigned = complaint_assign(complaint=unassigned, department=department_b, bank=ccb, acting_user=finance_admin)

    assert (assigned.department, assigned.bank) == (department_b, ccb)
    assert assigned.assigned_at is not None
    event = AuditEvent.objects.get(action="complaint.assign")
    assert event.actor_id == finance_admin.pk and event.department_id == department_b.pk
    assert event.before["department"] is None and event.after["department"]["name"] == department_b.name
    assert event.after["bank"]["name"] == ccb.name


def test_assigning_leaves_the_bank_as_it_was_unless_one_is_given(unassigned, finance_admin, department_a, ccb):
    Complaint.objects.filter(pk=unassigned.pk).update(bank=ccb)
    assigned = complaint_assign(complaint=unassigned, department=department_a, acting_user=finance_admin)
    assert assigned.bank == ccb


@pytest.mark.parametrize("actor", ["clerk_a", "outsider", "auditor", "finance_reviewer"])
def test_only_finance_may_assign(unassigned, department_a, actor, request):
    with pytest.raises(PermissionDenied):
        complaint_assign(complaint=unassigned, department=department_a, acting_user=request.getfixturevalue(actor))
    unassigned.refresh_from_db()
    assert unassigned.department is None
    assert not AuditEvent.objects.filter(action="complaint.assign").exists()


def test_an_answered_complaint_cannot_be_assigned_again(filed, clerk_a, finance_admin, department_b):
    complaint_answer(complaint=filed, answer="已核实，本月补发。", acting_user=clerk_a)
    with pytest.raises(ValidationError) as raised:
        complaint_assign(complaint=filed, department=department_b, acting_user=finance_admin)
    assert raised.value.code == "not_open"


# --- Answering ------------------------------------------------------------------------------------------------


def test_the_department_answers_its_own_complaint_once_and_the_trail_has_it(filed, clerk_a):
    answered = complaint_answer(
        complaint=filed, answer="  经核实，系银行卡已注销，已更正后补发。  ", acting_user=clerk_a
    )

    assert answered.status == ComplaintStatus.ANSWERED
    assert answered.answer == "经核实，系银行卡已注销，已更正后补发。"
    assert answered.answered_by == clerk_a and answered.answered_at is not None
    event = AuditEvent.objects.get(action="complaint.answer")
    assert event.actor_id == clerk_a.pk and event.after["late"] is False
    assert actions_of(filed) == ["complaint.file", "complaint.answer"]


def test_a_second_answer_is_refused_and_the_first_one_stays(filed, clerk_a, finance_admin):
    complaint_answer(complaint=filed, answer="第一次答复。", acting_user=clerk_a)
    with pytest.raises(ValidationError) as raised:
        complaint_answer(complaint=filed, answer="第二次答复。", acting_user=finance_admin)
    assert raised.value.code == "already_answered"
    assert "不能再次答复" in raised.value.messages[0]
    filed.refresh_from_db()
    assert (filed.answer, filed.answered_by) == ("第一次答复。", clerk_a)
    assert AuditEvent.objects.filter(action="complaint.answer").count() == 1


def test_an_answer_after_the_limit_is_accepted_and_recorded_as_late(filed, clerk_a):
    make_overdue(filed)
    answered = complaint_answer(complaint=filed, answer="答复晚了，抱歉。已补发。", acting_user=clerk_a)
    assert answered.is_overdue
    assert AuditEvent.objects.get(action="complaint.answer").after["late"] is True


@pytest.mark.parametrize(("actor", "code"), [("outsider", "out_of_scope"), ("reviewer_a", "not_answerer")])
def test_the_outsider_and_a_reviewer_cannot_answer(filed, actor, code, request):
    with pytest.raises(PermissionDenied) as raised:
        complaint_answer(complaint=filed, answer="不是我的。", acting_user=request.getfixturevalue(actor))
    assert raised.value.code == code
    filed.refresh_from_db()
    assert filed.status == ComplaintStatus.OPEN and filed.answer == ""


def test_a_department_cannot_answer_an_unassigned_complaint_but_finance_can(unassigned, clerk_a, finance_admin):
    with pytest.raises(PermissionDenied):
        complaint_answer(complaint=unassigned, answer="试图答复。", acting_user=clerk_a)
    answered = complaint_answer(complaint=unassigned, answer="请到户籍所在地乡镇申请。", acting_user=finance_admin)
    assert answered.answered_by == finance_admin


def test_a_department_whose_complaint_was_reassigned_meanwhile_cannot_answer_it(
    filed, clerk_a, finance_admin, department_b
):
    stale = Complaint.objects.get(pk=filed.pk)  # the page clerk A opened
    complaint_assign(complaint=filed, department=department_b, acting_user=finance_admin)
    with pytest.raises(PermissionDenied) as raised:
        complaint_answer(complaint=stale, answer="已处理。", acting_user=clerk_a)
    assert raised.value.code == "out_of_scope"
    assert Complaint.objects.get(pk=filed.pk).status == ComplaintStatus.OPEN


def test_an_empty_answer_is_refused(filed, clerk_a):
    with pytest.raises(ValidationError) as raised:
        complaint_answer(complaint=filed, answer="   ", acting_user=clerk_a)
    assert raised.value.code == "answer_required"


# --- The public form ------------------------------------------------------------------------------------------


def test_the_form_offers_public_policies_townships_and_active_banks_only(client, published, township, ccb, closed_bank):
    response = client.get("/complaints/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "高龄津贴" in html and "耕地地力保护补贴" in html
    assert "涉密补助" not in html and "MZ-99" not in html
    assert "侯寨街道" in html
    assert ccb.name in html and closed_bank.name not in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert '<label for="id_text">' in html
    assert "no-store" in response["Cache-Control"]


def test_filing_through_the_form_redirects_to_the_status_page_with_the_tracking_number(
    client, published, township, department_a
):
    response = client.post("/complaints/", form_data(contact_name="李四", contact_phone="0371-6788 1234"))

    assert response.status_code == 303
    complaint = Complaint.objects.get()
    assert response["Location"] == f"/complaints/{complaint.tracking_no}/?filed=1"
    assert (complaint.policy.code, complaint.township.code, complaint.department) == (
        "MZ-01",
        "410103015",
        department_a,
    )
    assert complaint.contact_masked == "037*******34"
    page = client.get(response["Location"])
    assert page.status_code == 200
    text = page_text(page)
    assert "请记下查询编号" in text and complaint.tracking_no in text and "已受理" in text
    assert "李四" not in text and "6788" not in text and "037*******34" not in text


def test_a_complaint_naming_a_bank_is_filed_with_it(client, published, township, ccb):
    client.post("/complaints/", form_data(policy="", bank=ccb.code, text="银行说代发的钱没有到，请核实。"))
    assert Complaint.objects.get().bank == ccb


def test_an_invalid_form_lists_its_errors_at_the_top_and_saves_nothing(client, published):
    response = client.post("/complaints/", form_data(text="太短", contact_phone="abc", kind=""))

    assert response.status_code == 200
    html = response.content.decode()
    alert = html.split('role="alert"', 1)[1].split("</div>", 1)[0]
    assert "内容" in alert and "联系电话" in alert and "类型" in alert
    assert 'href="#id_text"' in alert
    assert 'aria-invalid="true"' in html
    assert not Complaint.objects.exists()


def test_a_secret_policy_cannot_be_named_by_tampering_with_the_form(client, published):
    response = client.post("/complaints/", form_data(policy="MZ-99"))
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert not Complaint.objects.exists()


def test_the_form_refuses_a_post_without_the_csrf_token(published):
    response = Client(enforce_csrf_checks=True).post("/complaints/", form_data())
    assert response.status_code == 403
    assert not Complaint.objects.exists()


def test_past_the_rate_limit_filing_answers_429_in_chinese_and_saves_nothing(client, published, township, settings):
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "complaint_ip": "2/h"}
    for _ in range(2):
        assert client.post("/complaints/", form_data()).status_code == 303

    response = client.post("/complaints/", form_data(text="第三件：仍然没有到账，请尽快处理。"))

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "操作过于频繁" in page_text(response) and "本次内容未提交" in page_text(response)
    assert Complaint.objects.count() == 2
    assert not Complaint.objects.filter(text__startswith="第三件").exists()


def test_another_address_is_counted_apart(client, published, township, settings):
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "complaint_ip": "1/h"}
    assert client.post("/complaints/", form_data(), REMOTE_ADDR="198.51.100.1").status_code == 303
    assert client.post("/complaints/", form_data(), REMOTE_ADDR="198.51.100.1").status_code == 429
    assert client.post("/complaints/", form_data(), REMOTE_ADDR="198.51.100.2").status_code == 303


# --- The status page ------------------------------------------------------------------------------------------


def test_the_status_page_shows_the_handling_but_never_the_contact(client, filed, department_a):
    Complaint.objects.filter(pk=filed.pk).update(text=f"我的身份证号{TYPED_ID}，卡号6222020200001234567，{TEXT}")

    response = client.get(f"/complaints/{filed.tracking_no}/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    text = page_text(response)
    assert filed.tracking_no in text and "请记下查询编号" in text
    assert "投诉" in text and "高龄津贴" in text and "侯寨街道" in text and "待答复" in text
    assert department_a.name in text and department_a.phone in text
    assert timezone.localtime(filed.due_at).strftime("%Y年%-m月%-d日") in text
    assert TYPED_ID not in text and "**************1234" in text
    assert "6222020200001234567" not in text
    assert "张三" not in text and PHONE not in text and "138****5678" not in text
    assert "尚未答复" in text


def test_the_status_page_shows_the_answer_and_when_it_was_given(client, filed, clerk_a):
    complaint_answer(complaint=filed, answer=f"经核实已补发。身份证{TYPED_ID}的补贴已到账。", acting_user=clerk_a)

    text = page_text(client.get(f"/complaints/{filed.tracking_no}/"))

    assert "已答复" in text and "经核实已补发" in text
    filed.refresh_from_db()
    assert timezone.localtime(filed.answered_at).strftime("%Y年%-m月%-d日 %H:%M") + " 答复" in text
    assert TYPED_ID not in text


def test_the_status_page_flags_an_overdue_complaint(client, filed):
    make_overdue(filed)
    assert "已超期" in page_text(client.get(f"/complaints/{filed.tracking_no}/"))


def test_an_unassigned_complaint_says_finance_is_assigning_it(client, unassigned):
    assert "财政局正在分办" in page_text(client.get(f"/complaints/{unassigned.tracking_no}/"))


def test_a_secret_policy_is_never_named_on_the_status_page(client, secret_policy):
    complaint = complaint_file(kind=ComplaintKind.QUESTION, text=TEXT, policy=secret_policy)
    text = page_text(client.get(f"/complaints/{complaint.tracking_no}/"))
    assert "涉密补助" not in text and "MZ-99" not in text and "未指定" in text


def test_a_malformed_and_an_unknown_number_get_the_same_404(client, filed):
    unknown = client.get("/complaints/TS-20200101-ZZZZZZZZ/")
    malformed = client.get("/complaints/not-a-number/")

    assert unknown.status_code == malformed.status_code == 404
    assert unknown.content == malformed.content
    assert "未找到该查询编号" in page_text(unknown)


def test_the_status_page_is_found_by_a_number_typed_in_lower_case(client, filed):
    response = client.get(f"/complaints/{filed.tracking_no.lower()}/")
    assert response.status_code == 200 and filed.tracking_no in page_text(response)


def test_the_find_page_leads_to_the_status_page_or_says_not_found(client, filed):
    assert client.get("/complaints/status/").status_code == 200

    found = client.post("/complaints/status/", {"no": f" {filed.tracking_no.lower()} "})
    assert found.status_code == 302 and found["Location"] == f"/complaints/{filed.tracking_no}/"

    missing = client.post("/complaints/status/", {"no": "TS-20200101-ZZZZZZZZ"})
    garbage = client.post("/complaints/status/", {"no": "hello"})
    assert missing.status_code == garbage.status_code == 404
    assert "未找到该查询编号" in page_text(missing) and "未找到该查询编号" in page_text(garbage)


def test_status_lookups_past_their_rate_limit_answer_429(client, filed, settings):
    settings.PUBLIC_RATES = {**settings.PUBLIC_RATES, "complaint_status_ip": "2/h"}
    url = f"/complaints/{filed.tracking_no}/"
    assert [client.get(url).status_code for _ in range(2)] == [200, 200]
    limited = client.get(url)
    assert limited.status_code == 429 and "操作过于频繁" in page_text(limited)
    assert filed.tracking_no not in page_text(limited)
    assert client.post("/complaints/status/", {"no": filed.tracking_no}).status_code == 429


def test_an_id_number_typed_into_the_find_box_is_not_printed_back_whole(client, filed):
    response = client.post("/complaints/status/", {"no": TYPED_ID})
    assert response.status_code == 404
    assert TYPED_ID not in response.content.decode()
