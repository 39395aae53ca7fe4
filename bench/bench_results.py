"""Result file benchmark (回盘): a bank's result file for one batch of N payments, received and applied by the
``results.apply`` job (banks/results.py), against the issue's target of 20 s for 10^6 payments.

    .venv/bin/python bench/bench_results.py --payments 1000000 --runs 3   # builds yikatong_bench_results once
    .venv/bin/python bench/bench_results.py --payments 1000000 --rebuild  # build again from scratch
    .venv/bin/python bench/bench_results.py --append docs/benchmarks.md   # also append the table there

Works in its own PostgreSQL database, ``yikatong_bench_results`` on 127.0.0.1:5432 (user postgres), built like
bench_batch_file's (``bench.bench_batch_file.build``: COPY of N recipients and approved payments), then released,
its file generated and acknowledged by the bank: N ``batched`` payments in one batch of ``ccb-erqi`` (GBK).
The result file (95 % paid with a transaction id and time, 5 % failed with a catalogue reason) is written once per
invocation and not counted. Each run puts the payments back to ``batched`` without a result, then times:

- apply: ``result_file_receive`` (to disk, hashed), ``results_submit_file`` (submission + job row) and the job
  end to end (parse + COPY into staging, checks, the one UPDATE, closing the batch, commit), with a breakdown;
- replay: the same file again, a new submission — everything unchanged;
- bad status / not in batch: the file with its last line wrong (an unknown status, found while reading; a
  well-formed reference to no payment of the batch, found by the checks) — rejected whole.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script (python bench/bench_results.py): make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.benchdb import ROOT, BenchDatabase, machine

DB_NAME = "yikatong_bench_results"
META = "bench_results_meta"
DB = BenchDatabase(DB_NAME, META)
WORK_DIR = ROOT / "var" / "bench" / "results"
FILE_CHUNK = 1024 * 1024  # what banks/api.py reads a request body by
FAIL_EVERY = 20  # every 20th payment fails: 5 %, and at least one in any batch
# Failure reasons as banks give them, most common first (banks/defaults.py catalogue codes).
FAIL_MIX = ["account_closed"] * 4 + ["name_mismatch"] * 3 + ["account_frozen"] * 2 + [
    "account_not_found", "card_limit", "account_dormant", "holder_deceased", "other",
]  # fmt: skip
RESULT_DATE = "20261124"
VARIANTS = ("apply", "replay", "bad_status", "not_in_batch")
EXPECTED_CODE = {"bad_status": "unknown_status", "not_in_batch": "payment_not_in_batch"}


# --- The database ------------------------------------------------------------------------------------------------


def build(payments: int) -> dict:
    """bench_batch_file's payout of N payments, released into one batch whose file is generated and acknowledged."""
    from django.db import connection

    from banks.exchange import batch_acknowledge
    from banks.tokens import bank_identity
    from bench import bench_batch_file
    from disbursement.models import Batch

    began = time.perf_counter()
    data = bench_batch_file.build(payments)
    generated = bench_batch_file.run(data, workers=2)
    assert generated["verified"], generated
    (batch,) = Batch.objects.filter(payout_id=data["payout_id"]).select_related("bank")
    bank_identity(batch.bank)
    batch_acknowledge(bank=batch.bank, batch=batch, file_sha256=batch.file_sha256)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {bench_batch_file.META}")  # that builder's record; ours follows
        cursor.execute("VACUUM ANALYZE disbursement_payment")
    meta = {
        "payments": payments,
        "batch_id": batch.pk,
        "batch_no": batch.batch_no,
        "build_seconds": round(time.perf_counter() - began, 1),
    }
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {META} (data jsonb NOT NULL)")
        cursor.execute(f"INSERT INTO {META} (data) VALUES (%s)", [json.dumps(meta)])  # noqa: S608
    return meta


