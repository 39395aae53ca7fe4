"""The review of a payout (审核): submitting it, and each step's approval, return or withdrawal, along the chain its
policy declares. docs/review.md explains how a chain is chosen and what each act may do."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.selectors import submission_blockers
from disbursement.enums import REVIEW_ROLES, PaymentStatus, PayoutStatus, ReviewActionKind
from disbursement.models import Payment, Payout, ReviewAction, ReviewStep
from org.enums import RegionLevel, Role
from yikatong.domain.errors import Refused

REVIEW_PERMISSION = "disbursement.review_payout"
# Steps of these roles review only payouts of a township (or a village in it); a county payout skips them.
TOWNSHIP_STEP_ROLES = frozenset({Role.TOWNSHIP_REVIEWER})
TOWNSHIP_LEVELS = frozenset({RegionLevel.TOWNSHIP, RegionLevel.VILLAGE})


class ReviewRefused(Refused):
    """A review act this user may not take, with a machine-readable code (the API answers 403 with it)."""


# --- The chain ---------------------------------------------------------------------------------------------------


def chain_for(payout: Payout, *, submitter=None) -> list[ReviewStep]:
    """The steps this payout passes, in order: its policy's own chain if it has one, else the default chain;
    township steps only for a township payout; no step of the submitter's role (the maker is that step).

    The submitter's role is the one recorded when the payout was submitted (a later change of role does not reshape
    a chain under way); for a draft, pass who would submit it, or None for the whole chain."""
    steps = list(ReviewStep.objects.filter(policy_id=payout.policy_id).order_by("position"))
    if not steps:
        steps = list(ReviewStep.objects.filter(policy=None).order_by("position"))
    if submitter is not None:
        submitter_role = submitter.role
    elif payout.status != PayoutStatus.DRAFT:
        submit = ReviewAction.objects.filter(payout=payout, action=ReviewActionKind.SUBMIT).order_by("-pk").first()
        submitter_role = submit.role if submit is not None else None
    else:
        submitter_role = None
    township = payout.region.level in TOWNSHIP_LEVELS
    return [
        step for step in steps if (township or step.role not in TOWNSHIP_STEP_ROLES) and step.role != submitter_role
    ]


def _current(chain: list[ReviewStep], position: int) -> ReviewStep | None:
    """The step whose turn it is: the one at `position`, or the next one if finance removed it meanwhile."""
    return next((step for step in chain if step.position >= position), None) if position else None


def _after(chain: list[ReviewStep], step: ReviewStep) -> ReviewStep | None:
    return next((s for s in chain if s.position > step.position), None)


def _before(chain: list[ReviewStep], position: int) -> ReviewStep | None:
    return next((s for s in reversed(chain) if s.position < position), None)


@dataclass(frozen=True)
class Standing:
    """An approval of this round that still stands (not returned past, not withdrawn)."""

    step: int
    user_id: int
    action_id: int


def standing_approvals(payout: Payout) -> list[Standing]:
    """The approvals of the current round (since its last submission) that still stand, in chain order.

    Replays the round: an approval stands until the payout is returned to its step or its approver withdraws it."""
    last_submit = (
        ReviewAction.objects.filter(payout=payout, action=ReviewActionKind.SUBMIT).order_by("-pk").values("pk").first()
    )
    if last_submit is None:
        return []
    stack: list[Standing] = []
    acts = ReviewAction.objects.filter(payout=payout, pk__gt=last_submit["pk"]).order_by("pk")
    for act in acts.values("pk", "action", "step", "acted_by_id"):
        if act["action"] == ReviewActionKind.APPROVE:
            stack.append(Standing(act["step"], act["acted_by_id"], act["pk"]))
        elif act["action"] in (ReviewActionKind.RETURN, ReviewActionKind.WITHDRAW) and stack:
            stack.pop()
    return stack


# --- Who may act ----------------------------------------------------------------------------------------------------


def _visible(user, payout: Payout) -> bool:
    return Payout.objects.visible_to(user).filter(pk=payout.pk).exists()


def decision_refusal(
    user, payout: Payout, chain: list[ReviewStep], standing: list[Standing]
) -> ReviewRefused | ValidationError | None:
    """Why `user` may not approve or return this payout now (a ValidationError when the payout is not in review,
    else a ReviewRefused), or None if it is their turn. Shared by the services and the screens that decide which
    buttons to show."""
    step = _current(chain, payout.review_step) if payout.status == PayoutStatus.SUBMITTED else None
    if step is None:
        return ValidationError(_("发放项目不在审核中。"), code="payout_not_in_review")
    if not _visible(user, payout):
        return ReviewRefused(_("只能审核本部门（本乡镇）的发放项目。"), "out_of_scope")
    if not user.has_perm(REVIEW_PERMISSION) or user.role != step.role:
        return ReviewRefused(
            _("当前环节“%(step)s”由%(role)s办理。") % {"step": step.name, "role": Role(step.role).label},
            "not_your_turn",
        )
    if user.pk == payout.submitted_by_id:
        return ReviewRefused(_("不能审核自己提交的发放项目。"), "maker_is_checker")
    if any(s.user_id == user.pk for s in standing):
        return ReviewRefused(_("本轮已在前一环节审核通过，同一人不能审核两次。"), "same_person_twice")
    return None


def withdraw_refusal(user, payout: Payout, standing: list[Standing]) -> ReviewRefused | ValidationError | None:
    """Why `user` may not take back their last act now, or None. The last standing approval (or the submission,
    when no step has acted yet) may be taken back by its author until the next step acts; an approved payout's
    final approval until it is released."""
    if payout.status not in (PayoutStatus.SUBMITTED, PayoutStatus.APPROVED):
        return ValidationError(_("发放项目不在审核中，无可撤回。"), code="nothing_to_withdraw")
    if not _visible(user, payout):
        return ReviewRefused(_("只能审核本部门（本乡镇）的发放项目。"), "out_of_scope")
    author = standing[-1].user_id if standing else payout.submitted_by_id
    if user.pk != author:
        return ReviewRefused(_("只有上一环节的办理人可以在下一环节办理前撤回。"), "not_yours_to_withdraw")
    return None


# --- Acts ----------------------------------------------------------------------------------------------------------


def _lock(payout: Payout) -> Payout:
    return (
        Payout.objects.select_for_update(of=("self",))
        .select_related("region", "submitted_by", "policy")
        .get(pk=payout.pk)
    )


def _due(step: ReviewStep | None, now: dt.datetime) -> dt.datetime | None:
    return now + dt.timedelta(hours=step.hours_allowed) if step is not None else None


def _move(payout: Payout, *, from_status: str, from_step: int, **changes) -> None:
    """Move the locked payout on, conditionally: a row count other than 1 means someone else moved it first."""
    moved = Payout.objects.filter(pk=payout.pk, status=from_status, review_step=from_step).update(**changes)
    if moved != 1:
        raise ValidationError(_("发放项目已被他人办理，请刷新后重试。"), code="already_acted")
    for field, value in changes.items():
        setattr(payout, field, value)


def _audit(acting_user, action: str, payout: Payout, before: dict, after: dict) -> None:
    audit_record(
        acting_user=acting_user,
        action=action,
        obj=payout,
        before=before,
        after=after,
        department_id=payout.department_id,
        region_code=payout.region.code,
    )


def _record(payout: Payout, *, step: int, role: str, action: str, acting_user, reason: str = "", due_at=None, now):
    return ReviewAction.objects.create(
        payout=payout, step=step, role=role, action=action, acted_by=acting_user, submitted_by=payout.submitted_by,
        reason=reason, due_at=due_at, overdue=due_at is not None and now > due_at,
    )  # fmt: skip


def payout_submit(*, acting_user, payout: Payout) -> Payout:
    """The clerk hands the checked payout on for review: only once its roster has been checked and every
    blocking finding has been cleared. Its payments then count as money on its way (the no-double-payment
    constraint applies to them from here); the first step of its chain has `hours_allowed` to act."""
    if not acting_user.has_perm("disbursement.change_payout"):
        raise PermissionDenied(_("无权提交发放项目。"))
    if not _visible(acting_user, payout):
        raise PermissionDenied(_("只能提交本部门的发放项目。"))
    with transaction.atomic():
        payout = _lock(payout)
        if payout.status != PayoutStatus.DRAFT:
            raise ValidationError(_("发放项目已提交。"), code="payout_not_draft")
        blockers = submission_blockers(payout)
        if blockers:
            raise ValidationError([ValidationError(message, code=code) for code, message in blockers])
        chain = chain_for(payout, submitter=acting_user)
        if not chain:
            raise ValidationError(_("该政策没有适用的审核流程，请联系财政部门设置。"), code="no_review_chain")
        live = Payment.objects.filter(payout=payout, status__in=[PaymentStatus.DRAFT, PaymentStatus.CHECKED])
        try:
            with transaction.atomic():
                count = live.update(status=PaymentStatus.SUBMITTED)
        except IntegrityError:
            # The database's own guard: someone in this payout is already paid, or on the way, for this policy
            # and period elsewhere (a kept already_paid finding, or a payout submitted in between).
            raise ValidationError(
                _("名册中有人在本政策同一期间已发放或正在发放，不能重复提交。请重新比对并剔除。"),
                code="double_payment",
            ) from None
        now = timezone.now()
        first = chain[0]
        _move(
            payout, from_status=PayoutStatus.DRAFT, from_step=payout.review_step, status=PayoutStatus.SUBMITTED,
            review_step=first.position, step_due_at=_due(first, now), submitted_by=acting_user, submitted_at=now,
        )  # fmt: skip
        _record(payout, step=0, role=acting_user.role, action=ReviewActionKind.SUBMIT, acting_user=acting_user, now=now)
        _audit(
            acting_user,
            AuditAction.PAYOUT_SUBMIT,
            payout,
            before={"status": PayoutStatus.DRAFT, "review_step": 0},
            after={
                "status": PayoutStatus.SUBMITTED,
                "review_step": first.position,
                "step_due_at": payout.step_due_at,
                "payments": count,
            },
        )
    return payout


def review_approve(*, acting_user, payout: Payout, reason: str = "") -> Payout:
    """The current step approves (with an optional opinion): the payout moves to the next step, or, after the last
    one, is approved for the total of its submitted payments, which must fit its budget line."""
    with transaction.atomic():
        payout = _lock(payout)
        chain = chain_for(payout)
        standing = standing_approvals(payout)
        refusal = decision_refusal(acting_user, payout, chain, standing)
        if refusal is not None:
            raise refusal
        now = timezone.now()
        step = _current(chain, payout.review_step)
        following = _after(chain, step)
        before = {"status": payout.status, "review_step": payout.review_step}
        due_at = payout.step_due_at
        if following is not None:
            _move(
                payout, from_status=PayoutStatus.SUBMITTED, from_step=payout.review_step,
                review_step=following.position, step_due_at=_due(following, now),
            )  # fmt: skip
            after = {"status": payout.status, "review_step": following.position, "step_due_at": payout.step_due_at}
        else:
            submitted = Payment.objects.filter(payout=payout, status=PaymentStatus.SUBMITTED)
            total = submitted.aggregate(total=Sum("amount"))["total"] or Decimal("0")
            if total > payout.budget_amount:
                raise ValidationError(
                    _("审核通过金额 %(total)s 元超过预算指标 %(budget)s 元。")
                    % {"total": f"{total:.2f}", "budget": f"{payout.budget_amount:.2f}"},
                    code="over_budget",
                )
            count = submitted.update(status=PaymentStatus.APPROVED)
            _move(
                payout, from_status=PayoutStatus.SUBMITTED, from_step=payout.review_step,
                status=PayoutStatus.APPROVED, step_due_at=None, approved_total=total, approved_at=now,
            )  # fmt: skip
            after = {
                "status": PayoutStatus.APPROVED,
                "review_step": payout.review_step,
                "approved_total": f"{total:.2f}",
                "payments": count,
            }
        _record(
            payout, step=step.position, role=step.role, action=ReviewActionKind.APPROVE, acting_user=acting_user,
            reason=reason.strip(), due_at=due_at, now=now,
        )  # fmt: skip
        _audit(acting_user, AuditAction.REVIEW_APPROVE, payout, before, {**after, "reason": reason.strip()})
    return payout


def review_return(*, acting_user, payout: Payout, reason: str) -> Payout:
    """The current step sends the payout back one step, with a reason; from the first step back to the clerk
    (a draft again, its payments no longer on their way)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("退回须填写理由。"), code="reason_required")
    with transaction.atomic():
        payout = _lock(payout)
        chain = chain_for(payout)
        refusal = decision_refusal(acting_user, payout, chain, standing_approvals(payout))
        if refusal is not None:
            raise refusal
        now = timezone.now()
        step = _current(chain, payout.review_step)
        due_at = payout.step_due_at
        before = {"status": payout.status, "review_step": payout.review_step}
        # The approval of the step before is void: that step decides again, with a fresh time limit.
        _record(
            payout, step=step.position, role=step.role, action=ReviewActionKind.RETURN, acting_user=acting_user,
            reason=reason, due_at=due_at, now=now,
        )  # fmt: skip
        previous = _before(chain, step.position)
        extra = {}
        if previous is not None:
            _move(
                payout, from_status=PayoutStatus.SUBMITTED, from_step=payout.review_step,
                review_step=previous.position, step_due_at=_due(previous, now),
            )  # fmt: skip
        else:
            extra["payments"] = _back_to_draft(payout)
        _audit(
            acting_user,
            AuditAction.REVIEW_RETURN,
            payout,
            before,
            {"status": payout.status, "review_step": payout.review_step, "reason": reason, **extra},
        )
    return payout


