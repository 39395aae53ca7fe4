"""Bank file benchmark: release one approved payout of N payments in one bank, then time the batch.generate job.

    .venv/bin/python -m bench.bench_batch_file --payments 1000000            # builds the database once, then reuses it
    .venv/bin/python -m bench.bench_batch_file --payments 100000 --rebuild   # build again from scratch

Works in its own PostgreSQL database, ``yikatong_bench_batch`` on 127.0.0.1:5432 (user postgres): created and
migrated when missing or built for other parameters, then filled with COPY: N recipients and N approved payments
of one payout, every account a real SM4-GCM ciphertext (``pii.encrypter``), so that decrypting is measured. Each
run puts the payout back to approved (triggers lifted as superuser), times ``payout_release`` (set-based), then the
generation job in this process, and checks the file: it decrypts, and its count, total and detail hash match.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import random
import sys
import time

from bench.benchdb import BenchDatabase, machine

DB_NAME = "yikatong_bench_batch"
META = "bench_batch_meta"
DB = BenchDatabase(DB_NAME, META)
SEED = 6
CHUNK = 100_000
PAYOUT_CODE = "MZ-04-2026-11"


def _copy(cursor, table: str, columns: str, buffer: io.StringIO) -> None:
    buffer.seek(0)
    cursor.cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def build(payments: int) -> dict:
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from banks.demo import seed_banks
    from bench import synth
    from bench.synth_checks import _actors, _policies, _regions
    from disbursement.enums import PayoutStatus
    from disbursement.models import Payment, Payout
    from recipients.enums import RosterStatus
    from recipients.models import Recipient, Roster
    from yikatong import pii

    began = time.perf_counter()
    seed_banks()
    county = synth.make_county(SEED, townships=2, villages_per_township=2)
    region_ids = _regions(county)
    civil, farm, users = _actors()
    policy, entry = _policies(civil, farm, users, county)["CK-MZ-01"]
    clerk = users["synth_clerk"]
    payout = Payout.objects.create(
        code=PAYOUT_CODE, policy=policy, policy_entry=entry, period="2026-11", region_id=region_ids[county.code],
        department=civil, title="benchmark", budget_document="二七财预〔2026〕1号",
        budget_amount=Decimal("9999999999.99"), status=PayoutStatus.APPROVED, created_by=clerk, submitted_by=clerk,
    )  # fmt: skip
    roster = Roster.objects.create(
        payout=payout, department=civil, filename="bench.xlsx", size=1, sha256="0" * 64, stored_file="synthetic",
        status=RosterStatus.IMPORTED, uploaded_by=clerk,
    )  # fmt: skip
    village = region_ids[county.townships[0].villages[0].code]
    seal = pii.encrypter(purpose="account")
    rng = random.Random(SEED)
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高", "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
    now = timezone.now().isoformat()
    total_fen = 0
    encrypt_seconds = 0.0
    recipient_cols = (
        "id, id_hash, id_cipher, id_masked, name, sex, birth_date, birthplace_code, village_id, phone, "
        "created_at, updated_at"
    )
    payment_cols = (
        "id, payout_id, policy_id, period, recipient_id, roster_id, row, amount, account_hash, account_cipher, "
        "account_masked, bank_name, holder_name, status, created_at, attempt"
    )
    with connection.cursor() as cursor:
        for start in range(0, payments, CHUNK):
            people, money = io.StringIO(), io.StringIO()
            for i in range(start, min(start + CHUNK, payments)):
                n = i + 1
                name = rng.choice(surnames) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2))))
                people.write(
                    f"{n}\t{n:064x}\t\\\\x00\t410103********{n % 10000:04d}\t{name}\tM\t1960-01-01\t410103\t{village}"
                    f"\t\t{now}\t{now}\n"
                )
                account = f"621700{n:013d}"
                t = time.perf_counter()
                cipher = seal(account)
                encrypt_seconds += time.perf_counter() - t
                fen = rng.choice((58000, 58000, 58000, 29000, 61234))
                total_fen += fen
                holder = name if rng.random() < 0.05 else ""
                money.write(
                    f"{n}\t{payout.pk}\t{policy.pk}\t2026-11\t{n}\t{roster.pk}\t{n + 3}\t{fen // 100}.{fen % 100:02d}"
                    f"\t{n:064x}\t\\\\x{cipher.hex()}\t6217****{account[-4:]}\t中国建设银行二七区支行\t{holder}"
                    f"\tapproved\t{now}\t1\n"
                )
            _copy(cursor, Recipient._meta.db_table, recipient_cols, people)
            _copy(cursor, Payment._meta.db_table, payment_cols, money)
            print(f"  {min(start + CHUNK, payments)} payments", flush=True)
        for table in (Recipient._meta.db_table, Payment._meta.db_table):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")  # noqa: S608
            cursor.execute(f"VACUUM ANALYZE {table}")
    Payout.objects.filter(pk=payout.pk).update(approved_total=Decimal(total_fen) / 100)
    data = {
        "payments": payments,
        "payout_id": payout.pk,
        "total_fen": total_fen,
        "finance_id": users["synth_finance"].pk,
        "build_seconds": round(time.perf_counter() - began, 1),
        "encrypt_seconds": round(encrypt_seconds, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (data jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META} (data) VALUES (%s)", [json.dumps(data)])  # noqa: S608
    return data


def _reset(data: dict) -> None:
    """Back to an approved payout without batches (as only a database superuser could: triggers lifted)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE disbursement_payment SET batch_id = NULL, status = 'approved' WHERE payout_id = %s",
            [data["payout_id"]],
        )
        cursor.execute("UPDATE disbursement_payout SET status = 'approved' WHERE id = %s", [data["payout_id"]])
        cursor.execute("DELETE FROM disbursement_batch WHERE payout_id = %s", [data["payout_id"]])


