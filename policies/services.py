"""Keeping the yearly policy list: drafting, proposals from departments, review and publication."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from org.enums import DEPARTMENT_ROLES, TOWNSHIP_ROLES
from policies.enums import ListStatus, ProposalKind, ProposalStatus
from policies.fields import ENTRY_FIELDS, entry_copy_values, entry_snapshot
from policies.models import Policy, PolicyEntry, PolicyList, PolicyProposal

_CODE = re.compile(r"[-a-zA-Z0-9_]{1,32}")


def _require(user, perm: str) -> None:
    if user is None or not user.has_perm(perm):
        raise PermissionDenied(_("无权执行此操作。"))


def _require_draft(policy_list: PolicyList) -> None:
    if policy_list.status != ListStatus.DRAFT:
        raise ValidationError(
            _("%(year)s 年清单不是草稿状态，不能修改。") % {"year": policy_list.year}, code="list_not_draft"
        )


def _lock_list(policy_list: PolicyList) -> PolicyList:
    return PolicyList.objects.select_for_update().get(pk=policy_list.pk)


def _changed(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


# --- The list ----------------------------------------------------------------------------------


def policy_list_start(*, acting_user, year: int, title: str = "") -> PolicyList:
    """Open next year's draft as a copy of the latest published list before it."""
    _require(acting_user, "policies.add_policylist")
    with transaction.atomic():
        if PolicyList.objects.filter(year=year).exists():
            raise ValidationError(_("%(year)s 年清单已存在。") % {"year": year}, code="list_exists")
        policy_list = PolicyList(year=year, title=title or _("%(year)s年惠民惠农财政补贴政策清单") % {"year": year})
        policy_list.full_clean()
        policy_list.save()
        previous = PolicyList.objects.filter(status=ListStatus.PUBLISHED, year__lt=year).order_by("-year").first()
        copied = 0
        if previous is not None:
            entries = [
                PolicyEntry(policy_list=policy_list, policy_id=entry.policy_id, **entry_copy_values(entry))
                for entry in previous.entries.all()
            ]
            copied = len(PolicyEntry.objects.bulk_create(entries))
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_LIST_START,
            obj=policy_list,
            after={"year": year, "copied_from": previous.year if previous else None, "entries": copied},
        )
    return policy_list


def policy_list_submit(*, acting_user, policy_list: PolicyList) -> PolicyList:
    _require(acting_user, "policies.change_policylist")
    with transaction.atomic():
        policy_list = _lock_list(policy_list)
        _require_draft(policy_list)
        if not policy_list.entries.exists():
            raise ValidationError(_("清单为空，不能提交。"), code="list_empty")
        policy_list.status = ListStatus.IN_REVIEW
        policy_list.submitted_by = acting_user
        policy_list.submitted_at = timezone.now()
        policy_list.return_reason = ""
        policy_list.save(update_fields=["status", "submitted_by", "submitted_at", "return_reason"])
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_LIST_SUBMIT,
            obj=policy_list,
            before={"status": ListStatus.DRAFT},
            after={"status": ListStatus.IN_REVIEW},
        )
    return policy_list


def policy_list_return(*, acting_user, policy_list: PolicyList, reason: str) -> PolicyList:
    _require(acting_user, "policies.publish_policylist")
    if not reason.strip():
        raise ValidationError(_("退回时必须说明原因。"), code="reason_required")
    with transaction.atomic():
        policy_list = _lock_list(policy_list)
        if policy_list.status != ListStatus.IN_REVIEW:
            raise ValidationError(_("只有待审核的清单可以退回。"), code="list_not_in_review")
        policy_list.status = ListStatus.DRAFT
        policy_list.return_reason = reason.strip()
        policy_list.save(update_fields=["status", "return_reason"])
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_LIST_RETURN,
            obj=policy_list,
            before={"status": ListStatus.IN_REVIEW},
            after={"status": ListStatus.DRAFT, "reason": reason},
        )
    return policy_list