def _back_to_draft(payout: Payout) -> int:
    count = Payment.objects.filter(payout=payout, status=PaymentStatus.SUBMITTED).update(status=PaymentStatus.DRAFT)
    _move(
        payout, from_status=PayoutStatus.SUBMITTED, from_step=payout.review_step, status=PayoutStatus.DRAFT,
        review_step=0, step_due_at=None,
    )  # fmt: skip
    return count


def review_withdraw(*, acting_user, payout: Payout, reason: str = "") -> Payout:
    """Whoever acted last takes it back while the next step has not acted: an approval (the payout returns to that
    step, with a fresh time limit), the final approval until release, or the submission itself (a draft again)."""
    with transaction.atomic():
        payout = _lock(payout)
        standing = standing_approvals(payout)
        refusal = withdraw_refusal(acting_user, payout, standing)
        if refusal is not None:
            raise refusal
        chain = chain_for(payout)
        now = timezone.now()
        before = {"status": payout.status, "review_step": payout.review_step}
        extra = {}
        if not standing:
            # The maker withdraws the submission: nobody has acted on it yet.
            _record(payout, step=0, role=acting_user.role, action=ReviewActionKind.WITHDRAW, acting_user=acting_user,
                    reason=reason.strip(), now=now)  # fmt: skip
            extra["payments"] = _back_to_draft(payout)
        else:
            withdrawn = standing[-1]
            step = next((s for s in chain if s.position == withdrawn.step), None)
            _record(
                payout, step=withdrawn.step, role=acting_user.role, action=ReviewActionKind.WITHDRAW,
                acting_user=acting_user, reason=reason.strip(), now=now,
            )  # fmt: skip
            if payout.status == PayoutStatus.APPROVED:
                extra["payments"] = (
                    Payment.objects.filter(payout=payout, status=PaymentStatus.APPROVED)
                    .update(status=PaymentStatus.SUBMITTED)
                )  # fmt: skip
                _move(
                    payout, from_status=PayoutStatus.APPROVED, from_step=payout.review_step,
                    status=PayoutStatus.SUBMITTED, review_step=withdrawn.step, step_due_at=_due(step, now),
                    approved_total=Decimal("0"), approved_at=None,
                )  # fmt: skip
            else:
                _move(
                    payout, from_status=PayoutStatus.SUBMITTED, from_step=payout.review_step,
                    review_step=withdrawn.step, step_due_at=_due(step, now),
                )  # fmt: skip
        _audit(
            acting_user,
            AuditAction.REVIEW_WITHDRAW,
            payout,
            before,
            {"status": payout.status, "review_step": payout.review_step, **extra},
        )
    return payout


