"""A county with known answers for the cross-checks (比对): a draft payout whose every payment is either clean or
planted to meet exactly one of the 12 rules, with the reference data and the other payouts the rules compare it with.

``build_check_county`` writes straight into the current database (COPY on PostgreSQL, executemany on SQLite) and
returns what it planted, so that a test or a benchmark can measure recall and precision. People come from
``bench.synth`` (the same seed gives the same county and the same people); nothing depends on the global
``random`` module or on ``hash()``.

What the county holds (Q4 = the main payout's period, a quarter of a monthly policy):

* ``MAIN`` (民政): 100 元/人·月, ages 18–90, every township but the last, not for public employees, exclusive with
  ``B``; ``C`` names ``MAIN`` as exclusive from its side; ``D`` (农业农村) excludes nothing.
* payouts: the draft ``MAIN`` Q4 one under check (``payments`` rows); ``MAIN`` paid in Q2 and Q3 and the previous
  year's Q4; ``MAIN`` for one month of Q4 (the 重发 cases); ``B`` for a month of Q4 and for Q3; ``C`` for the year;
  ``D`` for Q4 (a tenth of the people also get ``D``, and a tenth were paid ``MAIN`` in Q3 on the same account).
* reference loads, each its source's current one: household registration (every payee, filled up to
  ``registrations``), deaths, public employees, and three rolls of ``rolls`` records: 特困 (stands for ``B``), 低保
  (stands for ``D``) and 残疾人 (no policy) — the last two hold a tenth and a twentieth of the payees.
* near misses: clean payments built to come as close to a rule as its definition allows (died the day after the
  period, an account shared by two, a holder name with a space in it, turning 18 on the period's last day …).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from stdnum import luhn
from stdnum.cn import ric

from bench.synth import County, Person, capacity, iter_people, make_county

__all__ = ["NEAR_MISSES", "PLANTED_VARIANTS", "YEAR", "PlantedCounty", "build_check_county"]

YEAR = 2026
PERIOD = f"{YEAR}-Q4"
START, END = dt.date(YEAR, 10, 1), dt.date(YEAR, 12, 31)
MIN_AGE, MAX_AGE = 18, 90
STANDARD = Decimal("100.00")  # 元/人·月
FULL = f"{STANDARD * 3:.2f}"  # a quarter's worth: the most the payout may pay one person
ONE_FEN_OVER = f"{STANDARD * 3 + Decimal('0.01'):.2f}"
DOUBLE = f"{STANDARD * 6:.2f}"
MAIN, B, C, D = "CK-MZ-01", "CK-MZ-02", "CK-MZ-03", "CK-NY-01"
# Born after this day: younger than 18 on the period's last day. Born on or before this one: 91 on its first day.
YOUNGEST_BIRTH = END.replace(year=END.year - MIN_AGE)
OLDEST_BIRTH = START.replace(year=START.year - MAX_AGE - 1)

# How each rule is planted: `planted_per_rule` cases per rule, its variants taken in turn.
PLANTED_VARIANTS: dict[str, tuple[str, ...]] = {
    "deceased": ("died_in_period", "died_before_period"),
    "not_registered": ("no_household_record",),
    "name_mismatch": ("other_registered_name",),
    "registration_inactive": ("moved_out", "cancelled", "registered_in_other_county"),
    "public_employee": ("on_public_payroll",),
    "exclusive_policy": (
        "paid_exclusive_policy",
        "on_exclusive_roll",
        "on_exclusive_roll_undated",
        "reverse_exclusion",
    ),
    "already_paid": ("paid_for_a_month_of_it", "approved_for_a_month_of_it"),
    "over_standard": ("one_fen_over", "double"),
    "not_eligible": ("too_young", "too_old", "outside_regions", "turns_18_after_period", "turned_91_on_first_day"),
    # A case is one account: three payees of this payout on it, or two here and one in another payout.
    "shared_account": ("three_in_payout", "two_here_one_elsewhere"),
    "account_name_mismatch": ("spouse_account",),
    "account_changed": ("new_account_since_last_paid",),
}
# Clean payments one step short of a rule (the rule each stands next to is for the record only).
NEAR_MISSES: dict[str, str] = {
    "died_after_period": "deceased",
    "household_name_blank": "name_mismatch",
    "household_twice_one_name_matching": "name_mismatch",
    "household_division_blank": "registration_inactive",
    "exclusive_roll_joined_after_period": "exclusive_policy",
    "exclusive_policy_cancelled": "exclusive_policy",
    "exclusive_policy_other_quarter": "exclusive_policy",
    "non_exclusive_policy_same_quarter": "exclusive_policy",
    "same_policy_cancelled": "already_paid",
    "same_policy_stopped": "already_paid",
    "same_policy_reissued": "already_paid",
    "same_policy_previous_quarter": "already_paid",
    "same_policy_previous_year": "already_paid",
    "amount_below_standard": "over_standard",
    "turns_18_on_last_day": "not_eligible",
    "turns_91_day_after_start": "not_eligible",
    "village_unknown": "not_eligible",
    "account_shared_by_two": "shared_account",
    "third_sharer_cancelled": "shared_account",
    "third_sharer_other_quarter": "shared_account",
    "holder_name_with_space": "account_name_mismatch",
    "holder_name_blank": "account_name_mismatch",
    "account_changed_before_last_paid": "account_changed",
    "changed_account_payment_failed": "account_changed",
    "other_policy_other_account": "account_changed",
    "status_checked": "",
}
# Payments of the payout that are out of the checks' reach (cancelled, stopped), each with a fault a rule would see.
EXCLUDED = ("cancelled_over_standard", "stopped_spouse_account", "cancelled_deceased")

_SHARED_SIZES = {"three_in_payout": 3, "two_here_one_elsewhere": 2}
_SPOUSE_NAMES = "王秀英 李桂兰 张建国 刘淑珍 陈玉梅 杨国强 赵春花 周德明 吴凤英 孙志刚"
_EMPLOYERS = ("二七区教育局", "二七区人民医院", "二七区财政局", "侯寨街道办事处", "二七区第一中学", "二七区疾控中心")
_ROLL_CLASSES = ("一类", "二类", "三类")
_FILLER_NAMES = tuple(
    s + g for s in "王李张刘陈杨黄赵吴周徐孙马朱胡郭" for g in ("秀英", "建国", "桂兰", "志强", "玉梅")
)
_CHUNK = 50_000


@dataclasses.dataclass
class PlantedCounty:
    """What was built: ids to run the checks with, and the answer key (payment ids of the draft payout)."""

    seed: int
    county_code: str
    payout_id: int
    clerk_id: int
    period: str
    planted: dict[str, set[int]]  # rule code → payments planted to meet it (and no other rule)
    clean: set[int]  # every other payment the rules see; near misses included
    near_misses: dict[str, set[int]]  # kind → clean payments one step short of a rule
    excluded: set[int]  # payments of the payout the rules must not look at (cancelled, stopped)
    labels: dict[int, str]  # payment id → "rule:variant", "near:kind" or "excluded:kind", for messages
    id_numbers: list[str]  # full ID numbers of every person written (with real_hashes only)
    counts: dict[str, int]  # rows written, by what they are
    seconds: float


# ---------------------------------------------------------------------------------------------
# Writing rows in bulk
# ---------------------------------------------------------------------------------------------


class _Lane:
    """Where chunks of rows go, in order: the current connection (inside a transaction, and on SQLite), or — for
    a PostgreSQL build in autocommit mode (the benchmark) — a thread with its own connection, so that the server
    stores one chunk while Python makes the next."""

    def __init__(self, threaded: bool) -> None:
        self.threaded = threaded
        self.error: BaseException | None = None
        if threaded:
            self.queue: queue.Queue = queue.Queue(maxsize=3)
            self.db = connection.get_new_connection(connection.get_connection_params())
            self.db.autocommit = True
            self.thread = threading.Thread(target=self._work, daemon=True)
            self.thread.start()

    def _work(self) -> None:
        with self.db.cursor() as cursor:
            while (item := self.queue.get()) is not None:
                if self.error is None:
                    try:
                        cursor.copy_expert(*item)
                    except BaseException as error:  # handed to the builder's thread by put() and close()
                        self.error = error

    def put(self, sql: str, buffer: io.StringIO) -> None:
        if self.error is not None:
            raise self.error
        if self.threaded:
            self.queue.put((sql, buffer))
        else:
            with connection.cursor() as cursor:
                cursor.cursor.copy_expert(sql, buffer)

    def close(self, *, quietly: bool = False) -> None:
        if self.threaded and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
            self.db.close()
        if self.error is not None and not quietly:
            raise self.error


class _Bulk:
    """Rows of one table, written in chunks: COPY (text format) on PostgreSQL, executemany on SQLite.

    Values are str, None (NULL) or bytes (binary columns); the generated text never holds a tab, newline or
    backslash, so no COPY escaping is needed. Columns the builder does not name but the table requires get their
    model default (a field added later keeps the builder working).
    """

    def __init__(self, model, columns: tuple[str, ...], lane: _Lane, *, binary: tuple[str, ...] = ()) -> None:
        self.table = model._meta.db_table
        extra = [
            field
            for field in model._meta.concrete_fields
            if field.column not in columns and not field.null and field.has_default()
        ]
        values = [
            json.dumps(field.get_default())
            if field.get_internal_type() == "JSONField"
            else field.get_db_prep_save(field.get_default(), connection)
            for field in extra
        ]
        self.extra_values = tuple(values)
        self.extra_text = "".join("\t" + ("t" if v is True else "f" if v is False else str(v)) for v in values)
        self.names = ", ".join(f'"{name}"' for name in (*columns, *(field.column for field in extra)))
        self.columns = columns
        self.lane = lane
        self.binary = [columns.index(name) for name in binary]
        self.rows: list[tuple] = []
        self.count = 0

    def add(self, *values) -> None:
        self.rows.append(values)

    def flush(self) -> None:
        if not self.rows:
            return
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            write = buffer.write
            binary, extra = self.binary, self.extra_text + "\n"
            for row in self.rows:
                if binary:
                    row = list(row)
                    for i in binary:
                        row[i] = "\\\\x" + row[i].hex()
                write("\t".join(["\\N" if v is None else v for v in row]))
                write(extra)
            buffer.seek(0)
            self.lane.put(f"COPY {self.table} ({self.names}) FROM STDIN", buffer)
        else:
            marks = ", ".join(["%s"] * (len(self.columns) + len(self.extra_values)))
            rows = [row + self.extra_values for row in self.rows] if self.extra_values else self.rows
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {self.table} ({self.names}) VALUES ({marks})", rows)  # noqa: S608
        self.count += len(self.rows)
        self.rows = []


class _Tables:
    """The bulk writers. People and payments share one lane, parents first, so that every foreign key points at a
    row already stored; reference records (whose parents, the loads, exist already) have a lane of their own."""

    def __init__(self, now: str) -> None:
        from checks.models import ReferenceRecord
        from disbursement.models import Payment
        from recipients.models import Recipient

        threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
        self.lanes = (_Lane(threaded), _Lane(threaded))
        self.now = now
        self.recipients = _Bulk(
            Recipient,
            ("id", "id_hash", "id_cipher", "id_masked", "name", "sex", "birth_date", "birthplace_code", "village_id",
             "phone", "created_at", "updated_at"),
            self.lanes[0],
            binary=("id_cipher",),
        )  # fmt: skip
        self.payments = _Bulk(
            Payment,
            ("id", "payout_id", "policy_id", "period", "recipient_id", "roster_id", "row", "amount", "quantity",
             "account_hash", "account_cipher", "account_masked", "bank_name", "holder_name", "status", "created_at"),
            self.lanes[0],
            binary=("account_cipher",),
        )  # fmt: skip
        self.records = _Bulk(
            ReferenceRecord,
            ("load_id", "row", "id_hash", "id_masked", "name", "event_date", "division", "status", "detail"),
            self.lanes[1],
        )
        self.order = (self.recipients, self.payments, self.records)

    def maybe_flush(self) -> None:
        if any(len(bulk.rows) >= _CHUNK for bulk in self.order):
            for bulk in self.order:  # parents first
                bulk.flush()

    def finish(self) -> None:
        for bulk in self.order:
            bulk.flush()
        for lane in self.lanes:
            lane.close()

    def abandon(self) -> None:
        """Stop the writer threads after a failure elsewhere (whose error is the one worth seeing)."""
        for lane in self.lanes:
            lane.close(quietly=True)


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")  # noqa: S608
        return cursor.fetchone()[0] + 1


def _sync_sequence(table: str) -> None:
    """Explicit ids were written: move PostgreSQL's identity past them (SQLite's AUTOINCREMENT follows by itself)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT MAX(id) FROM {table}))",  # noqa: S608
            [table],
        )


