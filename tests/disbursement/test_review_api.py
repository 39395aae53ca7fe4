"""The review over REST: approve, return, withdraw and the history, with 403/400 codes, and 404 for the outsider."""

import pytest

from disbursement.enums import PayoutStatus

pytestmark = pytest.mark.django_db


def url(payout, act: str) -> str:
    return f"/api/v1/payouts/{payout.code}/{act}/"


def test_each_step_approves_over_rest_until_the_payout_is_approved(
    login, submitted_township, township_reviewer, clerk_a, reviewer_a, finance_reviewer
):
    for user, step in ((township_reviewer, 2), (clerk_a, 3), (reviewer_a, 4)):
        answer = login(user).post(
            url(submitted_township, "approve"), {"reason": "同意"}, content_type="application/json"
        )
        assert answer.status_code == 200, answer.content
        assert answer.json()["review_step"] == step and answer.json()["status"] == PayoutStatus.SUBMITTED
    last = login(finance_reviewer).post(url(submitted_township, "approve"))
    assert last.status_code == 200
    assert last.json()["status"] == PayoutStatus.APPROVED and last.json()["approved_total"] == "500.00"
    history = login(finance_reviewer).get(url(submitted_township, "reviews")).json()
    assert [(h["action"], h["acted_by"]) for h in history] == [
        ("submit", "township_clerk"),
        ("approve", "township_reviewer"),
        ("approve", "clerk_a"),
        ("approve", "reviewer_a"),
        ("approve", "finance_reviewer"),
    ]
    assert history[1]["reason"] == "同意" and history[1]["action_label"] == "审核通过"


def test_the_wrong_role_gets_403_with_a_code(login, submitted_township, reviewer_a):
    answer = login(reviewer_a).post(url(submitted_township, "approve"))
    assert answer.status_code == 403 and answer.json()["code"] == "not_your_turn"


def test_the_outsider_gets_404_for_every_review_door(login, submitted_township, outsider, reviewer_b):
    for user in (outsider, reviewer_b):
        client = login(user)
        for act in ("approve", "return", "withdraw"):
            assert client.post(url(submitted_township, act), {"reason": "x"}).status_code == 404
        assert client.get(url(submitted_township, "reviews")).status_code == 404


def test_a_return_without_a_reason_is_400_and_with_one_goes_back(login, submitted_township, township_reviewer):
    client = login(township_reviewer)
    refused = client.post(url(submitted_township, "return"), {"reason": ""}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "reason_required"
    returned = client.post(url(submitted_township, "return"), {"reason": "名册有误"}, content_type="application/json")
    assert returned.status_code == 200 and returned.json()["status"] == PayoutStatus.DRAFT


def test_withdraw_by_the_approver_and_refused_to_anyone_else(login, submitted_township, township_reviewer, clerk_a):
    assert login(township_reviewer).post(url(submitted_township, "approve")).status_code == 200
    other = login(clerk_a).post(url(submitted_township, "withdraw"))
    assert other.status_code == 403 and other.json()["code"] == "not_yours_to_withdraw"
    mine = login(township_reviewer).post(url(submitted_township, "withdraw"))
    assert mine.status_code == 200 and mine.json()["review_step"] == 1


def test_the_auditor_reads_the_history_but_cannot_act(login, submitted_township, auditor):
    client = login(auditor)
    assert client.get(url(submitted_township, "reviews")).status_code == 200
    assert client.post(url(submitted_township, "approve")).status_code == 403


def test_the_schema_documents_the_review_doors(login, finance_admin):
    schema = login(finance_admin).get("/api/schema/").content.decode()
    for path in ("/approve/", "/return/", "/withdraw/", "/reviews/"):
        assert "/api/v1/payouts/{code}" + path in schema
    assert "审核通过（当前环节；可附审核意见）" in schema
