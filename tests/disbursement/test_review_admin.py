"""The review in the browser admin: the payout page's 审核 section and its forms, the 办理状态 filter and the current
step column of the payout list, and finance's review chains (审核环节)."""

import datetime as dt

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from disbursement.enums import PayoutStatus
from disbursement.models import Payout, ReviewStep
from org.enums import Role

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/disbursement/payout/"


def page(client, path) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def change_url(payout) -> str:
    return f"/admin/disbursement/payout/{payout.pk}/change/"


def review_url(payout, act: str) -> str:
    return f"/admin/disbursement/payout/{payout.pk}/review/{act}/"


def test_the_page_shows_the_chain_and_the_forms_only_to_the_one_whose_turn_it_is(
    login, submitted_township, township_reviewer, clerk_a, township_clerk
):
    mine = page(login(township_reviewer), change_url(submitted_township))
    assert 'id="review"' in mine and 'id="review-chain"' in mine
    for name in ("乡镇（街道）审核", "主管部门经办复核", "主管部门审核", "财政复核"):
        assert name in mine
    assert 'id="review-approve"' in mine and 'id="review-return"' in mine
    assert 'id="review-withdraw"' not in mine
    # The clerk of step 2 waits; the maker may still withdraw the submission; the rest of the page is still there.
    waiting = page(login(clerk_a), change_url(submitted_township))
    assert 'id="review-approve"' not in waiting and 'id="checks"' in waiting and 'id="rosters"' in waiting
    maker = page(login(township_clerk), change_url(submitted_township))
    assert 'id="review-withdraw"' in maker and 'id="review-approve"' not in maker


def test_approve_and_return_through_the_page(login, submitted_township, township_reviewer, clerk_a):
    client = login(township_reviewer)
    approved = client.post(review_url(submitted_township, "approve"), {"reason": "同意上报"}, follow=True)
    assert "已审核通过。" in messages_of(approved)
    assert Payout.objects.get(pk=submitted_township.pk).review_step == 2
    assert "同意上报" in approved.content.decode()
    client = login(clerk_a)
    refused = client.post(review_url(submitted_township, "return"), {"reason": ""}, follow=True)
    assert any("退回须填写理由" in m for m in messages_of(refused))
    returned = client.post(review_url(submitted_township, "return"), {"reason": "金额不符"}, follow=True)
    assert "已退回。" in messages_of(returned)
    assert Payout.objects.get(pk=submitted_township.pk).review_step == 1


def test_a_refused_act_says_why_and_changes_nothing(login, submitted_township, reviewer_a):
    response = login(reviewer_a).post(review_url(submitted_township, "approve"), follow=True)
    assert any("当前环节" in m for m in messages_of(response))
    assert Payout.objects.get(pk=submitted_township.pk).review_step == 1


def test_the_outsider_gets_404_on_the_review_doors(login, submitted_township, outsider):
    assert login(outsider).post(review_url(submitted_township, "approve")).status_code == 404


def test_an_overdue_step_is_marked_and_filtered(login, submitted_township, finance_admin, department_a):
    Payout.objects.filter(pk=submitted_township.pk).update(step_due_at=timezone.now() - dt.timedelta(hours=2))
    client = login(finance_admin)
    assert "超时" in page(client, change_url(submitted_township))
    overdue = page(client, CHANGELIST + "?handling=overdue")
    assert submitted_township.code in overdue and "乡镇（街道）审核" in overdue
    assert 'id="overdue-by-department"' in overdue and department_a.name in overdue
    Payout.objects.filter(pk=submitted_township.pk).update(step_due_at=timezone.now() + dt.timedelta(hours=2))
    assert submitted_township.code not in page(client, CHANGELIST + "?handling=overdue")


def test_awaiting_me_filter(login, submitted_township, township_reviewer, reviewer_a):
    assert submitted_township.code in page(login(township_reviewer), CHANGELIST + "?handling=mine")
    assert submitted_township.code not in page(login(reviewer_a), CHANGELIST + "?handling=mine")


def test_finance_edits_a_policys_chain_audited_and_a_clerk_cannot(login, finance_admin, clerk_a, published_policy):
    form = {"policy": published_policy.pk, "position": 1, "role": Role.FINANCE_REVIEWER, "name": "财政直审"}
    form["hours_allowed"] = 24
    assert login(clerk_a).post("/admin/disbursement/reviewstep/add/", form).status_code == 403
    response = login(finance_admin).post("/admin/disbursement/reviewstep/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    step = ReviewStep.objects.get(policy=published_policy)
    assert (step.role, step.hours_allowed) == (Role.FINANCE_REVIEWER, 24)
    assert AuditEvent.objects.filter(action="review_step.save", object_id=str(step.pk)).exists()
    assert "财政直审" in page(login(finance_admin), "/admin/disbursement/reviewstep/")


def test_the_approved_payout_page_has_no_decision_forms(login, submitted_county, reviewer_a, finance_reviewer, auditor):
    from disbursement.review import review_approve

    review_approve(acting_user=reviewer_a, payout=submitted_county)
    review_approve(acting_user=finance_reviewer, payout=submitted_county)
    assert Payout.objects.get(pk=submitted_county.pk).status == PayoutStatus.APPROVED
    seen = page(login(auditor), change_url(submitted_county))
    assert 'id="review-approve"' not in seen and "已通过" in seen
