"""End-to-end roster import benchmark: an .xlsx of N rows read, validated and staged as draft payments.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/yikatong_bench \\
        .venv/bin/python -m bench.bench_roster_import --rows 100000 --rows 1000000 --import-export-rows 20000

Each measurement runs in its own process (peak RSS is per process). For each size it imports the file twice
into fresh payouts: first into an empty registry (every person and account is new and gets encrypted),
then again (everyone known: the monthly case). It also times django-import-export's default ModelResource
on the first rows of the same file, writing to the staging table with no validation, hashing or encryption
(a generous comparison). Writes nothing outside the bench database and var/synth/.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYNTH = ROOT / "var" / "synth"


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yikatong.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _roster_file(rows: int) -> Path:
    from bench import synth

    path = SYNTH / f"roster-{rows}-seed1.xlsx"
    if not path.exists():
        SYNTH.mkdir(parents=True, exist_ok=True)
        county = synth.make_county(1)
        synth.write_roster_xlsx(synth.iter_roster_rows(1, county, rows, error_rate=0.01), path)
    return path


def _fixtures():
    """A department, a published 2026 list with one policy, a clerk; created once per bench database."""
    from org.enums import RegionLevel, Role
    from org.models import Department, Region, User
    from org.services import user_create
    from policies.models import Policy
    from policies.services import policy_entry_create, policy_list_publish, policy_list_start, policy_list_submit

    county, _ = Region.objects.get_or_create(code="410103", defaults={"name": "二七区", "level": RegionLevel.COUNTY})
    department, _ = Department.objects.get_or_create(code="mz", defaults={"name": "二七区民政局", "short_name": "民政"})
    users = {}
    for username, role, dept in (
        ("bench_fin", Role.FINANCE_ADMIN, None),
        ("bench_rev", Role.FINANCE_REVIEWER, None),
        ("bench_clerk", Role.DEPARTMENT_CLERK, department),
    ):
        users[username] = User.objects.filter(username=username).first() or user_create(
            acting_user=None, username=username, password=None, role=role, department=dept
        )
    policy = Policy.objects.filter(code="BENCH-01").first()
    if policy is None:
        policy_list = policy_list_start(acting_user=users["bench_fin"], year=2026)
        policy_entry_create(
            acting_user=users["bench_fin"],
            policy_list=policy_list,
            code="BENCH-01",
            values={
                "name": "基准测试补贴",
                "department_id": department.pk,
                "level": "county",
                "target_group": "测试",
                "basis_title": "基准",
                "standard_amount": Decimal("100.00"),
                "standard_unit": "元/人·月",
                "frequency": "monthly",
            },
        )
        policy_list_submit(acting_user=users["bench_fin"], policy_list=policy_list)
        policy_list_publish(acting_user=users["bench_rev"], policy_list=policy_list)
        policy = Policy.objects.get(code="BENCH-01")
    return policy, county, users["bench_clerk"]


def _empty_registry() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE disbursement_payment, recipients_recipientchange, recipients_recipientaccount, "
            "recipients_recipient, recipients_rosterstage, recipients_rosterissue CASCADE"
        )


def measure_import(rows: int, mode: str) -> dict:
    from disbursement.services import payout_create
    from jobs.services import job_run
    from recipients.models import Roster
    from recipients.services import roster_upload
    from yikatong.celery import app

    app.conf.task_always_eager = False  # we run the job here, inline, and time it
    policy, county, clerk = _fixtures()
    if mode == "new":
        _empty_registry()
    path = _roster_file(rows)
    data = path.read_bytes()
    payout = payout_create(
        acting_user=clerk,
        policy=policy,
        period="2026-11",
        region=county,
        budget_document="bench",
        budget_amount=Decimal("1000000000"),
    )
    start = time.perf_counter()
    roster = roster_upload(acting_user=clerk, payout=payout, filename=path.name, data=data)
    job = job_run(job_id=roster.job_id)
    elapsed = time.perf_counter() - start
    roster = Roster.objects.get(pk=roster.pk)
    return {
        "rows": rows,
        "mode": mode,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed),
        "valid": roster.valid,
        "rejected": roster.rejected,
        "job": job.status if job else None,
        "payments": payout.payments.count(),
        "file_mb": round(len(data) / 1e6, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def measure_import_export(rows: int, limit: int) -> dict:
    """django-import-export's default path: tablib reads the xlsx, a ModelResource writes row by row."""
    import tablib
    from import_export import fields, resources

    from recipients.models import Roster, RosterStage

    policy, _county, _clerk = _fixtures()
    roster = Roster.objects.filter(payout__policy=policy).first()
    path = _roster_file(rows)

    class StageResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        id_hash = fields.Field(attribute="id_hash", column_name="身份证号码")
        account_hash = fields.Field(attribute="account_hash", column_name="银行账号")
        bank_name = fields.Field(attribute="bank_name", column_name="开户银行")
        amount = fields.Field(attribute="amount", column_name="发放金额（元）")

        class Meta:
            model = RosterStage
            fields = ("name", "id_hash", "account_hash", "bank_name", "amount")
            import_id_fields = ()

        def before_save_instance(self, instance, row, **kwargs):
            instance.roster_id, instance.row, instance.sex = roster.pk, 0, "M"
            instance.birth_date, instance.birthplace_code, instance.id_masked = "1950-01-01", "410103", "-"
            instance.account_masked, instance.id_cipher, instance.account_cipher = "-", b"", b""
            instance.amount = Decimal(str(instance.amount).replace("元", "") or "0")

    start = time.perf_counter()
    with path.open("rb") as handle:
        book = tablib.Dataset().load(handle.read(), format="xlsx", headers=False)
    # The generator's title and 填报单位 lines come first; import-export needs the header on top.
    dataset = tablib.Dataset(*book[3 : 3 + limit], headers=book[2])
    read = time.perf_counter() - start
    result = StageResource().import_data(dataset, dry_run=False, raise_errors=False, use_transactions=True)
    elapsed = time.perf_counter() - start
    RosterStage.objects.filter(roster=roster).delete()
    return {
        "rows": limit,
        "mode": "import-export",
        "seconds": round(elapsed, 2),
        "read_seconds": round(read, 2),
        "rows_per_s": round(limit / (elapsed - read)),
        "errors": len(result.row_errors()),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="roster size (repeatable)")
    parser.add_argument("--import-export-rows", type=int, default=0, help="rows for the import-export comparison")
    parser.add_argument("--one", nargs=2, metavar=("ROWS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _setup_django()
        rows, mode = int(args.one[0]), args.one[1]
        if mode.startswith("import-export:"):
            print(json.dumps(measure_import_export(rows, int(mode.split(":")[1]))))
        else:
            print(json.dumps(measure_import(rows, mode)))
        return 0
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = []
    runs = [(rows, mode) for rows in (args.rows or [100_000]) for mode in ("new", "known")]
    if args.import_export_rows:
        runs.append((min(args.rows or [100_000]), f"import-export:{args.import_export_rows}"))
    for rows, mode in runs:
        _roster_file(rows)
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_roster_import", "--one", str(rows), mode],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(result)
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