def reset(batch_id: int) -> None:
    """Every payment of the batch back to batched with no result, the batch back to acknowledged.

    Only a benchmark may do this: the trigger payment_result_moves_once forbids a result to move back (paid → none),
    so it is disabled for this one UPDATE, inside this transaction (ALTER TABLE is transactional in PostgreSQL:
    no other session ever sees the payments unprotected), and enabled again before the commit."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        # ALTER TABLE refuses to run while deferred foreign-key checks are pending (in the smoke test's transaction):
        # run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'disbursement_payment'::regclass AND tgname LIKE %s",
            ["pgtrigger_payment_result_moves_once_%"],
        )
        (trigger,) = cursor.fetchone()
        cursor.execute(f'ALTER TABLE disbursement_payment DISABLE TRIGGER "{trigger}"')
        cursor.execute(
            "UPDATE disbursement_payment SET status = 'batched', result = '', result_code = '', result_reason = '',"
            " bank_txn_id = '', paid_at = NULL, result_at = NULL, returned_at = NULL"
            " WHERE batch_id = %s AND result <> ''",
            [batch_id],
        )
        cursor.execute(f'ALTER TABLE disbursement_payment ENABLE TRIGGER "{trigger}"')
        cursor.execute(
            "UPDATE disbursement_batch SET status = 'acknowledged', first_result_at = NULL, closed_at = NULL"
            " WHERE id = %s",
            [batch_id],
        )
    # Every run starts from the same table: without the dead rows of the last apply and reset (VACUUM cannot run
    # in a transaction, as in the smoke test; there ANALYZE alone).
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE disbursement_payment" if connection.in_atomic_block else "VACUUM ANALYZE disbursement_payment"
        )


# --- The result files --------------------------------------------------------------------------------------------


@dataclass
class ResultFiles:
    paths: dict[str, Path]  # variant → file; replay uses apply's
    payments: int
    paid: int
    failed: int
    size: int
    write_seconds: float


def write_files(batch, directory: Path) -> ResultFiles:
    """The bank's result file for every payment of the batch, and the two with a bad last line."""
    from banks.defaults import FAILURE_REASONS
    from disbursement.models import Payment, payment_ref

    began = time.perf_counter()
    reasons = {code: name for code, name, _correctable in FAILURE_REASONS}
    payments = Payment.objects.filter(batch_id=batch.pk).order_by("row").values_list("row", "attempt", "amount")
    code = batch.payout.code
    lines, total, failed, last_row = [], 0, 0, 0
    for i, (row, attempt, amount) in enumerate(payments.iterator(chunk_size=20_000)):
        fen = int(amount * 100)
        total += fen
        last_row = max(last_row, row)
        ref = payment_ref(code, row, attempt)
        if i % FAIL_EVERY == 0:
            failed += 1
            reason = FAIL_MIX[(i // FAIL_EVERY) % len(FAIL_MIX)]
            lines.append(f"D|{ref}|failed|{fen}|{reason}|{reasons[reason]}||")
        else:
            when = f"{RESULT_DATE}{9 + i // 3600 % 8:02d}{i // 60 % 60:02d}{i % 60:02d}"
            lines.append(f"D|{ref}|paid|{fen}|||CCB{RESULT_DATE}{i:012d}|{when}")
    head = f"H|{batch.batch_no}|{batch.bank.code}|{len(lines)}|{RESULT_DATE}"
    tail = f"T|{len(lines)}|{total}"
    encoding = batch.bank.file_encoding
    directory.mkdir(parents=True, exist_ok=True)

    def write(name: str, last: str) -> Path:
        path = directory / f"{batch.batch_no}-{name}.txt"
        with path.open("w", encoding=encoding, newline="") as out:
            out.write(head + "\r\n")
            out.write("\r\n".join(lines[:-1]))
            out.write(("\r\n" if len(lines) > 1 else "") + last + "\r\n" + tail + "\r\n")
        return path

    good = write("apply", lines[-1])
    seconds = time.perf_counter() - began
    fields = lines[-1].split("|")
    # The same amount on the bad line: count and total still match, so that line is the file's only problem.
    bad_status = write("bad_status", "|".join([*fields[:2], "lost", *fields[3:]]))
    stranger = payment_ref(code, last_row + 1)
    not_in_batch = write("not_in_batch", "|".join([fields[0], stranger, *fields[2:]]))
    return ResultFiles(
        paths={"apply": good, "replay": good, "bad_status": bad_status, "not_in_batch": not_in_batch},
        payments=len(lines),
        paid=len(lines) - failed,
        failed=failed,
        size=good.stat().st_size,
        write_seconds=seconds,
    )


# --- Timing the job from outside --------------------------------------------------------------------------------


@contextlib.contextmanager
def instrumented(times: dict):
    """Wrap the steps of banks.results (module globals, looked up at each call) and every SQL statement of the
    connection, adding their seconds to ``times``; the slowest statements go to ``times["statements"]``."""
    from django.db import connection

    from banks import results

    def timed(name: str, function):
        def wrapper(*args, **kwargs):
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                times[name] = times.get(name, 0.0) + time.perf_counter() - began

        return wrapper

    def on_sql(execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds = time.perf_counter() - began
            if sql.lstrip().startswith("UPDATE disbursement_payment AS p"):
                times["update"] = times.get("update", 0.0) + seconds
            if seconds >= 0.05:
                times.setdefault("statements", []).append((" ".join(sql.split())[:90], round(seconds, 3)))

    names = ("_stage_fill", "_stage_write", "_check", "_apply", "_reject")
    originals = {name: getattr(results, name) for name in names}
    for name in names:
        setattr(results, name, timed(name.lstrip("_"), originals[name]))
    try:
        with connection.execute_wrapper(on_sql):
            yield times
    finally:
        for name, function in originals.items():
            setattr(results, name, function)


def send(batch, path: Path) -> tuple[dict, object]:
    """What the API does with a result file, then the job in this process; (seconds by step, submission)."""
    from django.conf import settings

    import jobs.services
    from banks.results import result_file_dir, result_file_receive, results_submit_file
    from jobs.services import job_run

    times: dict = {"load": os.getloadavg()[0]}
    began = time.perf_counter()
    with path.open("rb") as stream:
        stored, digest, _size = result_file_receive(
            iter(lambda: stream.read(FILE_CHUNK), b""), max_bytes=settings.MAX_UPLOAD_MB * 1024 * 1024
        )
    times["receive"] = time.perf_counter() - began
    dispatch = jobs.services._dispatch
    jobs.services._dispatch = lambda job_id: None  # the job is run below, in this process, and timed on its own
    try:
        began = time.perf_counter()
        submission, _new = results_submit_file(bank=batch.bank, batch=batch, path=stored, body_sha256=digest)
        times["submit"] = time.perf_counter() - began
    finally:
        jobs.services._dispatch = dispatch
    with instrumented(times):
        began = time.perf_counter()
        job_run(job_id=submission.job_id)
        times["job"] = time.perf_counter() - began
    (result_file_dir() / submission.stored_file).unlink(missing_ok=True)  # 10^6 lines are 80 MB: keep none
    submission.refresh_from_db()
    times["parse"] = times.get("stage_fill", 0.0) - times.get("stage_write", 0.0)
    steps = sum(times.get(name, 0.0) for name in ("stage_fill", "check", "apply", "reject"))
    times["other"] = times["job"] - steps
    times["total"] = times["receive"] + times["submit"] + times["job"]
    return times, submission


def _state(batch_id: int) -> dict:
    from django.db.models import Count

    from disbursement.models import Batch, Payment

    counts = Payment.objects.filter(batch_id=batch_id).values_list("status").annotate(n=Count("pk"))
    return {"payments": dict(counts), "batch": Batch.objects.get(pk=batch_id).status}


def run(batch, files: ResultFiles) -> dict:
    """One run: reset, then apply, replay and the two bad files, each checked; {variant: times, "ok": bool, …}."""
    began = time.perf_counter()
    reset(batch.pk)
    out: dict = {"reset": {"seconds": time.perf_counter() - began}, "problems": []}
    applied = {"paid": files.paid, "failed": files.failed, "returned": 0}
    expected_state = {"payments": {"paid": files.paid, "failed": files.failed}, "batch": "closed"}
    expected_state["payments"] = {k: v for k, v in expected_state["payments"].items() if v}
    for variant in VARIANTS:
        times, submission = send(batch, files.paths[variant])
        out[variant] = times
        if variant == "apply":
            want = ("applied", {"applied": applied, "unchanged": 0})
            got = (submission.status, submission.counts)
        elif variant == "replay":
            want = ("applied", {"applied": dict.fromkeys(applied, 0), "unchanged": files.payments})
            got = (submission.status, submission.counts)
        else:
            want = ("rejected", EXPECTED_CODE[variant], 1)
            got = (submission.status, submission.error_code, submission.counts.get("errors"))
        if got != want:
            out["problems"].append(f"{variant}: {got} (expected {want}): {submission.errors[:3]}")
        state = _state(batch.pk)
        if state != expected_state:
            out["problems"].append(f"after {variant}: {state} (expected {expected_state})")
    out["ok"] = not out["problems"]
    return out


# --- Reporting ----------------------------------------------------------------------------------------------------

ROWS = [
    ("apply", "receive", "apply: `result_file_receive` (write to disk + SHA-256)"),
    ("apply", "submit", "apply: `results_submit_file` (submission + job row)"),
    ("apply", "job", "apply: the job, end to end"),
    ("apply", "parse", "  · read + check lines (`file_rows`, `RowReader`)"),
    ("apply", "stage_write", "  · COPY into staging (CSV building + COPY)"),
    ("apply", "check", "  · checks (ANALYZE, duplicates, one join with the payments)"),
    ("apply", "apply", "  · apply (count, UPDATE, close the batch, audit)"),
    ("apply", "update", "    · of which the UPDATE … FROM"),
    ("apply", "other", "  · the rest (lock, job bookkeeping, commit)"),
    ("apply", "total", "**apply: receive + submit + job**"),
    ("replay", "total", "replay of the same file (all unchanged): total"),
    ("replay", "job", "  · of which the job"),
    ("bad_status", "total", "bad status on the last line: until rejected"),
    ("not_in_batch", "total", "last line not in the batch: until rejected"),
    ("reset", "seconds", "reset between runs (not counted)"),
    ("apply", "load", "load average (1 min) at the start of apply"),
]


def table(runs: list[dict]) -> str:
    head = "| step | " + " | ".join(f"run {i}" for i in range(1, len(runs) + 1)) + " | median |"
    lines = [head, "|---|" + "---:|" * (len(runs) + 1)]
    for variant, key, label in ROWS:
        values = [r[variant].get(key, 0.0) for r in runs]
        cells = [f"{v:.1f}" if key == "load" else f"{v:.2f} s" for v in values]
        median = statistics.median(values)
        cell = f"{median:.1f}" if key == "load" else f"{median:.2f} s"
        if label.startswith("**"):
            cell = f"**{cell}**"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {cell} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payments", type=int, default=1_000_000, help="payments in the batch (default 10^6)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every case; the table gives the median")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it matches")
    parser.add_argument("--append", type=Path, help="append the command, machine, date and table to this file")
    args = parser.parse_args(argv)
    command = " ".join(["python bench/bench_results.py", *(argv if argv is not None else sys.argv[1:])])

    # Received files go under the benchmark's own directory, never into the project's media.
    os.environ["MEDIA_ROOT"] = str(WORK_DIR / "media")
    stored = None if args.rebuild else DB.built_with()
    if stored is None or stored["payments"] != args.payments:
        print(f"building {DB_NAME} with {args.payments} payments …", flush=True)
        DB.recreate()
        DB.setup_django()
        stored = build(args.payments)
        print(f"built in {stored['build_seconds']} s", flush=True)
    else:
        DB.setup_django()
        print(f"reusing {DB_NAME} built with {args.payments} payments", flush=True)
    from django.db import connection

    from disbursement.models import Batch

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    batch = Batch.objects.select_related("bank", "payout").get(pk=stored["batch_id"])
    files = write_files(batch, WORK_DIR)
    print(
        f"result file: {files.payments} lines ({files.paid} paid, {files.failed} failed), {files.size} bytes"
        f" {batch.bank.file_encoding}, written in {files.write_seconds:.1f} s (not counted)",
        flush=True,
    )
    runs = []
    for i in range(1, args.runs + 1):
        result = run(batch, files)
        runs.append(result)
        summary = {v: {k: (round(x, 3) if isinstance(x, float) else x) for k, x in result[v].items()} for v in VARIANTS}
        print(f"run {i}: ok {result['ok']} {result['problems']}\n{json.dumps(summary, ensure_ascii=False)}", flush=True)
    machine_line = f"{machine()}; PostgreSQL {server}"
    median = statistics.median(r["apply"]["total"] for r in runs)
    verdict = "within" if median < 20 else f"missed by {median - 20:.1f} s"
    report = (
        f"`{command}` — {dt.date.today().isoformat()}; {machine_line}\n\n"
        f"{files.payments:,} results ({files.paid:,} paid, {files.failed:,} failed), {files.size:,} bytes"
        f" ({batch.bank.file_encoding}); {len(runs)} runs, all checked: {all(r['ok'] for r in runs)}.\n\n"
        f"{table(runs)}\n\nTarget 20 s: median {median:.1f} s, {verdict}.\n"
    )
    print("\n" + report)
    if args.append:
        with args.append.open("a", encoding="utf-8") as out:
            out.write("\n" + report)
    return 0 if all(r["ok"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