# ---------------------------------------------------------------------------------------------
# People
# ---------------------------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class _Payee:
    rid: int
    person: Person
    id_hash: str
    id_masked: str
    village_code: str | None  # as registered in the platform; None: not known
    account: str
    account_hash: str


class _Hasher:
    """The registry's keyed hashes (real) or a cheap deterministic 64-hex stand-in (bench)."""

    def __init__(self, seed: int, real: bool) -> None:
        self.real = real
        if real:
            from yikatong import pii

            self._id = pii.keyed_hasher(purpose="id_number")
            self._account = pii.keyed_hasher(purpose="account")
            self._seal_id = pii.encrypter(purpose="id_number")
            self._seal_account = pii.encrypter(purpose="account")
        self._key = seed.to_bytes(8, "big", signed=True)

    def _stand_in(self, purpose: bytes, value: str) -> str:
        return hashlib.blake2b(value.encode(), digest_size=32, key=self._key, person=purpose).hexdigest()

    def id(self, number: str) -> str:
        return self._id(number) if self.real else self._stand_in(b"id_number", number)

    def account(self, number: str) -> str:
        return self._account(number) if self.real else self._stand_in(b"account", number)

    def filler(self, stream: int, i: int) -> str:
        """Someone on a reference list who is nobody in the registry (bench only)."""
        return self._stand_in(b"filler", f"{stream}:{i}")

    def seal_id(self, number: str) -> bytes:
        return self._seal_id(number) if self.real else b"synthetic"

    def seal_account(self, number: str) -> bytes:
        return self._seal_account(number) if self.real else b"synthetic"


