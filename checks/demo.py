"""Demo reference data: the lists other departments would send, built around the demo roster's people, with a
few of the cases the checks exist for — so a newcomer opening the demo payout sees real findings."""

from __future__ import annotations

import csv
import datetime as dt
import io

from django.utils import timezone

from bench import synth
from checks.models import ReferenceLoad, ReferenceSource
from checks.references import reference_source_save, reference_upload
from org.models import Department, User
from policies.models import Policy
from yikatong.domain.citizen_id import parse_citizen_id

# The same people, in the same order, as disbursement.demo's roster (seed 2026, 300 rows).
ROSTER_SEED, ROSTER_ROWS = 2026, 300
OWNERS = {"death": "mz", "public_employee": "rs", "dibao": "mz", "tekun": "mz", "disabled": "cl", "youfu": "tyjr"}
# The 特困 roll stands for 特困人员基本生活费, which excludes 城乡低保 (policies.demo.EXCLUSIVE_GROUPS).
ROLL_POLICIES = {"tekun": "特困人员基本生活费（分散供养）", "dibao": "城市居民最低生活保障金"}


def _people() -> list[tuple[str, str]]:
    """(ID number, name) of the roster's good rows."""
    rows = synth.iter_roster_rows(
        ROSTER_SEED, synth.make_county(ROSTER_SEED), ROSTER_ROWS, amount="580.00", error_rate=0.03
    )
    return [
        (parse_citizen_id(row[synth.C_ID]).number, "".join(str(row[synth.C_NAME]).split()))
        for row in rows
        if row["_defect"] is None
    ]


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def seed_reference_data() -> None:
    """Owners, roll links and one load per list (idempotent: nothing happens once any load exists)."""
    if ReferenceLoad.objects.exists():
        return
    finance = User.objects.get(username="caizheng")
    departments = {d.code: d for d in Department.objects.all()}
    for source in ReferenceSource.objects.all():
        changes = {}
        if source.code in OWNERS and source.department_id is None:
            changes["department"] = departments[OWNERS[source.code]]
        policy = Policy.objects.filter(entries__name=ROLL_POLICIES.get(source.code, "")).first()
        if policy is not None and source.policy_id is None:
            changes["policy"] = policy
        if changes:
            reference_source_save(acting_user=finance, source=source, **changes)

    people = _people()
    ghost, renamed, cancelled, dead, employee, on_tekun = range(6)
    household = [
        [number, "王建国" if i == renamed else name, "410103", "注销" if i == cancelled else "正常"]
        for i, (number, name) in enumerate(people)
        if i != ghost  # the first good row's person is nowhere in the registration list
    ]
    files = {
        "household": (["身份证号", "姓名", "户籍地区划代码", "户籍状态"], household),
        "death": (
            ["身份证号", "姓名", "死亡日期"],
            [
                [people[dead][0], people[dead][1], "2026-08-15"],
            ],
        ),
        "public_employee": (
            ["身份证号", "姓名", "工作单位"],
            [[people[employee][0], people[employee][1], "二七区某街道办事处"]],
        ),
        "tekun": (
            ["身份证号", "姓名", "纳入日期", "类别"],
            [[people[on_tekun][0], people[on_tekun][1], "2025-03-01", "分散供养"]],
        ),
    }
    as_of = timezone.localdate() - dt.timedelta(days=1)
    for code, (header, rows) in files.items():
        reference_upload(
            acting_user=finance,
            source=ReferenceSource.objects.get(code=code),
            as_of=as_of,
            filename=f"{code}-{as_of:%Y%m%d}.csv",
            data=_csv(header, rows),
        )
