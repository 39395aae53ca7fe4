"""Reading payouts in review: whose turn, what is overdue (限时办理), and what happened so far. Scoped to the asking
user where a user is given."""

from __future__ import annotations

from django.db.models import Case, CharField, Count, Exists, OuterRef, QuerySet, Subquery, When
from django.utils import timezone

from disbursement.enums import PayoutStatus
from disbursement.models import Payout, ReviewAction, ReviewStep


def _step_field(field: str):
    """The given field of the payout's current step, from its policy's chain or else the default chain."""
    own = ReviewStep.objects.filter(policy=OuterRef("policy"), position=OuterRef("review_step")).values(field)[:1]
    default = ReviewStep.objects.filter(policy=None, position=OuterRef("review_step")).values(field)[:1]
    return Case(
        When(Exists(ReviewStep.objects.filter(policy=OuterRef("policy"))), then=Subquery(own)),
        default=Subquery(default),
        output_field=CharField(),
    )


def with_current_step(payouts: QuerySet) -> QuerySet:
    """Annotates `current_step_name` and `current_step_role` (None unless the payout is in review)."""
    return payouts.annotate(current_step_name=_step_field("name"), current_step_role=_step_field("role"))


def in_review(user) -> QuerySet:
    return Payout.objects.visible_to(user).filter(status=PayoutStatus.SUBMITTED)


def overdue(payouts: QuerySet, *, now=None) -> QuerySet:
    """The one meaning of 超时 (admin, dashboard, counts): in review, and the current step past its time limit."""
    return payouts.filter(status=PayoutStatus.SUBMITTED, step_due_at__lt=now or timezone.now())


def overdue_payouts(user) -> QuerySet:
    """Payouts in review whose current step is past its time limit, that `user` may see, most overdue first."""
    return overdue(Payout.objects.visible_to(user)).order_by("step_due_at")


def overdue_counts_by_department(user=None) -> list[dict]:
    """How many payouts are overdue per department: [{department, department__name, overdue}], most first.
    County-wide unless a user is given."""
    payouts = Payout.objects.visible_to(user) if user is not None else Payout.objects.all()
    return list(
        overdue(payouts)
        .values("department", "department__name")
        .annotate(overdue=Count("pk"))
        .order_by("-overdue", "department__name")
    )


def review_history(payout: Payout) -> QuerySet:
    """Every act on the payout's review, oldest first, with who acted."""
    return ReviewAction.objects.filter(payout=payout).select_related("acted_by", "submitted_by").order_by("pk")


def awaiting_me(user) -> QuerySet:
    """Payouts whose current step is `user`'s role, visible to them, and not submitted by them."""
    return (
        with_current_step(in_review(user))
        .filter(current_step_role=user.role)
        .exclude(submitted_by=user)
        .order_by("step_due_at")
    )
