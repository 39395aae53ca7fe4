"""Reference data (比对数据): a department hands in its list as a file for one source; finance keeps the sources.

`reference_upload` keeps the file and queues the `reference.import` job (checks.importing); nothing the rules read
changes until that job has checked every row and found none in error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.enums import SourceKind
from checks.models import ReferenceLoad, ReferenceSource
from jobs.services import job_enqueue
from recipients import storage

# What finance may change on a source; its code and kind are fixed (rules and scripts key on them).
EDITABLE_FIELDS = ("name", "department", "policy", "description")


def reference_upload(
    *, acting_user, source: ReferenceSource, as_of: dt.date, filename: str, data: bytes
) -> ReferenceLoad:
    """Keep the file (encrypted) and queue its import. The source's current data stays until the job ends clean."""
    if not acting_user.has_perm("checks.add_referenceload"):
        raise PermissionDenied(_("无权上传比对数据。"))
    if not ReferenceSource.objects.visible_to(acting_user).filter(pk=source.pk).exists():
        raise PermissionDenied(_("只能上传本部门提供的比对数据。"))
    if not isinstance(as_of, dt.date) or isinstance(as_of, dt.datetime):
        raise ValidationError(_("请填写数据截止日期。"), code="as_of_missing")
    if as_of > timezone.localdate():
        raise ValidationError(_("数据截止日期不能晚于今天。"), code="as_of_in_future")
    storage.accept(data)
    stored_name, sha256 = storage.store(data)
    with transaction.atomic():
        load = ReferenceLoad.objects.create(
            source=source,
            as_of=as_of,
            filename=filename[:200],
            size=len(data),
            sha256=sha256,
            stored_file=stored_name,
            uploaded_by=acting_user,
        )
        job = job_enqueue(
            acting_user=acting_user,
            kind="reference.import",
            params={"load_id": load.pk},
            target_type="checks.referenceload",
            target_id=str(load.pk),
            department_id=source.department_id,
        )
        ReferenceLoad.objects.filter(pk=load.pk).update(job=job)
        load.job = job
        audit_record(
            acting_user=acting_user,
            action=AuditAction.REFERENCE_UPLOAD,
            obj=load,
            after={
                "source": source.code,
                "as_of": as_of.isoformat(),
                "filename": filename[:200],
                "size": len(data),
                "sha256": sha256,
            },
            department_id=source.department_id,
        )
    return load


def reference_source_save(*, acting_user, source: ReferenceSource, **changes: Any) -> ReferenceSource:
    """Change a source's name, providing department, policy (rolls only) or description; audited before/after."""
    if not acting_user.has_perm("checks.change_referencesource"):
        raise PermissionDenied(_("无权修改比对数据源。"))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not editable on a reference source: {', '.join(sorted(unknown))}")
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise ValidationError(_("名称不能为空。"), code="name_missing")
    if "description" in changes:
        changes["description"] = changes["description"] or ""
    with transaction.atomic():
        locked = ReferenceSource.objects.select_for_update().get(pk=source.pk)
        if changes.get("policy") is not None and locked.kind != SourceKind.ROLL:
            raise ValidationError(_("只有“其他部门名单”类数据源可以对应补贴政策。"), code="policy_only_for_rolls")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for field, value in changes.items():
            old = getattr(locked, field)
            if old == value:
                continue
            before[field], after[field] = _shown(field, old), _shown(field, value)
            setattr(locked, field, value)
        if after:
            locked.save(update_fields=list(after))
            audit_record(
                acting_user=acting_user,
                action=AuditAction.REFERENCE_SOURCE_SAVE,
                obj=locked,
                before=before,
                after=after,
                department_id=locked.department_id,
            )
    for field in after:
        setattr(source, field, getattr(locked, field))
    return locked


def _shown(field: str, value: Any) -> Any:
    """A related row as its stable code in the trail, so the entry reads the same after renames."""
    if field in ("department", "policy"):
        return value.code if value is not None else None
    return value
