"""The cross-check rules: each one SELECT over the whole payout, never a loop over rows.

A rule is a function registered under its stable code. It gets the run's `Context` and returns either a
`Query` — SQL yielding one row per flagged payment with the columns (payment_id, recipient_id, evidence) —
or a `Skip` saying why it cannot or need not run for this payout. The engine wraps every query in one
INSERT … ON CONFLICT into the findings table.

Every query reads `ck_subject`, the payout's live payments joined to the registry once per run (a temporary
table, analysed before the rules run). Evidence is a JSON object built in SQL; it names the source, the
record's row and the values compared, and never holds an ID number (reference rows keep only a hash).

To add a rule: write a function here with `@rule("code")`, and add a `checks.Rule` row with that code
(a data migration), so that it can be switched on and tuned per policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from checks.enums import HouseholdStatus, RuleCode, SourceKind
from checks.models import ReferenceRecord
from disbursement.enums import PaymentStatus
from disbursement.models import Payment, Payout
from policies.models import Policy

SUBJECT = "ck_subject"
RECORD = ReferenceRecord._meta.db_table
PAYMENT = Payment._meta.db_table
PAYOUT = Payout._meta.db_table
POLICY = Policy._meta.db_table
# Payments that no longer count for anything: they neither collide with nor share an account with others.
DEAD_STATUSES = (PaymentStatus.CANCELLED, PaymentStatus.STOPPED, PaymentStatus.REISSUED)
_DEAD = "(" + ", ".join(f"'{status}'" for status in DEAD_STATUSES) + ")"


@dataclass(frozen=True)
class Context:
    vendor: str  # "postgresql" or "sqlite"
    payout_id: int
    policy_id: int
    policy_code: str
    period: str
    start: dt.date
    end: dt.date
    overlapping: tuple[str, ...]
    period_months: int
    region_code: str
    # What the year's list entry says.
    standard_amount: Decimal
    per_unit: bool
    frequency_months: int
    min_age: int | None
    max_age: int | None
    eligible_regions: tuple[str, ...]
    excludes_public_employees: bool
    exclusive_policies: dict[int, str]  # policy id → code, both directions of every exclusion
    # Current load of each singular source kind, and of the rolls standing for an exclusive policy.
    loads: dict[str, int]
    exclusive_roll_loads: dict[int, tuple[str, str]]  # load id → (source code, code of the policy it stands for)
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    sql: str
    params: list


@dataclass(frozen=True)
class Skip:
    reason: str  # "source_not_loaded" | "not_applicable"


RuleFunction = Callable[[Context], Query | Skip]
RULES: dict[str, RuleFunction] = {}


def rule(code: str) -> Callable[[RuleFunction], RuleFunction]:
    def register(function: RuleFunction) -> RuleFunction:
        if code in RULES:
            raise ValueError(f"rule {code!r} is already registered")
        RULES[code] = function
        return function

    return register


def json_object(ctx: Context, **values: str) -> str:
    """A JSON object from SQL expressions, in the database's own dialect."""
    function = "jsonb_build_object" if ctx.vendor == "postgresql" else "json_object"
    pairs = ", ".join(f"'{key}', {expression}" for key, expression in values.items())
    return f"{function}({pairs})"


def _text(ctx: Context, expression: str) -> str:
    """Dates and amounts as text, the same on both databases."""
    return f"CAST({expression} AS TEXT)" if ctx.vendor == "sqlite" else f"({expression})::text"


def _in(values) -> tuple[str, list]:
    values = list(values)
    return "(" + ", ".join(["%s"] * len(values)) + ")", values


def _load(ctx: Context, kind: str) -> int | None:
    return ctx.loads.get(kind)


