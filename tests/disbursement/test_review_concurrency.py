"""Two reviewers acting on one payout at once, on PostgreSQL: the payout's row lock lets only one of them move it."""

import pytest

from disbursement.enums import PayoutStatus, ReviewActionKind
from disbursement.models import Payout, ReviewAction
from disbursement.review import review_approve, review_return
from tests.checks.test_concurrency import _in_threads

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_reviewers_of_one_step_cannot_both_approve(submitted_county, reviewer_a, reviewer_a2):
    outcomes = _in_threads(
        lambda: review_approve(acting_user=reviewer_a, payout=submitted_county),
        lambda: review_approve(acting_user=reviewer_a2, payout=submitted_county),
    )
    assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert error.code == "not_your_turn"  # the step it came for has moved on
    assert ReviewAction.objects.filter(payout=submitted_county, action=ReviewActionKind.APPROVE).count() == 1
    payout = Payout.objects.get(pk=submitted_county.pk)
    assert (payout.status, payout.review_step) == (PayoutStatus.SUBMITTED, 4)


def test_an_approval_and_a_return_at_once_leave_one_decision(submitted_county, reviewer_a, reviewer_a2):
    outcomes = _in_threads(
        lambda: review_approve(acting_user=reviewer_a, payout=submitted_county),
        lambda: review_return(acting_user=reviewer_a2, payout=submitted_county, reason="金额有误"),
    )
    assert sorted(kind for kind, _value in outcomes) == ["error", "ok"], outcomes
    decisions = ReviewAction.objects.filter(payout=submitted_county).exclude(action=ReviewActionKind.SUBMIT)
    assert decisions.count() == 1
    payout = Payout.objects.get(pk=submitted_county.pk)
    expected = (PayoutStatus.SUBMITTED, 4) if decisions.get().action == "approve" else (PayoutStatus.DRAFT, 0)
    assert (payout.status, payout.review_step) == expected