# --- The chains themselves (finance keeps them) ----------------------------------------------------------------------

_STEP_FIELDS = ("policy_id", "position", "role", "name", "hours_allowed")


def _may_edit_chains(user) -> bool:
    # Not the permission table alone: clerks hold disbursement.add_*/change_* for their payouts, and whoever makes
    # payouts must not shape the chain that checks them.
    return user.is_superuser or (user.role == Role.FINANCE_ADMIN and user.has_perm("disbursement.change_reviewstep"))


def review_step_save(*, acting_user, step: ReviewStep) -> ReviewStep:
    """Finance creates or changes one step of a policy's chain (or of the default chain). A change applies to
    payouts in review from their next move on."""
    if not _may_edit_chains(acting_user):
        raise PermissionDenied(_("只有财政管理员可以修改审核流程。"))
    if step.role not in REVIEW_ROLES:
        raise ValidationError({"role": _("该角色不能担任审核环节。")}, code="role_not_reviewer")
    with transaction.atomic():
        # No ordering: the model's ordering joins the (nullable) policy, which FOR UPDATE refuses on PostgreSQL.
        rows = list(ReviewStep.objects.select_for_update().filter(pk=step.pk).order_by().values(*_STEP_FIELDS))
        old = rows[0] if step.pk and rows else None
        step.full_clean()
        step.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.REVIEW_STEP_SAVE,
            obj=step,
            before=old,
            after={field: getattr(step, field) for field in _STEP_FIELDS},
        )
    return step


def review_step_delete(*, acting_user, step: ReviewStep) -> None:
    """Finance removes a step; payouts waiting at it move on to the next step when it is their turn."""
    if not _may_edit_chains(acting_user):
        raise PermissionDenied(_("只有财政管理员可以修改审核流程。"))
    with transaction.atomic():
        old = {field: getattr(step, field) for field in _STEP_FIELDS}
        audit_record(
            acting_user=acting_user, action=AuditAction.REVIEW_STEP_SAVE, obj=step, before=old, after={"deleted": True}
        )
        ReviewStep.objects.filter(pk=step.pk).delete()