@rule(RuleCode.DECEASED)
def deceased(ctx: Context) -> Query | Skip:
    load = _load(ctx, SourceKind.DEATH)
    if load is None:
        return Skip("source_not_loaded")
    evidence = json_object(
        ctx, source="'death'", load=str(int(load)), row="MIN(d.row)", date_of_death=_text(ctx, "MIN(d.event_date)")
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s JOIN {RECORD} d ON d.load_id = %s AND d.id_hash = s.id_hash
             WHERE d.event_date <= %s
             GROUP BY s.payment_id, s.recipient_id""",
        [load, str(ctx.end)],
    )


@rule(RuleCode.NOT_REGISTERED)
def not_registered(ctx: Context) -> Query | Skip:
    load = _load(ctx, SourceKind.HOUSEHOLD)
    if load is None:
        return Skip("source_not_loaded")
    evidence = json_object(ctx, source="'household'", load=str(int(load)))
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s
             WHERE NOT EXISTS (SELECT 1 FROM {RECORD} h WHERE h.load_id = %s AND h.id_hash = s.id_hash)""",
        [load],
    )


@rule(RuleCode.NAME_MISMATCH)
def name_mismatch(ctx: Context) -> Query | Skip:
    load = _load(ctx, SourceKind.HOUSEHOLD)
    if load is None:
        return Skip("source_not_loaded")
    # Names are compared as the registry holds them; staff who see the finding see the person's name anyway.
    evidence = json_object(
        ctx, source="'household'", load=str(int(load)), row="MIN(h.row)", registered_name="MIN(h.name)", name="s.name"
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s JOIN {RECORD} h ON h.load_id = %s AND h.id_hash = s.id_hash
             WHERE h.name <> ''
             GROUP BY s.payment_id, s.recipient_id, s.name
            HAVING SUM(CASE WHEN h.name = s.name THEN 1 ELSE 0 END) = 0""",
        [load],
    )


@rule(RuleCode.REGISTRATION_INACTIVE)
def registration_inactive(ctx: Context) -> Query | Skip:
    load = _load(ctx, SourceKind.HOUSEHOLD)
    if load is None:
        return Skip("source_not_loaded")
    evidence = json_object(
        ctx,
        source="'household'",
        load=str(int(load)),
        row="MIN(h.row)",
        status="MIN(h.status)",
        division="MIN(h.division)",
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s JOIN {RECORD} h ON h.load_id = %s AND h.id_hash = s.id_hash
             WHERE h.status IN (%s, %s) OR (h.division <> '' AND h.division NOT LIKE %s)
             GROUP BY s.payment_id, s.recipient_id""",
        [load, HouseholdStatus.MOVED, HouseholdStatus.CANCELLED, ctx.region_code + "%"],
    )


@rule(RuleCode.PUBLIC_EMPLOYEE)
def public_employee(ctx: Context) -> Query | Skip:
    if not ctx.excludes_public_employees:
        return Skip("not_applicable")
    load = _load(ctx, SourceKind.PUBLIC_EMPLOYEE)
    if load is None:
        return Skip("source_not_loaded")
    evidence = json_object(
        ctx, source="'public_employee'", load=str(int(load)), row="MIN(e.row)", employer="MIN(e.detail)"
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s JOIN {RECORD} e ON e.load_id = %s AND e.id_hash = s.id_hash
             GROUP BY s.payment_id, s.recipient_id""",
        [load],
    )


@rule(RuleCode.EXCLUSIVE_POLICY)
def exclusive_policy(ctx: Context) -> Query | Skip:
    if not ctx.exclusive_policies:
        return Skip("not_applicable")
    policies, policy_params = _in(ctx.exclusive_policies)
    periods, period_params = _in(ctx.overlapping)
    # Another payout of an exclusive policy paying the same person for an overlapping period …
    parts = [
        f"""SELECT q.recipient_id AS recipient_id, CAST(pol.code AS TEXT) AS policy_code,
                   CAST('payout:' || po.code AS TEXT) AS found_in
              FROM {PAYMENT} q JOIN {POLICY} pol ON pol.id = q.policy_id JOIN {PAYOUT} po ON po.id = q.payout_id
             WHERE q.policy_id IN {policies} AND q.period IN {periods} AND q.status NOT IN {_DEAD}
               AND q.recipient_id IN (SELECT recipient_id FROM {SUBJECT})"""
    ]
    params = [*policy_params, *period_params]
    # … or the person standing on another department's roll for such a policy (e.g. the 低保 roll).
    for load, (source_code, policy_code) in sorted(ctx.exclusive_roll_loads.items()):
        parts.append(
            f"""SELECT s2.recipient_id AS recipient_id, CAST(%s AS TEXT) AS policy_code,
                       CAST(%s AS TEXT) || CAST(r.row AS TEXT) AS found_in
                  FROM {SUBJECT} s2 JOIN {RECORD} r ON r.load_id = %s AND r.id_hash = s2.id_hash
                 WHERE r.event_date IS NULL OR r.event_date <= %s"""
        )
        params += [policy_code, f"source:{source_code}#", load, str(ctx.end)]
    evidence = json_object(ctx, other_policy="MIN(x.policy_code)", found_in="MIN(x.found_in)")
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s JOIN ({" UNION ALL ".join(parts)}) x ON x.recipient_id = s.recipient_id
             GROUP BY s.payment_id, s.recipient_id""",
        params,
    )


