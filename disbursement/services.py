"""Creating payouts (发放项目) and submitting them for review. Review chains, batches and money movement come in
later issues."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.selectors import submission_blockers
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Payment, Payout
from org.enums import DEPARTMENT_ROLES, TOWNSHIP_ROLES
from org.models import Region
from policies.enums import ListStatus
from policies.models import Policy, PolicyEntry


def payout_create(
    *,
    acting_user,
    policy: Policy,
    period: str,
    region: Region,
    budget_document: str,
    budget_amount: Decimal,
    title: str = "",
    roster_due: dt.date | None = None,
    review_due: dt.date | None = None,
    payment_due: dt.date | None = None,
) -> Payout:
    """A clerk opens one round of their department's policy, under the list entry of that year."""
    if not acting_user.has_perm("disbursement.add_payout"):
        raise PermissionDenied(_("无权创建发放项目。"))
    if acting_user.role in DEPARTMENT_ROLES | TOWNSHIP_ROLES and acting_user.department_id != policy.department_id:
        raise PermissionDenied(_("只能为本部门的政策创建发放项目。"))
    if acting_user.region_id and not region.code.startswith(acting_user.region.code):
        raise PermissionDenied(_("只能为本乡镇（街道）创建发放项目。"))
    year = int(period[:4]) if period[:4].isdigit() else 0
    entry = (
        PolicyEntry.objects.filter(policy=policy, policy_list__status=ListStatus.PUBLISHED, policy_list__year=year)
        .select_related("policy_list")
        .first()
    )
    if entry is None:
        raise ValidationError(
            _("%(year)s 年已公布的政策清单中没有该政策，不能发放。") % {"year": year}, code="policy_not_listed"
        )
    code = f"{policy.code}-{period}" + ("" if len(region.code) == 6 else f"-{region.code[6:]}")
    with transaction.atomic():
        taken = set(Payout.objects.filter(code__startswith=code).values_list("code", flat=True))
        unique_code, n = code, 2
        while unique_code in taken:
            unique_code, n = f"{code}-{n}", n + 1
        payout = Payout(
            code=unique_code, policy=policy, policy_entry=entry, period=period, region=region,
            department_id=policy.department_id, title=title or f"{entry.name} {period}",
            budget_document=budget_document, budget_amount=budget_amount, roster_due=roster_due,
            review_due=review_due, payment_due=payment_due, created_by=acting_user,
        )  # fmt: skip
        payout.full_clean()
        payout.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.PAYOUT_CREATE,
            obj=payout,
            after={
                "code": payout.code,
                "period": period,
                "region": region.code,
                "budget_amount": f"{budget_amount:.2f}",
                "budget_document": budget_document,
            },
            department_id=payout.department_id,
            region_code=region.code,
        )
    return payout


def payout_submit(*, acting_user, payout: Payout) -> Payout:
    """The clerk hands the checked payout on for review: only once its roster has been checked and every
    blocking finding has been cleared. Its payments then count as money on its way (the no-double-payment
    constraint applies to them from here)."""
    if not acting_user.has_perm("disbursement.change_payout"):
        raise PermissionDenied(_("无权提交发放项目。"))
    if not Payout.objects.visible_to(acting_user).filter(pk=payout.pk).exists():
        raise PermissionDenied(_("只能提交本部门的发放项目。"))
    with transaction.atomic():
        payout = Payout.objects.select_for_update(of=("self",)).select_related("region").get(pk=payout.pk)
        if payout.status != PayoutStatus.DRAFT:
            raise ValidationError(_("发放项目已提交。"), code="payout_not_draft")
        blockers = submission_blockers(payout)
        if blockers:
            raise ValidationError([ValidationError(message, code=code) for code, message in blockers])
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
        Payout.objects.filter(pk=payout.pk).update(status=PayoutStatus.SUBMITTED)
        payout.status = PayoutStatus.SUBMITTED
        audit_record(
            acting_user=acting_user,
            action=AuditAction.PAYOUT_SUBMIT,
            obj=payout,
            before={"status": PayoutStatus.DRAFT},
            after={"status": PayoutStatus.SUBMITTED, "payments": count},
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
    return payout