def run(data: dict, *, workers: int) -> dict:
    from django.db import connection

    from disbursement import bankfile
    from disbursement.batches import payout_release
    from disbursement.models import Payout
    from jobs.services import job_run
    from org.models import User

    _reset(data)
    bankfile.POOL_SIZE = workers
    if workers == 0:
        bankfile.POOL_FROM = 10**12
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE disbursement_payment")
    finance = User.objects.get(pk=data["finance_id"])
    began = time.perf_counter()
    import jobs.services

    jobs.services._dispatch = lambda job_id: None  # the job is run below, in this process, and timed on its own
    (batch,) = payout_release(acting_user=finance, payout=Payout.objects.get(pk=data["payout_id"]))
    release = time.perf_counter() - began
    began = time.perf_counter()
    job = job_run(job_id=batch.job_id)
    generate = time.perf_counter() - began
    assert job.status == "succeeded", (job.error_code, job.error_message)
    batch.refresh_from_db()
    began = time.perf_counter()
    content = bankfile.batch_file_bytes(batch)
    lines = content.split(b"\r\n")[:-1]
    trailer = lines[-1].decode().split("|")
    details = b"".join(line + b"\r\n" for line in lines[1:-1])
    ok = (
        hashlib.sha256(content).hexdigest() == batch.file_sha256
        and len(lines) - 2 == data["payments"] == int(trailer[1])
        and int(trailer[2]) == data["total_fen"] == batch.total_fen
        and hashlib.sha256(details).hexdigest() == trailer[3] == batch.detail_sha256
    )
    verify = time.perf_counter() - began
    return {
        "payments": data["payments"],
        "workers": workers,
        "release_seconds": round(release, 3),
        "generate_seconds": round(generate, 3),
        "verify_seconds": round(verify, 3),
        "file_bytes": batch.file_size,
        "file_sha256": batch.file_sha256,
        "verified": ok,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000, help="payments in the payout (default 10^6)")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it matches")
    parser.add_argument("--runs", type=int, default=1, help="how many times to release and generate (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="decrypting processes; 0 decrypts inline")
    args = parser.parse_args(argv)

    stored = None if args.rebuild else DB.built_with()
    if stored is None or stored["payments"] != args.payments:
        print(f"building {DB_NAME} with {args.payments} payments …", flush=True)
        began = time.perf_counter()
        DB.recreate()
        migrate = time.perf_counter() - began
        DB.setup_django()
        stored = build(args.payments)
        print(
            f"migrate {migrate:.1f} s, build {stored['build_seconds']} s"
            f" (of which encrypting accounts {stored['encrypt_seconds']} s)",
            flush=True,
        )
    else:
        DB.setup_django()
        print(f"reusing {DB_NAME} built with {args.payments} payments", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"machine: {machine()}; PostgreSQL {server}", flush=True)
    failed = False
    for _ in range(args.runs):
        result = run(stored, workers=args.workers)
        print(
            f"release {result['release_seconds']:.2f} s; generate {result['generate_seconds']:.2f} s"
            f" ({result['workers']} decrypting processes); {result['file_bytes']} bytes; verified {result['verified']}"
        )
        print(json.dumps(result), flush=True)
        failed = failed or not result["verified"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
