"""A finding's evidence (the JSON a rule writes, see `checks.rules`) as one plain Chinese sentence for screens.

Pure: no queries, so lists of thousands of findings cost nothing extra. Missing keys read as "—" rather than
failing, because evidence written by an older version of a rule must still display.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import partial

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from checks.enums import HouseholdStatus, RuleCode, Severity
from disbursement.enums import PaymentStatus

MISSING = "—"


def _value(evidence: dict, key: str) -> str:
    value = evidence.get(key)
    return MISSING if value is None or value == "" else str(value)


def _money(value) -> str:
    """Amounts arrive as text from SQL ("300", "300.0", "300.00"): always two decimals."""
    try:
        return f"{Decimal(str(value)):.2f}"
    except (InvalidOperation, ValueError):
        return MISSING if value in (None, "") else str(value)


def _row(evidence: dict, source: str) -> str:
    """Where in the reference file: named, so it is never read as the roster's row."""
    row = evidence.get("row")
    return _("（%(source)s第 %(row)s 行）") % {"source": source, "row": row} if row not in (None, "") else ""


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return MISSING if value in (None, "") else str(value)


def _found_in(found_in: str) -> str:
    kind, _sep, where = (found_in or "").partition(":")
    if kind == "payout" and where:
        return _("见发放项目 %(code)s") % {"code": where}
    if kind == "source" and where:
        source, _hash, row = where.partition("#")
        if row:
            return _("见比对数据源 %(source)s 第 %(row)s 行") % {"source": source, "row": row}
        return _("见比对数据源 %(source)s") % {"source": source}
    return found_in or MISSING


def describe_evidence(rule: str, evidence: dict | None) -> str:
    """One sentence saying what the rule found, e.g. "于 2026-03-01 死亡或火化（死亡火化信息第 2 行）。"."""
    e = evidence if isinstance(evidence, dict) else {}
    v = partial(_value, e)
    if rule == RuleCode.DECEASED:
        return _("于 %(date)s 死亡或火化%(row)s。") % {"date": v("date_of_death"), "row": _row(e, _("死亡火化信息"))}
    if rule == RuleCode.NOT_REGISTERED:
        return _("户籍登记信息中没有这个身份证号。")
    if rule == RuleCode.NAME_MISMATCH:
        return _("户籍登记姓名为“%(registered)s”，名册姓名为“%(name)s”%(row)s。") % {
            "registered": v("registered_name"),
            "name": v("name"),
            "row": _row(e, _("户籍信息")),
        }
    if rule == RuleCode.REGISTRATION_INACTIVE:
        status = e.get("status")
        if status in (HouseholdStatus.MOVED, HouseholdStatus.CANCELLED):
            return _("户籍状态为“%(status)s”，户籍区划 %(division)s%(row)s。") % {
                "status": _label(HouseholdStatus, status),
                "division": v("division"),
                "row": _row(e, _("户籍信息")),
            }
        return _("户籍区划 %(division)s 不在本发放区域内%(row)s。") % {
            "division": v("division"),
            "row": _row(e, _("户籍信息")),
        }
    if rule == RuleCode.PUBLIC_EMPLOYEE:
        return _("在财政供养人员名单中，工作单位：%(employer)s%(row)s。") % {
            "employer": v("employer"),
            "row": _row(e, _("名单")),
        }
    if rule == RuleCode.EXCLUSIVE_POLICY:
        return _("同期享受互斥政策 %(policy)s，%(where)s。") % {
            "policy": v("other_policy"),
            "where": _found_in(e.get("found_in", "")),
        }
    if rule == RuleCode.ALREADY_PAID:
        return _("本政策 %(period)s 期已列入发放项目 %(payout)s 第 %(row)s 行（%(status)s）。") % {
            "period": v("period"),
            "payout": v("other_payout"),
            "row": v("row"),
            "status": _label(PaymentStatus, e.get("status")),
        }
    if rule == RuleCode.OVER_STANDARD:
        if "allowed" in e:
            return _("发放金额 %(amount)s 元，超过本期标准 %(allowed)s 元。") % {
                "amount": _money(e.get("amount")),
                "allowed": _money(e.get("allowed")),
            }
        if e.get("quantity") in (None, ""):
            return _("按数量计发，名册未填数量；发放金额 %(amount)s 元，标准每单位 %(standard)s 元。") % {
                "amount": _money(e.get("amount")),
                "standard": _money(e.get("standard")),
            }
        return _("发放金额 %(amount)s 元，超过标准每单位 %(standard)s 元 × 数量 %(quantity)s。") % {
            "amount": _money(e.get("amount")),
            "standard": _money(e.get("standard")),
            "quantity": v("quantity"),
        }
    if rule == RuleCode.NOT_ELIGIBLE:
        reason = e.get("reason")
        if reason == "too_young":
            return _("%(year)s 年出生，发放期间未达到政策规定的年龄。") % {"year": v("birth_year")}
        if reason == "too_old":
            return _("%(year)s 年出生，超过政策规定的年龄上限。") % {"year": v("birth_year")}
        return _("所在村（社区）%(village)s 不在政策适用区域内。") % {"village": v("village")}
    if rule == RuleCode.SHARED_ACCOUNT:
        return _("银行账户 %(account)s 本期共有 %(people)s 人领取补贴。") % {
            "account": v("account"),
            "people": v("people"),
        }
    if rule == RuleCode.ACCOUNT_NAME_MISMATCH:
        return _("账户 %(account)s 的户名为“%(holder)s”，与补贴对象姓名“%(name)s”不一致。") % {
            "account": v("account"),
            "holder": v("holder_name"),
            "name": v("name"),
        }
    if rule == RuleCode.ACCOUNT_CHANGED:
        return _("上次发放（%(payout)s，%(period)s 期）使用账户 %(previous)s，本次为 %(account)s。") % {
            "payout": v("previous_payout"),
            "period": v("previous_period"),
            "previous": v("previous_account"),
            "account": v("account"),
        }
    # A rule added later without a sentence here still shows what it recorded.
    return "；".join(f"{key}：{_value(e, key)}" for key in sorted(e)) or MISSING


SKIPPED = {
    "source_not_loaded": _lazy("比对数据未导入"),
    "not_applicable": _lazy("本政策不适用"),
    "disabled": _lazy("已停用"),
    "not_implemented": _lazy("本版本未实现"),
}


def rule_label(code: str) -> str:
    """A rule's Chinese name; a code this version does not know shows as itself."""
    return _label(RuleCode, code)


def skipped_label(reason: str) -> str:
    return str(SKIPPED.get(reason, reason))


def _rule_name(entry: dict) -> str:
    code = entry.get("rule", "")
    return rule_label(code) if code in RuleCode.values else entry.get("name") or code


def rules_run_rows(rules_run: list[dict]) -> list[dict]:
    """A run's `rules_run` for display: name, severity and either the findings count or why it was skipped."""
    return [
        {
            "rule": entry.get("rule", ""),
            "name": _rule_name(entry),
            "severity": entry.get("severity", ""),
            "severity_label": _label(Severity, entry.get("severity")),
            "findings": entry.get("findings"),
            "skipped": entry.get("skipped", ""),
            "skipped_label": skipped_label(entry["skipped"]) if entry.get("skipped") else "",
        }
        for entry in rules_run or []
    ]
