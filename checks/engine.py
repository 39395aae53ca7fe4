"""Running the rules over one payout (job kind "checks.run", or in-process from `run_checks`).

The run copies the payout's live payments, joined to the registry, into a temporary table once, then runs each
enabled rule as one INSERT … SELECT … ON CONFLICT into the findings. Each rule is its own short transaction that
first locks the payout and checks that its roster is still the one the run started from: a roster replaced
mid-run makes the run void (the import that replaced it starts a new one) instead of mixing two rosters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from audit.enums import AuditAction
from audit.services import audit_record
from checks import rules as rule_sql
from checks.enums import FindingStatus, RunStatus, Severity, SourceKind
from checks.models import CheckRun, Finding, PolicyRule, ReferenceSource, Rule
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Payment, Payout
from disbursement.periods import overlapping_periods, period_months, period_range
from jobs.registry import JobError, job_handler
from org.models import Region
from policies.enums import Frequency, StandardKind
from policies.models import PolicyEntry
from recipients.enums import RosterStatus
from recipients.models import Recipient, Roster

FINDING = Finding._meta.db_table
_FREQUENCY_MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.YEARLY: 12}
LIVE_STATUSES = (PaymentStatus.DRAFT, PaymentStatus.CHECKED)


_VOID_MESSAGES = {
    "roster_replaced": _lazy("比对期间名册已更换，本次比对作废（新名册导入后会自动重新比对）。"),
    "payout_not_draft": _lazy("发放项目已提交，本次比对作废。"),
    "newer_run": _lazy("已有更新的比对，本次比对作废。"),
    "reference_replaced": _lazy("比对期间有比对数据更新，本次比对作废，请重新比对。"),
}


class RunVoid(Exception):
    """The payout changed under the run (a new roster, or it was submitted): stop without a verdict."""


@dataclass(frozen=True)
class RuleSetting:
    code: str
    name: str
    enabled: bool
    severity: str
    params: dict


def rule_settings(policy_id: int) -> list[RuleSetting]:
    """The rules in order, with this policy's overrides applied. Only rules the code knows can run."""
    overrides = {setting.rule_id: setting for setting in PolicyRule.objects.filter(policy_id=policy_id)}
    found = []
    for rule in Rule.objects.order_by("position", "code"):
        override = overrides.get(rule.pk)
        found.append(
            RuleSetting(
                code=rule.code,
                name=rule.name,
                enabled=override.enabled if override else rule.enabled,
                severity=override.severity if override else rule.severity,
                params={**rule.params, **(override.params if override else {})},
            )
        )
    return found


def current_roster(payout: Payout) -> Roster | None:
    return Roster.objects.filter(payout=payout, status=RosterStatus.IMPORTED).order_by("-pk").first()


def build_context(payout: Payout) -> tuple[rule_sql.Context, dict[str, int]]:
    entry: PolicyEntry = payout.policy_entry
    start, end = period_range(payout.period)
    code = payout.policy.code
    # Exclusion works both ways: this entry's list, and every entry of the same year that names this policy.
    exclusive_codes = set(entry.exclusive_with or ())
    for other_code, other_list in PolicyEntry.objects.filter(policy_list_id=entry.policy_list_id).values_list(
        "policy__code", "exclusive_with"
    ):
        if code in (other_list or ()):
            exclusive_codes.add(other_code)
    exclusive_codes.discard(code)
    exclusive = dict(
        PolicyEntry.objects.filter(policy_list_id=entry.policy_list_id, policy__code__in=exclusive_codes).values_list(
            "policy_id", "policy__code"
        )
    )
    loads, roll_loads, used = {}, {}, {}
    for source in ReferenceSource.objects.filter(current_load__isnull=False).select_related("policy"):
        if source.kind != SourceKind.ROLL:
            loads[source.kind] = source.current_load_id
            used[source.code] = source.current_load_id
        elif source.policy_id in exclusive:
            roll_loads[source.current_load_id] = (source.code, source.policy.code)
            used[source.code] = source.current_load_id
    ctx = rule_sql.Context(
        vendor=connection.vendor,
        payout_id=payout.pk,
        policy_id=payout.policy_id,
        policy_code=code,
        period=payout.period,
        start=start,
        end=end,
        overlapping=tuple(overlapping_periods(payout.period)),
        period_months=period_months(payout.period),
        region_code=payout.region.code,
        standard_amount=entry.standard_amount,
        per_unit=entry.standard_kind == StandardKind.PER_UNIT,
        frequency_months=_FREQUENCY_MONTHS.get(entry.frequency, 1),
        min_age=entry.min_age,
        max_age=entry.max_age,
        eligible_regions=tuple(entry.eligible_regions or ()),
        excludes_public_employees=entry.excludes_public_employees,
        exclusive_policies=exclusive,
        loads=loads,
        exclusive_roll_loads=roll_loads,
    )
    return ctx, used


