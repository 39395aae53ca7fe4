"""Roster uploads: a clerk hands in a file for their own payout; a job imports it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.enums import PayoutStatus
from disbursement.models import Payout
from jobs.services import job_enqueue
from recipients import storage
from recipients.models import Roster


def roster_upload(*, acting_user, payout: Payout, filename: str, data: bytes) -> Roster:
    """Keep the file (encrypted) and queue its import. Nothing of the payout changes until the job ends."""
    if not acting_user.has_perm("recipients.add_roster"):
        raise PermissionDenied(_("无权上传名册。"))
    if not Payout.objects.visible_to(acting_user).filter(pk=payout.pk).exists():
        raise PermissionDenied(_("只能为本部门的发放项目上传名册。"))
    if payout.status != PayoutStatus.DRAFT:
        raise ValidationError(_("发放项目已提交，不能再上传名册。"), code="payout_not_draft")
    storage.accept(data)
    stored_name, sha256 = storage.store(data)
    with transaction.atomic():
        roster = Roster.objects.create(
            payout=payout,
            department_id=payout.department_id,
            filename=filename[:200],
            size=len(data),
            sha256=sha256,
            stored_file=stored_name,
            uploaded_by=acting_user,
        )
        job = job_enqueue(
            acting_user=acting_user,
            kind="roster.import",
            params={"roster_id": roster.pk},
            target_type="recipients.roster",
            target_id=str(roster.pk),
            department_id=payout.department_id,
        )
        Roster.objects.filter(pk=roster.pk).update(job=job)
        roster.job = job
        audit_record(
            acting_user=acting_user,
            action=AuditAction.ROSTER_UPLOAD,
            obj=roster,
            after={"payout": payout.code, "filename": filename[:200], "size": len(data), "sha256": sha256},
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
    return roster