class _People:
    """Draws the county's people in order: adults of the policy's ages for most roles, and the few too young or
    too old that `not_eligible` needs (the rest of those are skipped)."""

    def __init__(self, seed: int, county: County, *, young: int, old: int) -> None:
        self._stream = iter_people(seed, county, capacity() // 2, holder_mismatch_rate=0.0)
        self._eligible: deque[Person] = deque()
        self._young: deque[Person] = deque()
        self._old: deque[Person] = deque()
        self._want_young, self._want_old = young, old

    def _pull(self) -> None:
        person = next(self._stream)
        if person.birth_date > YOUNGEST_BIRTH:
            if self._want_young:
                self._young.append(person)
                self._want_young -= 1
        elif person.birth_date <= OLDEST_BIRTH:
            if self._want_old:
                self._old.append(person)
                self._want_old -= 1
        else:
            self._eligible.append(person)

    def _take(self, queue: deque[Person]) -> Person:
        while not queue:
            self._pull()
        return queue.popleft()

    def adult(self) -> Person:
        return self._take(self._eligible)

    def young(self) -> Person:
        return self._take(self._young)

    def old(self) -> Person:
        return self._take(self._old)


def _crafted(template: Person, birth: dt.date, k: int, county: County) -> Person:
    """A person born on a chosen day (the age boundaries). The ID carries a birthplace of another province, which
    `iter_people` never gives this county's people, so it cannot collide with theirs."""
    region = "420102" if county.code[:2] != "42" else "430102"
    body = f"{region}{birth:%Y%m%d}{100 + 2 * k + (template.sex == 'M'):03d}"
    return dataclasses.replace(template, id_number=body + ric.calc_check_digit(body + "0"), birth_date=birth)


def _other_account(k: int) -> str:
    """A card of a bank none of the county's people use (ICBC's BIN), so it is nobody else's account."""
    stem = f"621226{k:012d}"
    return stem + luhn.calc_check_digit(stem)


def _masked_id(number: str) -> str:
    return number[:6] + "********" + number[-4:]


# ---------------------------------------------------------------------------------------------
# The fixed part: divisions, department, policies, payouts, sources
# ---------------------------------------------------------------------------------------------


def _regions(county: County) -> dict[str, int]:
    from org.enums import RegionLevel
    from org.models import Region

    ids = dict(Region.objects.filter(code__startswith=county.code).values_list("code", "id"))

    def ensure(code: str, name: str, level: str, parent: str | None) -> None:
        if code not in ids:
            ids[code] = Region.objects.create(code=code, name=name, level=level, parent_id=ids.get(parent)).pk

    ensure(county.code, county.name, RegionLevel.COUNTY, None)
    for township in county.townships:
        ensure(township.code, township.name, RegionLevel.TOWNSHIP, county.code)
        for village in township.villages:
            ensure(village.code, village.name, RegionLevel.VILLAGE, township.code)
    return ids


def _actors():
    from org.enums import Role
    from org.models import Department, User

    civil, _ = Department.objects.get_or_create(code="mz", defaults={"name": "二七区民政局", "short_name": "民政"})
    farm, _ = Department.objects.get_or_create(
        code="nync", defaults={"name": "二七区农业农村工作委员会", "short_name": "农业农村"}
    )
    users = {}
    for username, role, department in (
        ("synth_finance", Role.FINANCE_ADMIN, None),
        ("synth_reviewer", Role.FINANCE_REVIEWER, None),
        ("synth_clerk", Role.DEPARTMENT_CLERK, civil),
    ):
        user, created = User.objects.get_or_create(
            username=username, defaults={"role": role, "department": department, "full_name": username}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        users[username] = user
    return civil, farm, users


def _policies(civil, farm, users, county: County) -> dict:
    """The published list of YEAR with the four policies (entries frozen, as publication leaves them)."""
    from policies.enums import ListStatus
    from policies.models import Policy, PolicyEntry, PolicyList

    if PolicyList.objects.filter(year=YEAR).exists():
        raise ValueError(f"the database already holds a {YEAR} policy list: build the check county into an empty one")
    now = timezone.now()
    policy_list = PolicyList.objects.create(
        year=YEAR,
        title=f"{county.name}{YEAR}年惠民惠农财政补贴政策清单",
        status=ListStatus.PUBLISHED,
        submitted_by=users["synth_finance"],
        submitted_at=now,
        published_by=users["synth_reviewer"],
        published_at=now,
    )
    regions = [t.code for t in county.townships[:-1]]
    specs = {
        MAIN: (civil, "城乡困难群众基本生活补贴", "fixed", f"{STANDARD:.2f}", "元/人·月", "monthly",
               {"min_age": MIN_AGE, "max_age": MAX_AGE, "eligible_regions": regions, "exclusive_with": [B],
                "excludes_public_employees": True}),
        B: (civil, "特困人员基本生活补助金", "fixed", "600.00", "元/人·月", "monthly", {}),
        C: (civil, "困难群众冬季取暖补贴", "fixed", "400.00", "元/人·年", "yearly", {"exclusive_with": [MAIN]}),
        D: (farm, "耕地地力保护补贴", "per_unit", "120.00", "元/亩", "yearly", {"quantity_unit": "亩"}),
    }  # fmt: skip
    found = {}
    for code, (department, name, kind, amount, unit, frequency, extra) in specs.items():
        policy = Policy.objects.create(code=code, department=department)
        entry = PolicyEntry.objects.create(
            policy_list=policy_list, policy=policy, frozen=True, name=name, department=department, level="county",
            target_group=name, basis_title=f"关于{name}的通知", standard_kind=kind, standard_amount=Decimal(amount),
            standard_unit=unit, frequency=frequency, **extra,
        )  # fmt: skip
        found[code] = (policy, entry)
    return found


def _payouts(policies: dict, county_id: int, users) -> dict[str, tuple]:
    """Every payout, each with its one imported roster: {label: (payout, roster)}."""
    from disbursement.enums import PayoutStatus
    from disbursement.models import Payout
    from recipients.enums import RosterStatus
    from recipients.models import Roster

    clerk = users["synth_clerk"]
    made = {}
    for label, code, period, status in (
        ("main", MAIN, PERIOD, PayoutStatus.DRAFT),
        ("main_q3", MAIN, f"{YEAR}-Q3", PayoutStatus.SUBMITTED),
        ("main_q2", MAIN, f"{YEAR}-Q2", PayoutStatus.SUBMITTED),
        ("main_last_year", MAIN, f"{YEAR - 1}-Q4", PayoutStatus.SUBMITTED),
        ("main_month", MAIN, f"{YEAR}-11", PayoutStatus.SUBMITTED),
        ("b_month", B, f"{YEAR}-10", PayoutStatus.SUBMITTED),
        ("b_q3", B, f"{YEAR}-Q3", PayoutStatus.SUBMITTED),
        ("c_year", C, f"{YEAR}", PayoutStatus.SUBMITTED),
        ("d_q4", D, PERIOD, PayoutStatus.SUBMITTED),
    ):
        policy, entry = policies[code]
        payout = Payout.objects.create(
            code=f"{code}-{period}", policy=policy, policy_entry=entry, period=period, region_id=county_id,
            department=policy.department, title=f"{entry.name} {period}", budget_document="二七财预〔2026〕1号",
            budget_amount=Decimal("100000000.00"), status=status, created_by=clerk,
        )  # fmt: skip
        roster = Roster.objects.create(
            payout=payout, department=policy.department, filename=f"{payout.code}.xlsx", size=1, sha256="0" * 64,
            stored_file="synthetic", status=RosterStatus.IMPORTED, uploaded_by=clerk,
        )  # fmt: skip
        made[label] = (payout, roster)
    return made


def _ensure_rules_and_sources() -> None:
    """The rules and sources a migration installs; a test database flushed by an earlier test may have lost them."""
    from checks.defaults import install

    install()


def _loads(policies: dict, clerk) -> dict[str, int]:
    """A fresh active load for each source used, made its current one; the rolls stand for B and D."""
    from checks.enums import LoadStatus
    from checks.models import ReferenceLoad, ReferenceSource

    _ensure_rules_and_sources()
    links = {"tekun": policies[B][0], "dibao": policies[D][0], "disabled": None}
    loads = {}
    for code in ("household", "death", "public_employee", "tekun", "dibao", "disabled"):
        source = ReferenceSource.objects.get(code=code)
        load = ReferenceLoad.objects.create(
            source=source, as_of=dt.date(YEAR, 12, 20), filename=f"{code}.xlsx", size=1, sha256="0" * 64,
            stored_file="synthetic", status=LoadStatus.ACTIVE, uploaded_by=clerk,
        )  # fmt: skip
        changes = {"current_load": load}
        if code in links:
            changes["policy"] = links[code]
        ReferenceSource.objects.filter(pk=source.pk).update(**changes)
        loads[code] = load.pk
    return loads


# ---------------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------------


# How a case is laid out in the payout under check.
_SPECIAL_ROWS = {"account_shared_by_two": 2, "third_sharer_cancelled": 2, "third_sharer_other_quarter": 2}


def _cases(planted_per_rule: int) -> list[tuple[str, str]]:
    """The payout's special rows, as (kind, what): ("planted", "rule:variant"), ("near", kind), ("excluded", kind)."""
    cases = [
        ("planted", f"{code}:{variants[k % len(variants)]}")
        for code, variants in PLANTED_VARIANTS.items()
        for k in range(planted_per_rule)
    ]
    cases += [("near", kind) for kind in NEAR_MISSES for _ in range(max(2, planted_per_rule // 2))]
    return cases + [("excluded", kind) for kind in EXCLUDED]


def _rows_taken(case: tuple[str, str]) -> int:
    """Payments of the payout under check that one case writes."""
    kind, what = case
    if kind == "planted" and what.startswith("shared_account:"):
        return _SHARED_SIZES[what.split(":")[1]]
    return _SPECIAL_ROWS.get(what, 1) if kind == "near" else 1


def _changed_name(name: str) -> str:
    """Another name with the same surname (the household register's spelling of someone else)."""
    return name[0] + ("建设" if name[1:] != "建设" else "国庆")


def _other_name(name: str) -> str:
    return next(n for n in _SPOUSE_NAMES.split() if n != name)


def build_check_county(
    *,
    seed: int = 1,
    payments: int = 2_000,
    registrations: int = 2_400,
    deaths: int = 200,
    public_employees: int = 200,
    rolls: int = 300,
    planted_per_rule: int = 5,
    real_hashes: bool = True,
) -> PlantedCounty:
    """Write the check county for ``seed`` into the current database and return its answer key.

    ``payments`` is the size of the draft payout under check. ``registrations``, ``deaths``, ``public_employees``
    and ``rolls`` are the sizes of the reference loads (each of the three rolls has ``rolls`` records); a load is
    never smaller than what the payout needs (every payee but the unregistered ones has a household record).
    ``real_hashes``: the registry's keyed hashes, real encryption and real people on every list (tests); otherwise
    cheap stand-ins (the benchmark). Outside a transaction on PostgreSQL, two threads with their own connections
    do the COPYs while this one makes the rows; inside one (a test), everything goes through this connection.
    """
    began = time.perf_counter()
    if planted_per_rule < 1:
        raise ValueError("planted_per_rule must be at least 1")
    cases = _cases(planted_per_rule)
    rows_needed = sum(_rows_taken(case) for case in cases)
    if payments < rows_needed * 2:
        raise ValueError(f"payments must be at least {rows_needed * 2} for {planted_per_rule} planted per rule")

    county = make_county(seed)
    region_ids = _regions(county)
    civil, farm, users = _actors()
    policies = _policies(civil, farm, users, county)
    payouts = _payouts(policies, region_ids[county.code], users)
    loads = _loads(policies, users["synth_clerk"])
    sizes = {
        "household": registrations,
        "death": deaths,
        "public_employee": public_employees,
        "tekun": rolls,
        "dibao": rolls,
        "disabled": rolls,
    }
    build = _Build(seed, county, region_ids, payouts, loads, real_hashes=real_hashes)
    try:
        build.write(cases, payments=payments, rows_needed=rows_needed, sizes=sizes)
    except BaseException:
        build.tables.abandon()
        raise

    from checks.models import ReferenceRecord
    from disbursement.models import Payment
    from recipients.models import Recipient

    _sync_sequence(Recipient._meta.db_table)
    _sync_sequence(Payment._meta.db_table)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (Recipient, Payment, ReferenceRecord):
                cursor.execute(f"ANALYZE {model._meta.db_table}")

    counts = {"recipients": build.tables.recipients.count, "payments": build.tables.payments.count}
    counts["payments_main"] = build.row
    counts.update({f"records_{source}": n for source, n in build.record_rows.items()})
    return PlantedCounty(
        seed=seed,
        county_code=county.code,
        payout_id=payouts["main"][0].pk,
        clerk_id=users["synth_clerk"].pk,
        period=PERIOD,
        planted=build.planted,
        clean=set(build.clean) | {pid for pids in build.near.values() for pid in pids},
        near_misses=build.near,
        excluded=build.excluded,
        labels=build.labels,
        id_numbers=build.id_numbers,
        counts=counts,
        seconds=time.perf_counter() - began,
    )


class _Build:
    """The rows of one check county, person by person: each writes its registry entry, its payments and the
    reference records that make it clean, planted or a near miss."""

    def __init__(self, seed: int, county: County, region_ids, payouts, loads, *, real_hashes: bool) -> None:
        self.seed, self.county, self.region_ids, self.payouts, self.loads = seed, county, region_ids, payouts, loads
        self.real_hashes = real_hashes
        self.tables = _Tables(str(connection.ops.adapt_datetimefield_value(timezone.now())))
        self.hasher = _Hasher(seed, real_hashes)
        self.rng = random.Random(seed * 1_000_003 + 12)  # placement of the special rows, their small choices
        self.clean_seed = seed * 1_000_003 + 13  # the clean rows' own stream, counted ahead (see `write`)
        self.clean_rng = random.Random(self.clean_seed)
        self.excluded_township = county.townships[-1].code
        self.eligible_villages = [v.code for t in county.townships[:-1] for v in t.villages]
        self.outside_villages = [v.code for v in county.townships[-1].villages]
        self.people: _People

        from disbursement.models import Payment
        from recipients.models import Recipient

        self.next_rid = _next_id(Recipient._meta.db_table)
        self.next_pid = _next_id(Payment._meta.db_table)
        self.record_rows = dict.fromkeys(loads, 0)
        self.other_rows = dict.fromkeys(payouts, 0)
        self.row = 0  # rows of the payout under check
        self.crafted = 0
        self.extra_accounts = iter(range(10**6, 10**12))
        self.id_numbers: list[str] = []
        self.planted: dict[str, set[int]] = {code: set() for code in PLANTED_VARIANTS}
        self.near: dict[str, set[int]] = {kind: set() for kind in NEAR_MISSES}
        self.excluded: set[int] = set()
        self.labels: dict[int, str] = {}
        self.clean: list[int] = []

    # --- the payout's rows, with reference records of people in no payout alongside ------------------------

    def write(self, cases: list[tuple[str, str]], *, payments: int, rows_needed: int, sizes: dict[str, int]) -> None:
        planted = [what.split(":")[1] for kind, what in cases if kind == "planted"]
        self.people = _People(self.seed, self.county, young=planted.count("too_young"), old=planted.count("too_old"))
        self.rng.shuffle(cases)
        # A shared account takes two or three rows: fewer slots than rows.
        slots = payments - (rows_needed - len(cases))
        at = dict(zip(sorted(self.rng.sample(range(slots), len(cases))), cases, strict=True))

        # Fillers (people on a list but in no payout) go out alongside the payout's rows, so that both writer lanes
        # stay busy, up to a number sure not to overshoot the wanted size; what is missing once the payout's
        # people are in is topped up at the end. The clean rows' roll draws are counted ahead for that.
        dry = random.Random(self.clean_seed)
        roll_draws = [_clean_draws(dry)[3] for _ in range(slots - len(cases))]
        twice = sum(what == "household_twice_one_name_matching" for _kind, what in cases)
        early = {
            "household": sizes["household"] - payments - twice,
            "death": sizes["death"] - len(cases),
            "public_employee": sizes["public_employee"] - len(cases),
            "tekun": sizes["tekun"] - len(cases),
            "dibao": sizes["dibao"] - sum(1 for d in roll_draws if d < 0.1),
            "disabled": sizes["disabled"] - sum(1 for d in roll_draws if 0.1 <= d < 0.15),
        }
        del roll_draws
        fillers = _Fillers(self, list(sizes))

        for position in range(slots):
            case = at.get(position)
            if case is None:
                self.clean_row()
            elif case[0] == "planted":
                self.plant(*case[1].split(":"))
            elif case[0] == "near":
                self.near_miss(case[1])
            else:
                self.excluded_row(case[1])
            if position % 1000 == 999 or position == slots - 1:
                for source, budget in early.items():
                    fillers.upto(source, max(0, budget) * (position + 1) // slots)
                self.tables.maybe_flush()
        if self.row != payments:
            raise AssertionError(f"wrote {self.row} payments instead of {payments}")
        for source, size in sizes.items():
            fillers.upto(source, fillers.made[source] + max(0, size - self.record_rows[source]))
            self.tables.maybe_flush()
        self.tables.finish()

    # --- writing one person, their payments and records ---------------------------------------------------

    def payee(self, person: Person, *, village: str | None = "home") -> _Payee:
        """Register a person; "home" is where they live, moved into the policy's townships when outside them."""
        if village == "home":
            village = person.village_code
            if village.startswith(self.excluded_township):
                village = self.eligible_villages[int(person.id_number[14:17]) % len(self.eligible_villages)]
        rid, self.next_rid = self.next_rid, self.next_rid + 1
        number, hasher, now = person.id_number, self.hasher, self.tables.now
        p = _Payee(rid, person, hasher.id(number), _masked_id(number), village, person.account,
                   hasher.account(person.account))  # fmt: skip
        self.tables.recipients.add(
            str(rid), p.id_hash, hasher.seal_id(number), p.id_masked, person.name, person.sex,
            person.birth_date.isoformat(), number[:6], None if village is None else str(self.region_ids[village]),
            person.phone, now, now,
        )  # fmt: skip
        if self.real_hashes:
            self.id_numbers.append(number)
        return p

    def pay(self, p: _Payee, label: str, *, row: int, amount: str = FULL, status: str = "draft",
            account: str | None = None, holder: str | None = None, quantity: str | None = None) -> int:  # fmt: skip
        payout, roster = self.payouts[label]
        pid, self.next_pid = self.next_pid, self.next_pid + 1
        number = account or p.account
        account_hash = p.account_hash if account is None else self.hasher.account(number)
        self.tables.payments.add(
            str(pid), str(payout.pk), str(payout.policy_id), payout.period, str(p.rid), str(roster.pk), str(row),
            amount, quantity, account_hash, self.hasher.seal_account(number), "****" + number[-4:], "合作银行",
            p.person.name if holder is None else holder, status, self.tables.now,
        )  # fmt: skip
        return pid

    def main_row(self, p: _Payee, **kwargs) -> int:
        self.row += 1
        return self.pay(p, "main", row=self.row, **kwargs)

    def pay_elsewhere(self, p: _Payee, label: str, **kwargs) -> int:
        self.other_rows[label] += 1
        return self.pay(p, label, row=self.other_rows[label], **kwargs)

    def record(self, source: str, id_hash: str, id_masked: str, *, name: str = "", event: dt.date | None = None,
               division: str = "", status: str = "", detail: str = "") -> None:  # fmt: skip
        self.record_rows[source] += 1
        self.tables.records.add(
            str(self.loads[source]), str(self.record_rows[source]), id_hash, id_masked, name,
            None if event is None else event.isoformat(), division, status, detail,
        )  # fmt: skip

    def on_list(self, source: str, p: _Payee, **kwargs) -> None:
        self.record(source, p.id_hash, p.id_masked, **{"name": p.person.name, **kwargs})

    def household(self, p: _Payee, **kwargs) -> None:
        values = {"division": p.village_code or p.person.village_code, "status": "active", **kwargs}
        self.on_list("household", p, **values)

    def new_account(self) -> str:
        return _other_account(next(self.extra_accounts))

    def born_on(self, birth: dt.date) -> Person:
        self.crafted += 1
        return _crafted(self.people.adult(), birth, self.crafted, self.county)

    # --- the kinds of row ---------------------------------------------------------------------------------

    def clean_row(self) -> None:
        p = self.payee(self.people.adult())
        self.household(p)
        amount_draw, checked_draw, other_draw, roll_draw = _clean_draws(self.clean_rng)
        amount = FULL if amount_draw < 0.9 else ("100.00" if amount_draw < 0.95 else "200.00")
        self.clean.append(self.main_row(p, amount=amount, status="checked" if checked_draw < 0.05 else "draft"))
        if other_draw < 0.1:  # paid last quarter on the same account
            self.pay_elsewhere(p, "main_q3", status="paid")
        elif other_draw < 0.2:  # also gets the farmland subsidy, on the same account
            self.pay_elsewhere(p, "d_q4", amount="480.00", quantity="4.00", status="approved")
        if roll_draw < 0.1:
            self.on_list("dibao", p, event=dt.date(YEAR - 2, 3, 1), detail="低保")
        elif roll_draw < 0.15:
            self.on_list("disabled", p, detail="肢体二级")

    def plant(self, code: str, variant: str) -> None:
        """One case meeting rule `code` and no other: clean in everything but the one fault."""
        if code == "shared_account":
            account = self.new_account()
            for _ in range(_SHARED_SIZES[variant]):
                member = self.payee(self.people.adult())
                self.household(member)
                self._planted(code, variant, self.main_row(member, account=account))
            if variant == "two_here_one_elsewhere":
                third = self.payee(self.people.adult())
                self.pay_elsewhere(third, "d_q4", amount="360.00", quantity="3.00", status="approved", account=account)
            return
        if variant == "too_young":
            person = self.people.young()
        elif variant == "too_old":
            person = self.people.old()
        elif variant == "turns_18_after_period":
            person = self.born_on(YOUNGEST_BIRTH + dt.timedelta(days=1))
        elif variant == "turned_91_on_first_day":
            person = self.born_on(OLDEST_BIRTH)
        else:
            person = self.people.adult()
        p = self.payee(
            person, village=self.rng.choice(self.outside_villages) if variant == "outside_regions" else "home"
        )
        amount = {"one_fen_over": ONE_FEN_OVER, "double": DOUBLE}.get(variant, FULL)
        holder = _other_name(person.name) if variant == "spouse_account" else None
        self._planted(code, variant, self.main_row(p, amount=amount, holder=holder))

        if variant == "other_registered_name":
            self.household(p, name=_changed_name(person.name))
        elif variant in ("moved_out", "cancelled"):
            self.household(p, status="moved" if variant == "moved_out" else "cancelled")
        elif variant == "registered_in_other_county":
            self.household(p, division="410104001001" if self.county.code != "410104" else "410105001001")
        elif variant != "no_household_record":
            self.household(p)

        if variant == "died_in_period":
            self.on_list("death", p, event=dt.date(YEAR, 11, 17))
        elif variant == "died_before_period":
            self.on_list("death", p, event=dt.date(YEAR, 3, 2))
        elif variant == "on_public_payroll":
            self.on_list("public_employee", p, detail=self.rng.choice(_EMPLOYERS))
        elif variant == "on_exclusive_roll":
            self.on_list("tekun", p, event=dt.date(YEAR - 1, 6, 1), detail="特困")
        elif variant == "on_exclusive_roll_undated":
            self.on_list("tekun", p, detail="特困")
        elif variant == "paid_exclusive_policy":
            self.pay_elsewhere(p, "b_month", amount="600.00", status="paid")
        elif variant == "reverse_exclusion":
            self.pay_elsewhere(p, "c_year", amount="400.00", status="approved")
        elif variant in ("paid_for_a_month_of_it", "approved_for_a_month_of_it"):
            self.pay_elsewhere(p, "main_month", amount="100.00", status=variant.split("_")[0])
        elif variant == "new_account_since_last_paid":
            self.pay_elsewhere(p, "main_q3", status="paid", account=self.new_account())

    def _planted(self, code: str, variant: str, pid: int) -> None:
        self.planted[code].add(pid)
        self.labels[pid] = f"{code}:{variant}"

    def near_miss(self, kind: str) -> None:
        """A clean payment one step short of a rule."""
        if kind == "turns_18_on_last_day":
            person = self.born_on(YOUNGEST_BIRTH)
        elif kind == "turns_91_day_after_start":
            person = self.born_on(OLDEST_BIRTH + dt.timedelta(days=1))
        else:
            person = self.people.adult()
        p = self.payee(person, village=None if kind == "village_unknown" else "home")
        holder = {"holder_name_with_space": person.name[0] + " " + person.name[1:], "holder_name_blank": ""}.get(kind)
        account = self.new_account() if kind in _SPECIAL_ROWS else None
        pids = [
            self.main_row(
                p,
                amount="200.00" if kind == "amount_below_standard" else FULL,
                status="checked" if kind == "status_checked" else "draft",
                holder=holder,
                account=account,
            )
        ]
        if kind == "household_name_blank":
            self.household(p, name="")
        elif kind == "household_twice_one_name_matching":
            self.household(p, name=_changed_name(person.name))
            self.household(p)
        elif kind == "household_division_blank":
            self.household(p, division="")
        else:
            self.household(p)

        if kind == "died_after_period":
            self.on_list("death", p, event=END + dt.timedelta(days=1))
        elif kind == "exclusive_roll_joined_after_period":
            self.on_list("tekun", p, event=END + dt.timedelta(days=1), detail="特困")
        elif kind == "exclusive_policy_cancelled":
            self.pay_elsewhere(p, "b_month", amount="600.00", status="cancelled")
        elif kind == "exclusive_policy_other_quarter":
            self.pay_elsewhere(p, "b_q3", amount="1800.00", status="paid")
        elif kind == "non_exclusive_policy_same_quarter":
            self.pay_elsewhere(p, "d_q4", amount="240.00", quantity="2.00", status="approved")
        elif kind in ("same_policy_cancelled", "same_policy_stopped", "same_policy_reissued"):
            self.pay_elsewhere(p, "main_month", amount="100.00", status=kind.rsplit("_", 1)[1])
        elif kind == "same_policy_previous_quarter":
            self.pay_elsewhere(p, "main_q3", status="paid")
        elif kind == "same_policy_previous_year":
            self.pay_elsewhere(p, "main_last_year", status="paid")
        elif kind in _SPECIAL_ROWS:  # a second payee of this payout on the same account, perhaps a third elsewhere
            second = self.payee(self.people.adult())
            self.household(second)
            pids.append(self.main_row(second, account=account))
            if kind == "third_sharer_cancelled":
                third = self.payee(self.people.adult())
                self.pay_elsewhere(third, "d_q4", amount="120.00", quantity="1.00", status="cancelled", account=account)
            elif kind == "third_sharer_other_quarter":
                self.pay_elsewhere(self.payee(self.people.adult()), "main_q3", status="paid", account=account)
        elif kind == "account_changed_before_last_paid":
            self.pay_elsewhere(p, "main_q2", status="paid", account=self.new_account())
            self.pay_elsewhere(p, "main_q3", status="paid")
        elif kind == "changed_account_payment_failed":
            self.pay_elsewhere(p, "main_q2", status="paid")
            self.pay_elsewhere(p, "main_q3", status="failed", account=self.new_account())
        elif kind == "other_policy_other_account":
            self.pay_elsewhere(p, "b_q3", amount="1800.00", status="paid", account=self.new_account())
        for pid in pids:
            self.near[kind].add(pid)
            self.labels[pid] = f"near:{kind}"

    def excluded_row(self, kind: str) -> None:
        """A payment of the payout out of the checks' reach, with a fault they would otherwise see."""
        p = self.payee(self.people.adult())
        self.household(p)
        if kind == "cancelled_over_standard":
            pid = self.main_row(p, amount="900.00", status="cancelled")
        elif kind == "stopped_spouse_account":
            pid = self.main_row(p, status="stopped", holder=_other_name(p.person.name))
        else:
            pid = self.main_row(p, status="cancelled")
            self.on_list("death", p, event=dt.date(YEAR, 10, 3))
        self.excluded.add(pid)
        self.labels[pid] = f"excluded:{kind}"


class _Fillers:
    """People on a reference list who are in no payout, numbered per list."""

    def __init__(self, build: _Build, sources: list[str]) -> None:
        self.build = build
        self.sources = sources
        self.made = dict.fromkeys(sources, 0)
        self.person = _filler_people(build.seed, build.county, build.hasher, build.real_hashes)

    def upto(self, source: str, count: int) -> None:
        stream = self.sources.index(source)
        record = self.build.record
        while self.made[source] < count:
            i = self.made[source]
            self.made[source] += 1
            id_hash, id_masked, name, village = self.person(stream, i)
            if source == "household":
                status = "active" if i % 20 else ("moved", "cancelled")[i % 40 // 20]
                record(source, id_hash, id_masked, name=name, division=village, status=status)
            elif source == "death":
                record(source, id_hash, id_masked, name=name, event=END - dt.timedelta(days=(i * 37) % 1500))
            elif source == "public_employee":
                record(source, id_hash, id_masked, name=name, detail=_EMPLOYERS[i % len(_EMPLOYERS)])
            else:
                event = None if i % 7 == 0 else END - dt.timedelta(days=(i * 53) % 2000)
                record(source, id_hash, id_masked, name=name, event=event, detail=_ROLL_CLASSES[i % 3])


def _clean_draws(rng: random.Random) -> tuple[float, float, float, float]:
    """A clean row's choices: its amount, draft or checked, another payment, a roll it is on."""
    draw = rng.random
    return draw(), draw(), draw(), draw()


def _filler_people(seed: int, county: County, hasher: _Hasher, real: bool):
    """(stream, i) → (id_hash, id_masked, name, village code) of someone on a list but in no payout.

    With real hashes they are real people of the county (from an index range no payee uses); for the bench,
    stand-in hashes and names, which cost a fraction of a person each.
    """
    villages = [v.code for v in county.villages()]
    if not real:
        masked_prefix = county.code + "********"

        def cheap(stream: int, i: int) -> tuple[str, str, str, str]:
            return (
                hasher.filler(stream, i),
                f"{masked_prefix}{i % 10000:04d}",
                _FILLER_NAMES[i % len(_FILLER_NAMES)],
                villages[i % len(villages)],
            )

        return cheap

    streams: dict[int, Iterator[Person]] = {}
    base = capacity() // 2  # the payees are drawn from below this index

    def real_person(stream: int, i: int) -> tuple[str, str, str, str]:
        if stream not in streams:
            streams[stream] = iter_people(seed, county, 10**6, start=base + stream * 10**6)
        person = next(streams[stream])
        return hasher.id(person.id_number), _masked_id(person.id_number), person.name, person.village_code

    return real_person