def _subject_sql() -> str:
    payment, recipient, region = Payment._meta.db_table, Recipient._meta.db_table, Region._meta.db_table
    statuses = ", ".join(f"'{status}'" for status in LIVE_STATUSES)
    return f"""CREATE TEMP TABLE {rule_sql.SUBJECT} AS
        SELECT p.id AS payment_id, p.recipient_id AS recipient_id, r.id_hash AS id_hash, r.name AS name,
               r.birth_date AS birth_date, COALESCE(v.code, '') AS village_code, p.account_hash AS account_hash,
               p.account_masked AS account_masked, p.holder_name AS holder_name, p.amount AS amount,
               p.quantity AS quantity, p."row" AS row_no
          FROM {payment} p JOIN {recipient} r ON r.id = p.recipient_id LEFT JOIN {region} v ON v.id = r.village_id
         WHERE p.payout_id = %s AND p.status IN ({statuses})"""


def _set_work_mem() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # SET LOCAL takes no bind parameters; set_config(…, true) is its parameterised form.
            cursor.execute("SELECT set_config('work_mem', %s, true)", [f"{settings.CHECKS_WORK_MEM_MB}MB"])


def _drop_subject() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {rule_sql.SUBJECT}")


def _locked(run: CheckRun) -> Payout:
    """Lock the payout (the caller is in a transaction) and make sure the run still describes it."""
    payout = Payout.objects.select_for_update().get(pk=run.payout_id)
    if payout.status != PayoutStatus.DRAFT:
        raise RunVoid("payout_not_draft")
    roster = current_roster(payout)
    if (roster.pk if roster else None) != run.roster_id:
        raise RunVoid("roster_replaced")
    # Two runs of one payout never interleave their verdicts: a newer run makes this one void.
    if CheckRun.objects.filter(payout_id=run.payout_id, pk__gt=run.pk).exclude(status=RunStatus.FAILED).exists():
        raise RunVoid("newer_run")
    # The reference loads the run compares against must stay current while the rule reads them: a new load deletes
    # the old one's rows, and a household list read half-deleted would call everyone a ghost. FOR SHARE holds
    # back a load's activation (which locks the source row for update) until this rule's transaction ends.
    if run.loads:
        codes = sorted(run.loads)
        lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT code, current_load_id FROM {ReferenceSource._meta.db_table}"
                f" WHERE code IN ({', '.join(['%s'] * len(codes))}){lock}",
                codes,
            )
            current = dict(cursor.fetchall())
        if any(current.get(code) != load for code, load in run.loads.items()):
            raise RunVoid("reference_replaced")
    return payout


