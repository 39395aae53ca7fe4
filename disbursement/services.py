"""Creating payouts (发放项目). Submitting them and their review live in disbursement.review."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.models import Payout
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