@rule(RuleCode.ALREADY_PAID)
def already_paid(ctx: Context) -> Query | Skip:
    periods, period_params = _in(ctx.overlapping)
    evidence = json_object(
        ctx,
        other_payout="MIN(po.code)",
        row='MIN(q."row")',
        status="MIN(q.status)",
        period="MIN(q.period)",
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s
              JOIN {PAYMENT} q ON q.recipient_id = s.recipient_id AND q.policy_id = %s AND q.period IN {periods}
                              AND q.payout_id <> %s AND q.status NOT IN {_DEAD}
              JOIN {PAYOUT} po ON po.id = q.payout_id
             GROUP BY s.payment_id, s.recipient_id""",
        [ctx.policy_id, *period_params, ctx.payout_id],
    )


def allowed_amount(ctx: Context) -> Decimal:
    """A fixed standard is per frequency (元/人·月): a quarter of a monthly subsidy allows three times it."""
    return ctx.standard_amount * max(1, ctx.period_months // max(1, ctx.frequency_months))


@rule(RuleCode.OVER_STANDARD)
def over_standard(ctx: Context) -> Query | Skip:
    if ctx.per_unit:
        evidence = json_object(
            ctx,
            amount=_text(ctx, "s.amount"),
            standard=_text(ctx, "%s"),
            quantity=_text(ctx, "s.quantity"),
        )
        # Exact on PostgreSQL (numeric); on SQLite a float product, hence the sliver of tolerance.
        return Query(
            f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
                  FROM {SUBJECT} s
                 WHERE s.quantity IS NULL OR s.amount - %s * s.quantity > 0.0000001""",
            [str(ctx.standard_amount), ctx.standard_amount],
        )
    limit = allowed_amount(ctx)
    evidence = json_object(ctx, amount=_text(ctx, "s.amount"), allowed=_text(ctx, "%s"))
    return Query(
        f"SELECT s.payment_id, s.recipient_id, {evidence} AS evidence FROM {SUBJECT} s WHERE s.amount > %s",
        [str(limit), limit],
    )


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year - years, day=28)


