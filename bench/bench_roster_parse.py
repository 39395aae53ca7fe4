"""Time reading and validating a roster: `open_roster` + `rows()` + `RowValidator.validate` on synthetic
10^5- and 10^6-row xlsx files (1 % defective rows), with rows/s and peak RSS per size.

    .venv/bin/python -m bench.bench_roster_parse                  # 10^5 and 10^6 rows
    .venv/bin/python -m bench.bench_roster_parse --sizes 100000   # one size

Files are generated once into var/synth/ (git-ignored) and reused. Each size runs in a fresh process, so
its peak RSS is its own. No database: the staging (COPY) step is the importer's and is measured there.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

from bench import synth

AS_OF = date(2026, 11, 1)
STANDARD = Decimal("100")


def roster_path(directory: Path, rows: int, seed: int, error_rate: float, fmt: str) -> Path:
    return directory / f"roster-s{seed}-e{error_rate:g}-{rows}.{fmt}"


def ensure_roster(path: Path, rows: int, seed: int, error_rate: float) -> float:
    """Write the file unless it is already there; returns the seconds spent writing (0 when reused)."""
    if path.exists():
        return 0.0
    began = time.perf_counter()
    county = synth.make_county(seed)
    generated = synth.iter_roster_rows(seed, county, rows, error_rate=error_rate)
    tmp = path.with_suffix(".partial" + path.suffix)
    if path.suffix == ".csv":
        synth.write_roster_csv(generated, tmp)
    else:
        synth.write_roster_xlsx(generated, tmp, title=f"{county.name}高龄津贴发放名册")
    tmp.rename(path)
    return time.perf_counter() - began


def measure(path: Path) -> dict:
    """One file, in this process: open, then rows() alone, then rows() + validate."""
    from recipients.roster_file import open_roster
    from recipients.roster_rules import PolicyBounds, RowValidator

    began = time.perf_counter()
    sheet = open_roster(path, filename=path.name, max_bytes=1 << 30, max_rows=2_000_000)
    opened = time.perf_counter()
    rows_only = sum(1 for _ in sheet.rows())
    read = time.perf_counter()

    validator = RowValidator(sheet.columns, PolicyBounds(STANDARD, as_of=AS_OF))
    validate = validator.validate
    codes: Counter[str] = Counter()
    valid = rejected = 0
    second = time.perf_counter()
    for raw in sheet.rows():
        clean, issues = validate(raw)
        if clean is None:
            rejected += 1
        else:
            valid += 1
        for issue in issues:
            codes[issue.code] += 1
    done = time.perf_counter()
    sheet.close()

    read_s = read - opened
    both_s = done - second
    rows = valid + rejected
    assert rows == rows_only
    return {
        "file": str(path),
        "rows": rows,
        "valid": valid,
        "rejected": rejected,
        "open_s": round(opened - began, 2),
        "rows_s": round(read_s, 2),
        "validate_s": round(both_s - read_s, 2),
        "validate_us_per_row": round((both_s - read_s) / rows * 1e6, 2),
        "end_to_end_s": round(opened - began + both_s, 2),
        "rows_per_s": round(rows / (opened - began + both_s)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "issues": dict(codes.most_common()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_roster_parse", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--error-rate", type=float, default=0.01)
    parser.add_argument("--dir", type=Path, default=Path("var/synth"))
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child process: measure this file
    args = parser.parse_args(argv)

    if args.one:
        print(json.dumps(measure(args.one), ensure_ascii=False))
        return 0

    args.dir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        path = roster_path(args.dir, size, args.seed, args.error_rate, args.format)
        written = ensure_roster(path, size, args.seed, args.error_rate)
        if written:
            print(f"wrote {path} in {written:.1f} s", file=sys.stderr)
        child = subprocess.run(
            [sys.executable, "-m", "bench.bench_roster_parse", "--one", str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(child.stdout)
        result["file_mb"] = round(path.stat().st_size / (1 << 20), 1)
        results.append(result)
        print(json.dumps(result, ensure_ascii=False))

    print()
    print("| rows | file | open (load) | rows() | validate | µs/row validate | end to end | rows/s | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['file_mb']} MB | {r['open_s']} s | {r['rows_s']} s | {r['validate_s']} s "
            f"| {r['validate_us_per_row']} | {r['end_to_end_s']} s | {r['rows_per_s']:,} | {r['peak_rss_mb']} MB |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
