"""Finance tuning the cross-checks: a rule's defaults, and how one policy departs from them. Every save is audited
(AuditAction.RULE_SAVE) with the values before and after."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from checks.enums import Severity
from checks.models import PolicyRule, Rule

# What may be tuned; the code and the query behind it come with the software.
RULE_FIELDS = ("enabled", "severity", "params", "description")


def _clean_severity(severity: str) -> str:
    if severity not in Severity.values:
        raise ValidationError(_("级别只能是“阻断”或“提示”。"), code="severity_unknown")
    return severity


def _clean_params(params) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise ValidationError(_('参数须为 JSON 对象，如 {"min_people": 3}。'), code="params_not_object")
    return params


def _snapshot(setting, fields) -> dict:
    return {name: getattr(setting, name) for name in fields}


def rule_save(*, acting_user, rule: Rule, **changes) -> Rule:
    """Change a rule's defaults (enabled, severity, params, description) for every policy without an override."""
    if not acting_user.has_perm("checks.change_rule"):
        raise PermissionDenied(_("无权修改比对规则。"))
    unknown = set(changes) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(
            _("不能修改：%(fields)s。") % {"fields": "、".join(sorted(unknown))}, code="field_not_editable"
        )
    if "severity" in changes:
        changes["severity"] = _clean_severity(changes["severity"])
    if "params" in changes:
        changes["params"] = _clean_params(changes["params"])
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        before = _snapshot(rule, changes)
        changed = {name: value for name, value in changes.items() if before[name] != value}
        if not changed:
            return rule
        Rule.objects.filter(pk=rule.pk).update(**changed)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.RULE_SAVE,
            obj=rule,
            before={name: before[name] for name in changed},
            after={"rule": rule.code, **changed},
        )
    rule.refresh_from_db()
    return rule


def policy_rule_save(*, acting_user, policy, rule: Rule, enabled: bool, severity: str, params: dict) -> PolicyRule:
    """Set how `policy` runs `rule` (creating the override if there is none yet)."""
    if not acting_user.has_perm("checks.change_policyrule"):
        raise PermissionDenied(_("无权修改政策的比对规则设置。"))
    values = {"enabled": bool(enabled), "severity": _clean_severity(severity), "params": _clean_params(params)}
    with transaction.atomic():
        setting = PolicyRule.objects.select_for_update().filter(policy=policy, rule=rule).first()
        before = _snapshot(setting, values) if setting else None
        if setting is None:
            setting = PolicyRule.objects.create(policy=policy, rule=rule, **values)
        elif before == values:
            return setting
        else:
            PolicyRule.objects.filter(pk=setting.pk).update(**values)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.RULE_SAVE,
            obj=setting,
            before=before,
            after={"policy": policy.code, "rule": rule.code, **values},
            department_id=policy.department_id,
        )
    setting.refresh_from_db()
    return setting


def policy_rule_remove(*, acting_user, setting: PolicyRule) -> None:
    """Drop a policy's override: the policy runs the rule with its defaults again."""
    if not acting_user.has_perm("checks.delete_policyrule"):
        raise PermissionDenied(_("无权删除政策的比对规则设置。"))
    with transaction.atomic():
        setting = PolicyRule.objects.select_for_update().select_related("policy", "rule").filter(pk=setting.pk).first()
        if setting is None:
            return
        audit_record(
            acting_user=acting_user,
            action=AuditAction.RULE_SAVE,
            obj=setting,
            before={"policy": setting.policy.code, "rule": setting.rule.code, **_snapshot(setting, RULE_FIELDS[:3])},
            after={"policy": setting.policy.code, "rule": setting.rule.code, "removed": True},
            department_id=setting.policy.department_id,
        )
        setting.delete()