def _upsert(run: CheckRun, setting: RuleSetting, query: rule_sql.Query, now) -> int:
    sql = f"""
        INSERT INTO {FINDING} (payout_id, recipient_id, payment_id, rule, severity, evidence, run_id, first_found_at,
                               status, reason, attachment_name, attachment_file, decided_by_id, decided_at)
        SELECT %s, f.recipient_id, f.payment_id, %s, %s, f.evidence, %s, %s, 'open', '', '', '', NULL, NULL
          FROM ({query.sql}) f
         WHERE true
        ON CONFLICT (payout_id, recipient_id, rule) DO UPDATE
           SET payment_id = excluded.payment_id, severity = excluded.severity, evidence = excluded.evidence,
               run_id = excluded.run_id,
               status = CASE WHEN {FINDING}.status IN ('{FindingStatus.RESOLVED}', '{FindingStatus.REMOVED}')
                             THEN '{FindingStatus.OPEN}' ELSE {FINDING}.status END"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [run.payout_id, setting.code, setting.severity, run.pk, now, *query.params])
        return cursor.rowcount


def execute_run(run: CheckRun, progress=None) -> CheckRun:
    """Run every enabled rule over the run's payout. Safe to run again from the start."""
    with transaction.atomic():
        run = CheckRun.objects.select_for_update().get(pk=run.pk)
        payout = (
            Payout.objects.select_for_update(of=("self",))
            .select_related("policy", "policy_entry", "region")
            .get(pk=run.payout_id)
        )
        if payout.status != PayoutStatus.DRAFT:
            CheckRun.objects.filter(pk=run.pk).update(
                status=RunStatus.SUPERSEDED, error_code="payout_not_draft", finished_at=timezone.now()
            )
            raise JobError("payout_not_draft", _("发放项目已提交，不再比对。"))
        roster = current_roster(payout)
        ctx, used_loads = build_context(payout)
        configured = rule_settings(payout.policy_id)
        if not configured:
            # An empty rule table would let every payout through "checked": refuse rather than pass silently.
            CheckRun.objects.filter(pk=run.pk).update(
                status=RunStatus.FAILED, error_code="rules_missing", finished_at=timezone.now()
            )
            raise JobError("rules_missing", _("比对规则表为空，无法比对。请先安装比对规则（migrate）。"))
        _drop_subject()
        _set_work_mem()
        with connection.cursor() as cursor:
            cursor.execute(_subject_sql(), [payout.pk])
            cursor.execute(f"SELECT COUNT(*) FROM {rule_sql.SUBJECT}")
            (count,) = cursor.fetchone()
            if connection.vendor == "postgresql":
                cursor.execute(f"ANALYZE {rule_sql.SUBJECT}")
                # Last month's payments turned from batched to paid since autovacuum last looked (bank results
                # arrive in one UPDATE); planned on those stale statistics, account_changed took 155 s instead of
                # 4 s over 50,000 people (docs/benchmarks.md, issue 8). ANALYZE samples: well under a second.
                cursor.execute(f"ANALYZE {rule_sql.PAYMENT}")
        run.roster_id = roster.pk if roster else None
        run.status = RunStatus.RUNNING
        run.payments = count
        run.loads = used_loads
        run.rules_run = []
        run.save(update_fields=["roster", "status", "payments", "loads", "rules_run"])
    try:
        return _run_rules(run, ctx, configured, progress)
    except RunVoid as void:
        CheckRun.objects.filter(pk=run.pk).update(
            status=RunStatus.SUPERSEDED, error_code=str(void), finished_at=timezone.now()
        )
        raise JobError(str(void), str(_VOID_MESSAGES.get(str(void), _VOID_MESSAGES["roster_replaced"]))) from None
    except Exception:
        CheckRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, finished_at=timezone.now())
        raise
    finally:
        _drop_subject()


def _run_rules(run: CheckRun, ctx, configured: list[RuleSetting], progress) -> CheckRun:
    now = timezone.now()
    results = []
    for index, setting in enumerate(configured, start=1):
        entry = {"rule": setting.code, "name": setting.name, "severity": setting.severity}
        function = rule_sql.RULES.get(setting.code)
        if not setting.enabled:
            entry["skipped"] = "disabled"
        elif function is None:
            entry["skipped"] = "not_implemented"
        else:
            query = function(replace(ctx, params=setting.params))
            if isinstance(query, rule_sql.Skip):
                entry["skipped"] = query.reason
            else:
                began = time.perf_counter()
                with transaction.atomic():
                    _locked(run)
                    _set_work_mem()
                    entry["findings"] = _upsert(run, setting, query, now)
                entry["ms"] = round((time.perf_counter() - began) * 1000)
        results.append(entry)
        if progress:
            progress(index, len(configured))
    with transaction.atomic():
        payout = _locked(run)
        # What an earlier run found and this one did not is gone (a corrected roster, a newer source).
        resolved = (
            Finding.objects.filter(payout_id=run.payout_id, status=FindingStatus.OPEN)
            .exclude(run_id=run.pk)
            .update(status=FindingStatus.RESOLVED)
        )
        CheckRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now(), rules_run=results)
        run.refresh_from_db()
        open_blocking = Finding.objects.filter(
            payout_id=run.payout_id, status=FindingStatus.OPEN, severity=Severity.BLOCK
        ).count()
        audit_record(
            acting_user=run.started_by,
            action=AuditAction.CHECKS_FINISH,
            obj=run,
            after={
                "payout": payout.code,
                "payments": run.payments,
                "findings": {r["rule"]: r.get("findings", 0) for r in results if "skipped" not in r},
                "skipped": {r["rule"]: r["skipped"] for r in results if "skipped" in r},
                "resolved": resolved,
                "open_blocking": open_blocking,
                "loads": run.loads,
            },
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
    return run


@job_handler("checks.run")
def checks_run_job(*, job, progress) -> dict:
    run = CheckRun.objects.get(pk=job.params["run_id"])
    run = execute_run(run, progress)
    return {
        "run": run.pk,
        "payments": run.payments,
        "findings": sum(r.get("findings", 0) for r in run.rules_run),
    }


def run_checks(*, payout: Payout, acting_user) -> CheckRun:
    """Run the checks now, in this process (the command and the benchmark); returns the finished run."""
    from checks.services import checks_start

    run = checks_start(acting_user=acting_user, payout=payout, enqueue=False)
    return execute_run(run)
