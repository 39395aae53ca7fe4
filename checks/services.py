"""Starting check runs and clearing what they find. Every change is audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.enums import FindingStatus, RunStatus
from checks.models import CheckRun, Finding
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Payment, Payout, payment_ref
from jobs.services import job_enqueue
from recipients import storage

LIVE_PAYMENT_STATUSES = (PaymentStatus.DRAFT, PaymentStatus.CHECKED)


def checks_start(*, acting_user, payout: Payout, enqueue: bool = True) -> CheckRun:
    """Queue a run of every enabled rule over the payout (or, with enqueue=False, leave it to the caller)."""
    if not acting_user.has_perm("checks.add_checkrun"):
        raise PermissionDenied(_("无权发起数据比对。"))
    if not Payout.objects.visible_to(acting_user).filter(pk=payout.pk).exists():
        raise PermissionDenied(_("只能比对本部门的发放项目。"))
    return queue_run(acting_user=acting_user, payout=payout, enqueue=enqueue)


def queue_run(*, acting_user, payout: Payout, enqueue: bool = True) -> CheckRun:
    """A run on behalf of `acting_user` without asking their permission: the platform's own follow-up to a
    roster import the user was allowed to make."""
    with transaction.atomic():
        payout = Payout.objects.select_for_update(of=("self",)).select_related("region").get(pk=payout.pk)
        if payout.status != PayoutStatus.DRAFT:
            raise ValidationError(_("发放项目已提交，不再比对。"), code="payout_not_draft")
        run = CheckRun.objects.create(payout=payout, started_by=acting_user, status=RunStatus.QUEUED)
        if enqueue:
            job = job_enqueue(
                acting_user=acting_user,
                kind="checks.run",
                params={"run_id": run.pk},
                target_type="checks.checkrun",
                target_id=str(run.pk),
                department_id=payout.department_id,
            )
            CheckRun.objects.filter(pk=run.pk).update(job=job)
            run.job = job
        audit_record(
            acting_user=acting_user,
            action=AuditAction.CHECKS_START,
            obj=run,
            after={"payout": payout.code},
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
    return run


def _decidable(acting_user, finding: Finding) -> Finding:
    """Lock the finding and its payout; only a clerk of that payout, while it is still a draft, decides."""
    if not acting_user.has_perm("checks.change_finding"):
        raise PermissionDenied(_("无权处理比对疑点。"))
    if not Finding.objects.visible_to(acting_user).filter(pk=finding.pk).exists():
        raise PermissionDenied(_("只能处理本部门发放项目的疑点。"))
    payout = Payout.objects.select_for_update().get(pk=finding.payout_id)
    if payout.status != PayoutStatus.DRAFT:
        raise ValidationError(_("发放项目已提交，疑点不能再处理。"), code="payout_not_draft")
    finding = (
        Finding.objects.select_for_update(of=("self",)).select_related("payment", "payout__region").get(pk=finding.pk)
    )
    if finding.status not in (FindingStatus.OPEN, FindingStatus.KEPT):
        raise ValidationError(_("该疑点已处理或已不存在。"), code="finding_closed")
    return finding


def finding_remove(*, acting_user, finding: Finding, note: str = "") -> Finding:
    """The clerk confirms the finding: the payment leaves the payout (cancelled), with every finding on it."""
    with transaction.atomic():
        finding = _decidable(acting_user, finding)
        payment = finding.payment
        if payment is None or payment.status not in LIVE_PAYMENT_STATUSES:
            raise ValidationError(_("该疑点对应的发放明细已不在名册中。"), code="payment_gone")
        now = timezone.now()
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CANCELLED)
        settled = list(
            Finding.objects.filter(payment=payment, status__in=[FindingStatus.OPEN, FindingStatus.KEPT]).values_list(
                "rule", flat=True
            )
        )
        Finding.objects.filter(payment=payment, status__in=[FindingStatus.OPEN, FindingStatus.KEPT]).update(
            status=FindingStatus.REMOVED, reason=note.strip(), decided_by=acting_user, decided_at=now
        )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.FINDING_REMOVE,
            obj=finding,
            after={
                "payout": finding.payout.code,
                "payment_ref": payment_ref(finding.payout.code, payment.row),
                "roster_row": payment.row,
                "rules": sorted(settled),
                "amount": f"{payment.amount:.2f}",
                "note": note.strip()[:200],
            },
            department_id=finding.payout.department_id,
            region_code=finding.payout.region.code,
        )
    finding.refresh_from_db()
    return finding


def finding_keep(*, acting_user, finding: Finding, reason: str, attachment: tuple[str, bytes] | None = None) -> Finding:
    """The clerk verified the person and keeps the payment: a written reason, optionally a document."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("保留须填写核实情况和理由。"), code="reason_required")
    stored = ("", "")
    if attachment is not None:
        name, data = attachment
        storage.accept(data, empty_message=_("佐证材料文件为空。"))
        stored = (name[:200], storage.store(data)[0])
    with transaction.atomic():
        finding = _decidable(acting_user, finding)
        before = {"status": finding.status, "reason": finding.reason}
        Finding.objects.filter(pk=finding.pk).update(
            status=FindingStatus.KEPT,
            reason=reason,
            attachment_name=stored[0] or finding.attachment_name,
            attachment_file=stored[1] or finding.attachment_file,
            decided_by=acting_user,
            decided_at=timezone.now(),
        )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.FINDING_KEEP,
            obj=finding,
            before=before,
            after={
                "payout": finding.payout.code,
                "rule": finding.rule,
                "roster_row": finding.payment.row if finding.payment else None,
                "reason": reason[:500],
                "attachment": stored[0],
            },
            department_id=finding.payout.department_id,
            region_code=finding.payout.region.code,
        )
    finding.refresh_from_db()
    return finding
