"""Reconcile benchmark: the money ledger (``disbursement.ledger.ledger``) over every payout of N payments.

    .venv/bin/python -m bench.bench_reconcile --payments 1000000            # builds the database once, then reuses it
    .venv/bin/python -m bench.bench_reconcile --payments 100000 --rebuild   # build again from scratch

Works in its own PostgreSQL database, ``yikatong_bench_ledger`` on 127.0.0.1:5432 (user postgres): created and
migrated (``manage.py migrate``) when missing or built for other parameters, then filled by COPY: 20 payouts of one
policy (distinct months) in every payout state — drafts and payouts in review with pending payments, approved ones,
released ones whose payments are batched, sent, paid, failed, reissued (with the new attempt approved) and stopped —
two bank batches per released payout with matching totals, and approved totals that balance. Each run times
``ledger()`` over all payouts (and one payout alone), and checks that everything reconciles.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import statistics
import sys
import time

from bench.benchdb import BenchDatabase

DB_NAME = "yikatong_bench_ledger"
META = "bench_ledger_meta"
DB = BenchDatabase(DB_NAME, META)
PAYOUTS = 20
# Payout states by position: 2 drafts, 2 in review, 4 approved, the rest released.
STATES = ["draft"] * 2 + ["submitted"] * 2 + ["approved"] * 4 + ["released"] * (PAYOUTS - 8)
CHUNK = 100_000


def _payment_status(payout_state: str, i: int) -> str:
    """A payment's status from its payout's state and its position: a fixed mix, the same on every build."""
    if payout_state == "draft":
        return "checked" if i % 3 else "draft"
    if payout_state == "submitted":
        return "submitted"
    if payout_state == "approved":
        return "approved"
    k = i % 100
    if k < 80:
        return "paid"
    if k < 85:
        return "sent"
    if k < 88:
        return "batched"
    if k < 91:
        return "failed"
    if k < 92:
        return "reissued"
    if k < 93:
        return "stopped"
    if k < 94:
        return "cancelled"
    return "approved"  # approved late (after a correction), not yet in a batch


def build(payments: int) -> dict:
    from django.db import connection
    from django.utils import timezone

    from banks.models import Bank
    from disbursement.models import Batch, Payment, Payout
    from org.enums import RegionLevel, Role
    from org.models import Department, Region, User
    from policies.enums import ListStatus
    from policies.models import Policy, PolicyEntry, PolicyList
    from recipients.enums import RosterStatus
    from recipients.models import Recipient, Roster

    began = time.perf_counter()
    now = timezone.now()
    county = Region.objects.create(code="410103", name="二七区", level=RegionLevel.COUNTY)
    civil = Department.objects.create(code="mz", name="二七区民政局", short_name="民政")
    finance = User.objects.create(username="bench_finance", role=Role.FINANCE_ADMIN, full_name="bench_finance")
    reviewer = User.objects.create(username="bench_reviewer", role=Role.FINANCE_REVIEWER, full_name="bench_reviewer")
    clerk = User.objects.create(username="bench_clerk", role=Role.DEPARTMENT_CLERK, department=civil)
    policy_list = PolicyList.objects.create(
        year=2026, title="二七区2026年惠民惠农财政补贴政策清单", status=ListStatus.PUBLISHED,
        submitted_by=finance, submitted_at=now, published_by=reviewer, published_at=now,
    )  # fmt: skip
    policy = Policy.objects.create(code="BENCH-MZ-01", department=civil)
    entry = PolicyEntry.objects.create(
        policy_list=policy_list, policy=policy, frozen=True, name="城乡困难群众基本生活补贴", department=civil,
        level="county", target_group="困难群众", basis_title="关于城乡困难群众基本生活补贴的通知",
        standard_kind="fixed", standard_amount=2000, standard_unit="元/人·月", frequency="monthly",
    )  # fmt: skip
    banks = [
        Bank.objects.create(code="ccb-erqi", name="中国建设银行二七支行"),
        Bank.objects.create(code="zzb-erqi", name="郑州银行二七支行"),
    ]

    per_payout = payments // PAYOUTS
    # Reissues get a person of their own (one payment per person per payout): the first per_payout people are
    # everyone's, the next ones only carry reissues.
    people = per_payout + per_payout // 100 + 1
    with connection.cursor() as cursor:
        buffer = io.StringIO()
        stamp = now.isoformat()
        for k in range(people):
            buffer.write(
                f"{k:064x}\t\\\\x{k:08x}\t410103********{k % 10000:04d}\t受助人{k}\t{'MF'[k % 2]}\t"
                f"1950-01-01\t410103\t\t{stamp}\t{stamp}\n"
            )
        buffer.seek(0)
        columns = "id_hash, id_cipher, id_masked, name, sex, birth_date, birthplace_code, phone, created_at, updated_at"
        cursor.copy_expert(f"COPY {Recipient._meta.db_table} ({columns}) FROM STDIN", buffer)
        cursor.execute(f"SELECT MIN(id) FROM {Recipient._meta.db_table}")  # noqa: S608
        first_person = cursor.fetchone()[0]

    payouts = []
    for n, state in enumerate(STATES):
        period = f"{2025 + n // 12}-{n % 12 + 1:02d}"
        payout = Payout.objects.create(
            code=f"BENCH-MZ-01-{period}", policy=policy, policy_entry=entry, period=period, region=county,
            department=civil, title=f"城乡困难群众基本生活补贴 {period}", budget_document="二七财预〔2026〕1号",
            budget_amount=10**9, status=state, created_by=clerk,
            step_due_at=now - dt.timedelta(hours=n) if state == "submitted" else None,
        )  # fmt: skip
        roster = Roster.objects.create(
            payout=payout, department=civil, filename=f"{payout.code}.xlsx", size=1, sha256="0" * 64,
            stored_file="synthetic", status=RosterStatus.IMPORTED, uploaded_by=clerk,
        )  # fmt: skip
        batches = []
        if state == "released":
            for attempt_bank in banks:
                batches.append(
                    Batch.objects.create(
                        batch_no=f"{payout.code}-{attempt_bank.code}",
                        payout=payout,
                        bank=attempt_bank,
                        status="closed" if n % 3 else "ready",
                        payment_count=1,
                        total_fen=1,
                        encoding="gbk",
                        created_by=finance,
                    )
                )
        payouts.append((payout, roster, state, batches))

    columns = (
        "payout_id, policy_id, period, recipient_id, roster_id, row, amount, account_hash, account_cipher, "
        "account_masked, bank_name, holder_name, status, created_at, batch_id, attempt"
    )
    copy = f"COPY {Payment._meta.db_table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor:
        for payout, roster, state, batches in payouts:
            buffer = io.StringIO()
            write = buffer.write
            reissues = 0
            for i in range(per_payout):
                status = _payment_status(state, i)
                fen = 10_000 + (i * 7919 + payout.pk * 104_729) % 190_000
                batch = "\\N"
                if batches and status in ("batched", "sent", "paid", "failed", "reissued"):
                    batch = str(batches[i % 2].pk)
                person = first_person + i
                write(
                    f"{payout.pk}\t{policy.pk}\t{payout.period}\t{person}\t{roster.pk}\t{i + 1}\t"
                    f"{fen // 100}.{fen % 100:02d}\t{i:064x}\t\\\\x{i:08x}\t6222****{i % 10000:04d}\t"
                    f"中国建设银行\t受助人{i}\t{status}\t{stamp}\t{batch}\t1\n"
                )
                if status == "reissued":
                    # The new attempt carries the money on: a new payment, approved, outside any batch yet.
                    reissues += 1
                    write(
                        f"{payout.pk}\t{policy.pk}\t{payout.period}\t{first_person + per_payout + reissues}\t"
                        f"{roster.pk}\t{i + 1}\t{fen // 100}.{fen % 100:02d}\t{i:064x}\t\\\\x{i:08x}\t"
                        f"6222****{i % 10000:04d}\t中国建设银行\t受助人{i}\tapproved\t{stamp}\t\\N\t2\n"
                    )
                if buffer.tell() > 32 * CHUNK:
                    buffer.seek(0)
                    cursor.copy_expert(copy, buffer)
                    buffer = io.StringIO()
                    write = buffer.write
            buffer.seek(0)
            cursor.copy_expert(copy, buffer)
        # What review and batching would have recorded: approved totals and batch totals that balance.
        table = Payment._meta.db_table
        cursor.execute(
            f"""UPDATE {Payout._meta.db_table} p SET approved_total = s.total, approved_at = %s
                FROM (SELECT payout_id, SUM(amount) AS total FROM {table}
                      WHERE status IN ('approved', 'batched', 'sent', 'paid', 'failed', 'stopped')
                      GROUP BY payout_id) s
                WHERE p.id = s.payout_id AND p.status IN ('approved', 'released')""",  # noqa: S608
            [now],
        )
        cursor.execute(
            f"""UPDATE {Batch._meta.db_table} b SET payment_count = s.n, total_fen = s.fen
                FROM (SELECT batch_id, COUNT(*) AS n, SUM((amount * 100)::bigint) AS fen FROM {table}
                      WHERE batch_id IS NOT NULL GROUP BY batch_id) s
                WHERE b.id = s.batch_id"""  # noqa: S608
        )
        cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
        total = cursor.fetchone()[0]
        loaded = time.perf_counter() - began
        cursor.execute(f"VACUUM ANALYZE {table}")
    data = {
        "payments_asked": payments,
        "payments": total,
        "payouts": PAYOUTS,
        "batches": Batch.objects.count(),
        "build_seconds": round(loaded, 1),
        "vacuum_seconds": round(time.perf_counter() - began - loaded, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (data jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META} (data) VALUES (%s)", [json.dumps(data)])  # noqa: S608
    return data


def run(repeat: int) -> dict:
    from disbursement.ledger import ledger, reconcile_ok
    from disbursement.models import Payout

    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        ledgers = ledger()
        timings.append(time.perf_counter() - began)
    one = Payout.objects.filter(status="released").order_by("code").values_list("code", flat=True).first()
    began = time.perf_counter()
    ledger([one])
    single = time.perf_counter() - began
    problems = {entry.code: entry.problems for entry in ledgers if entry.problems}
    return {
        "payouts": len(ledgers),
        "ok": reconcile_ok(ledgers),
        "problems": problems,
        "seconds": [round(t, 3) for t in timings],
        "median_seconds": round(statistics.median(timings), 3),
        "one_payout_seconds": round(single, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    options = parser.parse_args()

    built = DB.built_with()
    if options.rebuild or built is None or built.get("payments_asked") != options.payments:
        DB.recreate()
        DB.setup_django()
        built = build(options.payments)
        print(f"built {built['payments']} payments in {built['build_seconds']} s", flush=True)
    else:
        DB.setup_django()
    result = run(options.repeat)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(
        json.dumps(
            {
                "built": built,
                "result": result,
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": server},
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    if not result["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