@rule(RuleCode.NOT_ELIGIBLE)
def not_eligible(ctx: Context) -> Query | Skip:
    conditions, params, reasons = [], [], []
    if ctx.min_age is not None:
        # Younger than min_age on the last day of the period: born after that day min_age years earlier.
        conditions.append("s.birth_date > %s")
        reasons.append(("s.birth_date > %s", "too_young"))
        params.append(str(years_before(ctx.end, ctx.min_age)))
    if ctx.max_age is not None:
        # Older than max_age on the first day: had turned max_age + 1 by then.
        conditions.append("s.birth_date <= %s")
        reasons.append(("s.birth_date <= %s", "too_old"))
        params.append(str(years_before(ctx.start, ctx.max_age + 1)))
    if ctx.eligible_regions:
        likes = " OR ".join(["s.village_code LIKE %s"] * len(ctx.eligible_regions))
        conditions.append(f"(s.village_code <> '' AND NOT ({likes}))")
        params += [code + "%" for code in ctx.eligible_regions]
    if not conditions:
        return Skip("not_applicable")
    reason_sql = "CASE " + " ".join(f"WHEN {test} THEN '{name}'" for test, name in reasons) + " ELSE 'region' END"
    reason_params = params[: len(reasons)]
    evidence = json_object(
        ctx,
        reason=reason_sql,
        birth_year=f"SUBSTR({_text(ctx, 's.birth_date')}, 1, 4)",
        village="s.village_code",
    )
    return Query(
        f"SELECT s.payment_id, s.recipient_id, {evidence} AS evidence FROM {SUBJECT} s WHERE "
        + " OR ".join(conditions),
        [*reason_params, *params],
    )


@rule(RuleCode.SHARED_ACCOUNT)
def shared_account(ctx: Context) -> Query | Skip:
    people = max(2, int(ctx.params.get("min_people", 3)))
    periods, period_params = _in(ctx.overlapping)
    # N different people need at least N payments: a cheap hash count keeps only those accounts for the costly
    # COUNT(DISTINCT …) sort (1.7 s of 3 s at 10^6 payments before; docs/benchmarks.md).
    evidence = json_object(ctx, account="s.account_masked", people="g.people")
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s
              JOIN (SELECT q.account_hash, COUNT(DISTINCT q.recipient_id) AS people
                      FROM {PAYMENT} q
                     WHERE q.period IN {periods} AND q.status NOT IN {_DEAD}
                       AND q.account_hash IN (SELECT account_hash FROM {SUBJECT})
                       AND q.account_hash IN (SELECT c.account_hash FROM {PAYMENT} c
                                               WHERE c.period IN {periods} AND c.status NOT IN {_DEAD}
                                               GROUP BY c.account_hash HAVING COUNT(*) >= %s)
                     GROUP BY q.account_hash
                    HAVING COUNT(DISTINCT q.recipient_id) >= %s) g ON g.account_hash = s.account_hash""",
        [*period_params, *period_params, people, people],
    )


@rule(RuleCode.ACCOUNT_NAME_MISMATCH)
def account_name_mismatch(ctx: Context) -> Query | Skip:
    evidence = json_object(ctx, holder_name="s.holder_name", name="s.name", account="s.account_masked")
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s
             WHERE s.holder_name <> '' AND REPLACE(s.holder_name, ' ', '') <> REPLACE(s.name, ' ', '')""",
        [],
    )


@rule(RuleCode.ACCOUNT_CHANGED)
def account_changed(ctx: Context) -> Query | Skip:
    evidence = json_object(
        ctx,
        previous_account="l.account_masked",
        previous_payout="l.payout_code",
        previous_period="l.period",
        account="s.account_masked",
    )
    return Query(
        f"""SELECT s.payment_id, s.recipient_id, {evidence} AS evidence
              FROM {SUBJECT} s
              JOIN (SELECT q.recipient_id, q.account_hash, q.account_masked, q.period, po.code AS payout_code,
                           ROW_NUMBER() OVER (PARTITION BY q.recipient_id ORDER BY q.period DESC, q.id DESC) AS rn
                      FROM {PAYMENT} q JOIN {PAYOUT} po ON po.id = q.payout_id
                     WHERE q.policy_id = %s AND q.status = %s AND q.period < %s AND q.payout_id <> %s
                       AND q.recipient_id IN (SELECT recipient_id FROM {SUBJECT})) l
                ON l.recipient_id = s.recipient_id AND l.rn = 1
             WHERE l.account_hash <> s.account_hash""",
        [ctx.policy_id, PaymentStatus.PAID, ctx.period, ctx.payout_id],
    )
