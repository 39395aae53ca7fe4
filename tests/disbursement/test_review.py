"""The review chain in the services: who acts at each step, maker ≠ checker, one person once per round, return,
withdraw, time limits and the budget line — and the database checks behind them."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from disbursement.enums import PaymentStatus, PayoutStatus, ReviewActionKind
from disbursement.models import Payment, Payout, ReviewAction, ReviewStep
from disbursement.review import (
    chain_for,
    payout_submit,
    review_approve,
    review_return,
    review_step_save,
    review_withdraw,
)
from disbursement.selectors import awaiting_me, overdue_counts_by_department, overdue_payouts, review_history
from org.enums import Role
from org.models import User

pytestmark = pytest.mark.django_db

TOWNSHIP_CHAIN = [
    (1, "township_reviewer"),
    (2, "clerk_a"),
    (3, "reviewer_a"),
    (4, "finance_reviewer"),
]
EVERYONE = [
    "township_clerk",
    "township_reviewer",
    "other_township_reviewer",
    "clerk_a",
    "reviewer_a",
    "reviewer_b",
    "finance_reviewer",
    "finance_admin",
    "outsider",
    "auditor",
]


def fresh(payout) -> Payout:
    return Payout.objects.get(pk=payout.pk)


def payment_statuses(payout) -> set[str]:
    return set(Payment.objects.filter(payout=payout).values_list("status", flat=True))


def refusal(service, **kwargs):
    with pytest.raises((PermissionDenied, ValidationError)) as caught:
        service(**kwargs)
    return getattr(caught.value, "code", None)


# --- The chain ---------------------------------------------------------------------------------------------------


def test_a_township_payout_takes_the_whole_default_chain(submitted_township, township_clerk):
    chain = chain_for(submitted_township)
    assert [(s.position, s.role) for s in chain] == [
        (1, Role.TOWNSHIP_REVIEWER),
        (2, Role.DEPARTMENT_CLERK),
        (3, Role.DEPARTMENT_REVIEWER),
        (4, Role.FINANCE_REVIEWER),
    ]
    payout = fresh(submitted_township)
    assert payout.status == PayoutStatus.SUBMITTED and payout.review_step == 1
    assert payout.submitted_by == township_clerk and payout.submitted_at is not None
    assert dt.timedelta(hours=71) < payout.step_due_at - payout.submitted_at <= dt.timedelta(hours=72)
    assert payment_statuses(payout) == {PaymentStatus.SUBMITTED}
    submit = ReviewAction.objects.get(payout=payout)
    assert (submit.action, submit.step, submit.acted_by, submit.submitted_by) == (
        ReviewActionKind.SUBMIT,
        0,
        township_clerk,
        township_clerk,
    )


def test_a_county_payout_skips_the_township_step_and_the_makers_own_step(submitted_county):
    assert [s.role for s in chain_for(submitted_county)] == [Role.DEPARTMENT_REVIEWER, Role.FINANCE_REVIEWER]
    assert fresh(submitted_county).review_step == 3


def test_a_policys_own_chain_replaces_the_default(published_policy, township_payout, township_clerk, ready):
    ReviewStep.objects.create(policy=published_policy, position=1, role=Role.FINANCE_REVIEWER, name="财政直审")
    ready(township_payout, township_clerk)
    payout = payout_submit(acting_user=township_clerk, payout=township_payout)
    assert [s.name for s in chain_for(payout)] == ["财政直审"]
    assert fresh(payout).review_step == 1


# --- Every role at every step ---------------------------------------------------------------------------------------


def test_only_the_steps_own_role_in_scope_may_act_at_each_step(submitted_township, request):
    users = {name: request.getfixturevalue(name) for name in EVERYONE}
    payout = submitted_township
    for position, actor in TOWNSHIP_CHAIN:
        for name, user in users.items():
            if name == actor:
                continue
            code = refusal(review_approve, acting_user=user, payout=payout)
            assert code in {"not_your_turn", "out_of_scope", "same_person_twice"}, (position, name, code)
            assert refusal(review_return, acting_user=user, payout=payout, reason="不同意") == code
            assert fresh(payout).review_step == position, (position, name)
        payout = review_approve(acting_user=users[actor], payout=payout, reason=f"第{position}环节同意")
    payout = fresh(payout)
    assert payout.status == PayoutStatus.APPROVED
    assert payout.approved_total == Decimal("500.00") and payout.approved_at is not None
    assert payout.step_due_at is None
    assert payment_statuses(payout) == {PaymentStatus.APPROVED}
    approvals = ReviewAction.objects.filter(payout=payout, action=ReviewActionKind.APPROVE).order_by("pk")
    assert [(a.step, a.acted_by.username) for a in approvals] == [(p, users[n].username) for p, n in TOWNSHIP_CHAIN]


def test_a_township_reviewer_of_another_township_and_the_outsider_are_out_of_scope(
    submitted_township, other_township_reviewer, outsider
):
    assert refusal(review_approve, acting_user=other_township_reviewer, payout=submitted_township) == "out_of_scope"
    assert refusal(review_approve, acting_user=outsider, payout=submitted_township) == "out_of_scope"


def test_another_departments_reviewer_cannot_approve_at_the_department_step(
    submitted_county, reviewer_b, reviewer_a, finance_reviewer
):
    assert refusal(review_approve, acting_user=reviewer_b, payout=submitted_county) == "out_of_scope"
    review_approve(acting_user=reviewer_a, payout=submitted_county)
    review_approve(acting_user=finance_reviewer, payout=submitted_county)
    assert fresh(submitted_county).status == PayoutStatus.APPROVED


# --- Maker ≠ checker; one person once per round -------------------------------------------------------------------


def test_the_maker_cannot_approve_their_own_submission(submitted_county, clerk_a):
    # The clerk who submitted later becomes the department's reviewer: still not the checker of their own payout.
    User.objects.filter(pk=clerk_a.pk).update(role=Role.DEPARTMENT_REVIEWER)
    promoted = User.objects.get(pk=clerk_a.pk)
    assert refusal(review_approve, acting_user=promoted, payout=submitted_county) == "maker_is_checker"
    assert not ReviewAction.objects.filter(payout=submitted_county, action=ReviewActionKind.APPROVE).exists()


def test_the_database_refuses_an_approval_by_the_submitter(submitted_county, clerk_a):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewAction.objects.create(
            payout=submitted_county, step=3, role=Role.DEPARTMENT_REVIEWER, action=ReviewActionKind.APPROVE,
            acted_by=clerk_a, submitted_by=clerk_a,
        )  # fmt: skip


def test_the_same_person_cannot_approve_two_steps_of_one_round(
    published_policy, payout, clerk_a, ready, reviewer_a, reviewer_a2
):
    for position in (1, 2):
        ReviewStep.objects.create(
            policy=published_policy, position=position, role=Role.DEPARTMENT_REVIEWER, name=f"部门审核{position}"
        )
    ready(payout, clerk_a)
    payout_submit(acting_user=clerk_a, payout=payout)
    review_approve(acting_user=reviewer_a, payout=payout)
    assert refusal(review_approve, acting_user=reviewer_a, payout=payout) == "same_person_twice"
    review_approve(acting_user=reviewer_a2, payout=payout)
    assert fresh(payout).status == PayoutStatus.APPROVED


# --- Return ----------------------------------------------------------------------------------------------------------


def test_a_return_needs_a_reason(submitted_township, township_reviewer):
    assert refusal(review_return, acting_user=township_reviewer, payout=submitted_township, reason="  ") == (
        "reason_required"
    )
    assert fresh(submitted_township).review_step == 1


def test_the_database_refuses_a_return_without_a_reason(submitted_township, township_reviewer, township_clerk):
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewAction.objects.create(
            payout=submitted_township, step=1, role=Role.TOWNSHIP_REVIEWER, action=ReviewActionKind.RETURN,
            acted_by=township_reviewer, submitted_by=township_clerk, reason="",
        )  # fmt: skip


def test_a_return_goes_back_one_step_and_that_step_decides_again(
    submitted_township, township_reviewer, clerk_a, reviewer_a
):
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    review_approve(acting_user=clerk_a, payout=submitted_township)
    before = timezone.now()
    payout = review_return(acting_user=reviewer_a, payout=submitted_township, reason="补充低保审批表")
    payout = fresh(payout)
    assert payout.status == PayoutStatus.SUBMITTED and payout.review_step == 2
    assert payout.step_due_at >= before + dt.timedelta(hours=72)
    returned = ReviewAction.objects.filter(payout=payout).last()
    assert (returned.action, returned.step, returned.reason) == (ReviewActionKind.RETURN, 3, "补充低保审批表")
    # The clerk's approval no longer stands: the clerk decides again, and may.
    review_approve(acting_user=clerk_a, payout=payout)
    assert fresh(payout).review_step == 3


def test_a_return_from_the_first_step_makes_a_draft_again_that_can_be_resubmitted(
    submitted_township, township_reviewer, township_clerk
):
    review_return(acting_user=township_reviewer, payout=submitted_township, reason="名册有误")
    payout = fresh(submitted_township)
    assert (payout.status, payout.review_step, payout.step_due_at) == (PayoutStatus.DRAFT, 0, None)
    assert payment_statuses(payout) == {PaymentStatus.DRAFT}
    payout = payout_submit(acting_user=township_clerk, payout=payout)
    assert fresh(payout).review_step == 1 and payment_statuses(payout) == {PaymentStatus.SUBMITTED}


# --- Withdraw --------------------------------------------------------------------------------------------------------


def test_an_approver_withdraws_while_the_next_step_has_not_acted(submitted_township, township_reviewer, clerk_a):
    review_approve(acting_user=township_reviewer, payout=submitted_township, reason="同意")
    assert refusal(review_withdraw, acting_user=clerk_a, payout=submitted_township) == "not_yours_to_withdraw"
    review_withdraw(acting_user=township_reviewer, payout=submitted_township)
    payout = fresh(submitted_township)
    assert payout.review_step == 1 and payout.status == PayoutStatus.SUBMITTED
    assert ReviewAction.objects.filter(payout=payout).last().action == ReviewActionKind.WITHDRAW
    # Withdrawn, the approval no longer counts: the same reviewer may decide again.
    review_approve(acting_user=township_reviewer, payout=payout)
    assert fresh(payout).review_step == 2


def test_an_approver_cannot_withdraw_once_the_next_step_acted(submitted_township, township_reviewer, clerk_a):
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    review_approve(acting_user=clerk_a, payout=submitted_township)
    assert refusal(review_withdraw, acting_user=township_reviewer, payout=submitted_township) == (
        "not_yours_to_withdraw"
    )
    assert fresh(submitted_township).review_step == 3


def test_the_maker_withdraws_a_submission_nobody_has_acted_on(submitted_township, township_clerk, township_reviewer):
    review_withdraw(acting_user=township_clerk, payout=submitted_township)
    payout = fresh(submitted_township)
    assert payout.status == PayoutStatus.DRAFT and payment_statuses(payout) == {PaymentStatus.DRAFT}
    payout_submit(acting_user=township_clerk, payout=payout)
    review_approve(acting_user=township_reviewer, payout=payout)
    assert refusal(review_withdraw, acting_user=township_clerk, payout=payout) == "not_yours_to_withdraw"


def test_the_final_approval_can_be_withdrawn_until_release(submitted_county, reviewer_a, finance_reviewer):
    review_approve(acting_user=reviewer_a, payout=submitted_county)
    review_approve(acting_user=finance_reviewer, payout=submitted_county)
    review_withdraw(acting_user=finance_reviewer, payout=submitted_county)
    payout = fresh(submitted_county)
    assert (payout.status, payout.review_step, payout.approved_total) == (PayoutStatus.SUBMITTED, 4, 0)
    assert payout.approved_at is None and payment_statuses(payout) == {PaymentStatus.SUBMITTED}


def test_nothing_to_withdraw_on_a_draft(payout, clerk_a):
    assert refusal(review_withdraw, acting_user=clerk_a, payout=payout) == "nothing_to_withdraw"


# --- Time limits -----------------------------------------------------------------------------------------------------


def test_an_act_after_the_due_time_is_marked_overdue_and_listed(
    submitted_township, township_reviewer, clerk_a, finance_admin, outsider, department_a
):
    Payout.objects.filter(pk=submitted_township.pk).update(step_due_at=timezone.now() - dt.timedelta(hours=1))
    assert list(overdue_payouts(clerk_a)) == [fresh(submitted_township)]
    assert list(overdue_payouts(outsider)) == []
    assert overdue_counts_by_department() == [
        {"department": department_a.pk, "department__name": department_a.name, "overdue": 1}
    ]
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    approval = ReviewAction.objects.get(payout=submitted_township, action=ReviewActionKind.APPROVE)
    assert approval.overdue and approval.due_at < approval.acted_at
    assert list(overdue_payouts(finance_admin)) == []  # the next step has its own, fresh time limit


def test_an_act_in_time_is_not_overdue_with_a_frozen_clock(submitted_township, township_reviewer, monkeypatch):
    due = fresh(submitted_township).step_due_at
    monkeypatch.setattr(timezone, "now", lambda: due - dt.timedelta(minutes=1))
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    approval = ReviewAction.objects.get(payout=submitted_township, action=ReviewActionKind.APPROVE)
    assert not approval.overdue and approval.due_at == due


def test_awaiting_me_lists_what_is_at_my_step(submitted_township, township_reviewer, clerk_a, township_clerk):
    assert list(awaiting_me(township_reviewer)) == [fresh(submitted_township)]
    assert list(awaiting_me(clerk_a)) == []
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    assert list(awaiting_me(clerk_a)) == [fresh(submitted_township)]
    assert list(awaiting_me(township_reviewer)) == [] and list(awaiting_me(township_clerk)) == []


# --- Budget ----------------------------------------------------------------------------------------------------------


def test_the_last_step_cannot_approve_more_than_the_budget(submitted_county, reviewer_a, finance_reviewer):
    Payout.objects.filter(pk=submitted_county.pk).update(budget_amount=Decimal("300.00"))
    review_approve(acting_user=reviewer_a, payout=submitted_county)
    assert refusal(review_approve, acting_user=finance_reviewer, payout=submitted_county) == "over_budget"
    payout = fresh(submitted_county)
    assert (payout.status, payout.review_step, payout.approved_total) == (PayoutStatus.SUBMITTED, 4, 0)
    assert payment_statuses(payout) == {PaymentStatus.SUBMITTED}


def test_the_database_refuses_an_approved_total_above_the_budget(submitted_county):
    with pytest.raises(IntegrityError), transaction.atomic():
        Payout.objects.filter(pk=submitted_county.pk).update(approved_total=Decimal("1000000.01"))


# --- Audit and history -----------------------------------------------------------------------------------------------


def test_every_act_is_audited_with_the_step_and_status_before_and_after(
    submitted_township, township_reviewer, clerk_a, reviewer_a
):
    review_approve(acting_user=township_reviewer, payout=submitted_township, reason="同意")
    review_withdraw(acting_user=township_reviewer, payout=submitted_township)
    review_approve(acting_user=township_reviewer, payout=submitted_township)
    review_return(acting_user=clerk_a, payout=submitted_township, reason="请补充材料")
    events = AuditEvent.objects.filter(object_id=str(submitted_township.pk), action__startswith="review.")
    summary = [
        (e.action, e.actor_label, e.before["review_step"], e.after["review_step"]) for e in events.order_by("pk")
    ]
    assert summary == [
        ("review.approve", "township_reviewer", 1, 2),
        ("review.withdraw", "township_reviewer", 2, 1),
        ("review.approve", "township_reviewer", 1, 2),
        ("review.return", "clerk_a", 2, 1),
    ]
    submit = AuditEvent.objects.get(object_id=str(submitted_township.pk), action="payout.submit")
    assert submit.before == {"status": "draft", "review_step": 0} and submit.after["review_step"] == 1
    history = list(review_history(submitted_township))
    assert [a.action for a in history] == ["submit", "approve", "withdraw", "approve", "return"]
    assert history[-1].reason == "请补充材料"


# --- Chains kept by finance -----------------------------------------------------------------------------------------


def test_finance_saves_a_step_audited_and_a_clerk_may_not(published_policy, finance_admin, clerk_a):
    step = ReviewStep(policy=published_policy, position=1, role=Role.DEPARTMENT_REVIEWER, name="部门审核")
    with pytest.raises(PermissionDenied):
        review_step_save(acting_user=clerk_a, step=step)
    review_step_save(acting_user=finance_admin, step=step)
    event = AuditEvent.objects.get(action="review_step.save")
    assert event.before is None and event.after["role"] == Role.DEPARTMENT_REVIEWER
    step.hours_allowed = 24
    review_step_save(acting_user=finance_admin, step=step)
    changed = AuditEvent.objects.filter(action="review_step.save").order_by("pk").last()
    assert changed.before["hours_allowed"] == 72 and changed.after["hours_allowed"] == 24


def test_a_step_for_a_role_that_does_not_review_is_refused(published_policy, finance_admin):
    step = ReviewStep(policy=published_policy, position=1, role=Role.TOWNSHIP_CLERK, name="经办")
    with pytest.raises(ValidationError):
        review_step_save(acting_user=finance_admin, step=step)
    assert not ReviewStep.objects.filter(policy=published_policy).exists()