def policy_list_publish(*, acting_user, policy_list: PolicyList) -> PolicyList:
    """Publish a reviewed list and freeze it: from here on the database refuses to change it."""
    _require(acting_user, "policies.publish_policylist")
    with transaction.atomic():
        policy_list = _lock_list(policy_list)
        if policy_list.status != ListStatus.IN_REVIEW:
            raise ValidationError(_("只有待审核的清单可以公布。"), code="list_not_in_review")
        if policy_list.submitted_by_id == acting_user.pk:
            raise ValidationError(_("提交人不能审核公布自己提交的清单。"), code="maker_checker")
        frozen = PolicyEntry.objects.filter(policy_list=policy_list).update(frozen=True)
        policy_list.status = ListStatus.PUBLISHED
        policy_list.published_by = acting_user
        policy_list.published_at = timezone.now()
        policy_list.save(update_fields=["status", "published_by", "published_at"])
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_LIST_PUBLISH,
            obj=policy_list,
            before={"status": ListStatus.IN_REVIEW},
            after={"status": ListStatus.PUBLISHED, "entries": frozen},
        )
    return policy_list


# --- Entries (finance edits the draft directly) ------------------------------------------------


def _validated_entry(entry: PolicyEntry) -> PolicyEntry:
    entry.full_clean(exclude=["policy_list", "policy"], validate_unique=False)
    return entry


def policy_entry_create(*, acting_user, policy_list: PolicyList, code: str, values: dict[str, Any]) -> PolicyEntry:
    _require(acting_user, "policies.add_policyentry")
    with transaction.atomic():
        policy_list = _lock_list(policy_list)
        _require_draft(policy_list)
        entry = _create_entry(policy_list=policy_list, code=code, values=values)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_ENTRY_CREATE,
            obj=entry,
            after={"code": code, **entry_snapshot(entry)},
            department_id=entry.department_id,
        )
    return entry


def _create_entry(*, policy_list: PolicyList, code: str, values: dict[str, Any]) -> PolicyEntry:
    if not _CODE.fullmatch(code or ""):
        raise ValidationError(_("政策编码只能由字母、数字、“-”和“_”组成（最多 32 位）。"), code="code_invalid")
    entry = _validated_entry(PolicyEntry(policy_list=policy_list, **values))
    policy = Policy.objects.filter(code=code).first()
    if policy is None:
        policy = Policy.objects.create(code=code, department_id=entry.department_id)
    elif policy.department_id != entry.department_id:
        raise ValidationError(_("政策编码 %(code)s 属于其他主管部门。") % {"code": code}, code="code_other_department")
    if PolicyEntry.objects.filter(policy_list=policy_list, policy=policy).exists():
        raise ValidationError(_("政策编码 %(code)s 在本年度清单中重复。") % {"code": code}, code="duplicate_code")
    entry.policy = policy
    entry.save()
    return entry


def policy_entry_update(*, acting_user, entry: PolicyEntry, values: dict[str, Any]) -> PolicyEntry:
    _require(acting_user, "policies.change_policyentry")
    with transaction.atomic():
        _require_draft(_lock_list(entry.policy_list))
        entry = _apply_values(entry=entry, values=values)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_ENTRY_UPDATE,
            obj=entry,
            before=entry._audit_before,
            after=entry._audit_after,
            department_id=entry.department_id,
        )
    return entry


def _apply_values(*, entry: PolicyEntry, values: dict[str, Any]) -> PolicyEntry:
    entry = PolicyEntry.objects.select_for_update().get(pk=entry.pk)
    before = entry_snapshot(entry)
    unknown = set(values) - set(ENTRY_FIELDS) - {"department_id"}
    if unknown:
        raise ValidationError(_("未知字段：%(names)s") % {"names": ", ".join(sorted(unknown))}, code="unknown_field")
    for name, value in values.items():
        setattr(entry, name, value)
    if entry.department_id != entry.policy.department_id:
        raise ValidationError(_("不能把政策转给其他主管部门；请退出后由新部门申报。"), code="department_change")
    _validated_entry(entry)
    entry.save()
    entry._audit_before, entry._audit_after = _changed(before, entry_snapshot(entry))
    return entry


def policy_entry_remove(*, acting_user, entry: PolicyEntry) -> None:
    _require(acting_user, "policies.delete_policyentry")
    with transaction.atomic():
        _require_draft(_lock_list(entry.policy_list))
        snapshot = {"code": entry.policy.code, **entry_snapshot(entry)}
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_ENTRY_REMOVE,
            obj=entry,
            before=snapshot,
            department_id=entry.department_id,
        )
        entry.delete()


# --- Proposals (departments ask, finance decides) ----------------------------------------------


