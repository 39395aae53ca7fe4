"""Cross-check benchmark: every rule over one payout of N payments, against reference data of the same scale.

    .venv/bin/python -m bench.bench_checks --payments 1000000            # builds the database once, then reuses it
    .venv/bin/python -m bench.bench_checks --payments 100000 --rebuild   # build again from scratch

Works in its own PostgreSQL database, ``yikatong_bench_checks`` on 127.0.0.1:5432 (user postgres): created and
migrated (``manage.py migrate``) when missing or built for other parameters, then filled by
``bench.synth_checks.build_check_county`` (N payments, N household records, N/20 deaths, N/10 public employees,
three rolls of N, 20 planted cases per rule, stand-in hashes). Each run deletes the payout's earlier findings and
runs, runs ``checks.engine.run_checks`` in this process, prints each rule's time as the engine recorded it and
the whole run's wall time, and checks that every planted payment was found under its rule.
"""

from __future__ import annotations

import argparse
import json
import time

from bench.benchdb import BenchDatabase, machine

DB_NAME = "yikatong_bench_checks"
META = "bench_checks_meta"  # one row: what the database was built with, and the answer key
DB = BenchDatabase(DB_NAME, META)
SEED = 1
PLANTED_PER_RULE = 20


def parameters(payments: int) -> dict:
    return {
        "seed": SEED,
        "payments": payments,
        "registrations": payments,
        "deaths": payments // 20,
        "public_employees": payments // 10,
        "rolls": payments,
        "planted_per_rule": PLANTED_PER_RULE,
        "real_hashes": False,
    }


def build(params: dict) -> dict:
    """Fill the (fresh) bench database; returns the answer key as JSON-able data, also stored in META."""
    from django.db import connection

    from bench.synth_checks import build_check_county

    county = build_check_county(**params)
    began = time.perf_counter()
    with connection.cursor() as cursor:
        # What autovacuum would do after a bulk load: visibility map (index-only scans) and statistics.
        for table in ("recipients_recipient", "disbursement_payment", "checks_referencerecord"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    vacuum = time.perf_counter() - began
    data = {
        "params": params,
        "payout_id": county.payout_id,
        "clerk_id": county.clerk_id,
        "planted": {rule: sorted(ids) for rule, ids in county.planted.items()},
        "excluded": sorted(county.excluded),
        "clean": len(county.clean),
        "counts": county.counts,
        "build_seconds": round(county.seconds, 1),
        "vacuum_seconds": round(vacuum, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (data jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META} (data) VALUES (%s)", [json.dumps(data)])  # noqa: S608
    return data


def run(data: dict) -> dict:
    from django.db import connection

    from checks.engine import run_checks
    from checks.models import CheckRun, Finding
    from disbursement.models import Payout
    from org.models import User

    payout = Payout.objects.get(pk=data["payout_id"])
    Finding.objects.filter(payout=payout).delete()
    CheckRun.objects.filter(payout=payout).delete()
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # the previous run's writes are not flushed on this one's clock
    began = time.perf_counter()
    checked = run_checks(payout=payout, acting_user=User.objects.get(pk=data["clerk_id"]))
    seconds = time.perf_counter() - began

    found: dict[str, set[int]] = {}
    for rule, payment_id in Finding.objects.filter(payout=payout).values_list("rule", "payment_id").iterator():
        found.setdefault(rule, set()).add(payment_id)
    planted = {rule: set(ids) for rule, ids in data["planted"].items()}
    missed = {rule: sorted(ids - found.get(rule, set()))[:5] for rule, ids in planted.items()}
    missed = {rule: ids for rule, ids in missed.items() if ids}
    total = sum(len(ids) for ids in found.values())
    true = sum(len(ids & found.get(rule, set())) for rule, ids in planted.items())
    excluded = set(data["excluded"])
    return {
        "status": checked.status,
        "payments": checked.payments,
        "seconds": round(seconds, 3),
        "rules": [
            {key: entry.get(key) for key in ("rule", "findings", "ms", "skipped") if key in entry}
            for entry in checked.rules_run
        ],
        "findings": total,
        "planted_found": true,
        "planted": sum(len(ids) for ids in planted.values()),
        "missed": missed,
        "on_excluded": sum(len(ids & excluded) for ids in found.values()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000, help="payments in the payout (default 10^6)")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it matches")
    parser.add_argument("--runs", type=int, default=1, help="how many times to run the checks (default 1)")
    args = parser.parse_args(argv)
    params = parameters(args.payments)

    stored = None if args.rebuild else DB.built_with()
    if stored is None or stored["params"] != params:
        print(f"building {DB_NAME} for {json.dumps(params)} …", flush=True)
        began = time.perf_counter()
        DB.recreate()
        migrate = time.perf_counter() - began
        DB.setup_django()
        stored = build(params)
        print(
            f"migrate {migrate:.1f} s, build {stored['build_seconds']} s, vacuum analyze {stored['vacuum_seconds']} s;"
            f" rows: {json.dumps(stored['counts'])}",
            flush=True,
        )
    else:
        DB.setup_django()
        print(f"reusing {DB_NAME} built for {json.dumps(params)}", flush=True)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"machine: {machine()}; PostgreSQL {server}", flush=True)
    failed = False
    for _ in range(args.runs):
        result = run(stored)
        print(f"{'rule':<24}{'findings':>10}{'seconds':>10}")
        for entry in result["rules"]:
            seconds = f"{entry['ms'] / 1000:.3f}" if "ms" in entry else entry.get("skipped", "")
            print(f"{entry['rule']:<24}{entry.get('findings', 0):>10}{seconds:>10}")
        ruled = sum(entry.get("ms", 0) for entry in result["rules"]) / 1000
        print(f"{'rules together':<24}{result['findings']:>10}{ruled:>10.3f}")
        print(f"{'run_checks, whole':<24}{'':>10}{result['seconds']:>10.3f}")
        print(
            f"recall: {result['planted_found']}/{result['planted']} planted payments found under their rule;"
            f" {result['findings'] - result['planted_found']} other findings; {result['on_excluded']} on excluded rows"
        )
        print(json.dumps(result), flush=True)
        failed = failed or bool(result["missed"]) or result["on_excluded"] > 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
