"""Reading check runs and findings: reports, summaries and what stands between a payout and submission."""

from __future__ import annotations

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from checks.enums import FindingStatus, RunStatus, Severity
from checks.models import CheckRun, Finding
from disbursement.models import Payout, payment_ref
from recipients.enums import RosterStatus
from recipients.models import Roster


def latest_run(payout: Payout) -> CheckRun | None:
    return CheckRun.objects.filter(payout=payout).order_by("-pk").first()


def latest_done_run(payout: Payout) -> CheckRun | None:
    return CheckRun.objects.filter(payout=payout, status=RunStatus.DONE).order_by("-pk").first()


def findings_report(payout: Payout, *, statuses=(FindingStatus.OPEN, FindingStatus.KEPT)) -> dict:
    """What `run_checks --json` prints: the last finished run's rules and the findings that stand."""
    run = latest_done_run(payout)
    findings = (
        Finding.objects.filter(payout=payout, status__in=statuses)
        .select_related("payment")
        .order_by("payment__row", "rule", "pk")
    )
    return {
        "payout": payout.code,
        "run": run.pk if run else None,
        "payments": run.payments if run else 0,
        "rules_run": [
            {key: entry[key] for key in ("rule", "severity", "findings", "skipped", "ms") if key in entry}
            for entry in (run.rules_run if run else [])
        ],
        "findings": [
            {
                "rule": finding.rule,
                "severity": finding.severity,
                "status": finding.status,
                "payment_ref": payment_ref(payout.code, finding.payment.row) if finding.payment else None,
                "roster_row": finding.payment.row if finding.payment else None,
                "evidence": finding.evidence,
            }
            for finding in findings
        ],
    }


def findings_summary(payout: Payout) -> list[dict]:
    """Per rule: how many findings are open, kept, removed, and whether they block."""
    rows = (
        Finding.objects.filter(payout=payout)
        .exclude(status=FindingStatus.RESOLVED)
        .values("rule", "severity")
        .annotate(
            open=Count("pk", filter=Q(status=FindingStatus.OPEN)),
            kept=Count("pk", filter=Q(status=FindingStatus.KEPT)),
            removed=Count("pk", filter=Q(status=FindingStatus.REMOVED)),
        )
        .order_by("rule")
    )
    return list(rows)


def submission_blockers(payout: Payout) -> list[tuple[str, str]]:
    """Why the payout cannot be submitted yet, as (code, message); empty when it can."""
    blockers = []
    roster = Roster.objects.filter(payout=payout, status=RosterStatus.IMPORTED).order_by("-pk").first()
    if roster is None:
        return [("roster_missing", _("尚未导入名册。"))]
    if Roster.objects.filter(
        payout=payout, pk__gt=roster.pk, status__in=[RosterStatus.UPLOADED, RosterStatus.IMPORTING]
    ).exists():
        blockers.append(("roster_importing", _("有新名册正在导入。")))
    latest = latest_run(payout)
    if latest is None or latest.status in (RunStatus.QUEUED, RunStatus.RUNNING):
        blockers.append(("checks_pending", _("数据比对尚未完成。")))
    elif latest.status != RunStatus.DONE or latest.roster_id != roster.pk:
        blockers.append(("checks_stale", _("名册导入后尚未完成数据比对，请重新比对。")))
    open_blocking = Finding.objects.filter(payout=payout, status=FindingStatus.OPEN, severity=Severity.BLOCK).count()
    if open_blocking:
        blockers.append(
            ("findings_open", _("还有 %(n)s 条阻断级疑点未处理（剔除或核实保留）。") % {"n": open_blocking})
        )
    return blockers