def _require_own_department(user, department_id: int) -> None:
    if user.role not in DEPARTMENT_ROLES | TOWNSHIP_ROLES or user.department_id != department_id:
        raise PermissionDenied(_("只能申报本部门的政策。"))


def policy_proposal_create(
    *,
    acting_user,
    policy_list: PolicyList,
    kind: str,
    reason: str,
    policy: Policy | None = None,
    proposed_code: str = "",
    payload: dict[str, Any] | None = None,
) -> PolicyProposal:
    _require(acting_user, "policies.add_policyproposal")
    payload = payload or {}
    if not reason.strip():
        raise ValidationError(_("请说明申报理由。"), code="reason_required")
    if kind == ProposalKind.ADD:
        department_id = acting_user.department_id
        payload = {**payload, "department": acting_user.department.code}
        if not proposed_code:
            raise ValidationError(_("新增政策须填写政策编码。"), code="code_required")
    else:
        if policy is None:
            raise ValidationError(_("请选择要调整或退出的政策。"), code="policy_required")
        department_id = policy.department_id
    _require_own_department(acting_user, department_id)
    with transaction.atomic():
        policy_list = _lock_list(policy_list)
        _require_draft(policy_list)
        if kind == ProposalKind.ADD:
            _validated_entry(PolicyEntry(policy_list=policy_list, **_values_from_payload(payload)))
            if Policy.objects.filter(code=proposed_code).exists():
                raise ValidationError(_("政策编码 %(code)s 已存在。") % {"code": proposed_code}, code="duplicate_code")
        elif not PolicyEntry.objects.filter(policy_list=policy_list, policy=policy).exists():
            raise ValidationError(_("该政策不在本年度清单中。"), code="not_in_list")
        proposal = PolicyProposal.objects.create(
            policy_list=policy_list,
            department_id=department_id,
            kind=kind,
            policy=policy,
            proposed_code=proposed_code if kind == ProposalKind.ADD else "",
            payload=payload,
            reason=reason.strip(),
            proposed_by=acting_user,
        )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_PROPOSAL_CREATE,
            obj=proposal,
            after={"kind": kind, "code": proposed_code or policy.code, "payload": payload},
            department_id=department_id,
        )
    return proposal


def _values_from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Proposal payloads name the department by code, like the Excel list does."""
    from org.models import Department

    values = {key: value for key, value in payload.items() if key in ENTRY_FIELDS and key != "department"}
    if "department" in payload:
        department = Department.objects.filter(code=payload["department"]).first()
        if department is None:
            raise ValidationError(
                _("主管部门不存在：%(code)s") % {"code": payload["department"]}, code="department_unknown"
            )
        values["department_id"] = department.pk
    return values


def policy_proposal_decide(*, acting_user, proposal: PolicyProposal, approve: bool, note: str = "") -> PolicyProposal:
    _require(acting_user, "policies.change_policyproposal")
    if not approve and not note.strip():
        raise ValidationError(_("退回时必须说明原因。"), code="reason_required")
    with transaction.atomic():
        policy_list = _lock_list(proposal.policy_list)
        _require_draft(policy_list)
        status = ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        taken = PolicyProposal.objects.filter(pk=proposal.pk, status=ProposalStatus.PENDING).update(
            status=status, decided_by=acting_user, decided_at=timezone.now(), decision_note=note.strip()
        )
        if taken != 1:
            raise ValidationError(_("该申报已处理。"), code="proposal_decided")
        proposal.refresh_from_db()
        if approve:
            _apply_proposal(proposal)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.POLICY_PROPOSAL_APPROVE if approve else AuditAction.POLICY_PROPOSAL_REJECT,
            obj=proposal,
            before={"status": ProposalStatus.PENDING},
            after={"status": status, "note": note},
            department_id=proposal.department_id,
        )
    return proposal


def _apply_proposal(proposal: PolicyProposal) -> None:
    entry = PolicyEntry.objects.filter(policy_list=proposal.policy_list, policy=proposal.policy).first()
    if proposal.kind == ProposalKind.ADD:
        _create_entry(
            policy_list=proposal.policy_list, code=proposal.proposed_code, values=_values_from_payload(proposal.payload)
        )
    elif entry is None:
        raise ValidationError(_("该政策已不在本年度清单中。"), code="not_in_list")
    elif proposal.kind == ProposalKind.CHANGE:
        _apply_values(entry=entry, values=_values_from_payload(proposal.payload))
    else:
        entry.delete()
