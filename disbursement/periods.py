"""发放期间: a month (2026-11), a quarter (2026-Q4) or a year (2026), as dates and as overlapping periods."""

from __future__ import annotations

import calendar
import datetime as dt
import re

_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|-Q([1-4]))?$")


def _parse(period: str) -> tuple[int, int, int]:
    """(year, first month, number of months)."""
    match = _PERIOD.match(period)
    if match is None:
        raise ValueError(f"not a period: {period!r}")
    year, month, quarter = match.groups()
    if month:
        return int(year), int(month), 1
    if quarter:
        return int(year), 3 * int(quarter) - 2, 3
    return int(year), 1, 12


def period_range(period: str) -> tuple[dt.date, dt.date]:
    """First and last day of the period."""
    year, first, months = _parse(period)
    last = first + months - 1
    return dt.date(year, first, 1), dt.date(year, last, calendar.monthrange(year, last)[1])


def period_months(period: str) -> int:
    return _parse(period)[2]


def overlapping_periods(period: str) -> list[str]:
    """Every period string of the same year that shares at least one month with this one."""
    year, first, months = _parse(period)
    covered = set(range(first, first + months))
    found = [str(year)]
    found += [f"{year}-Q{q}" for q in range(1, 5) if covered & set(range(3 * q - 2, 3 * q + 1))]
    found += [f"{year}-{m:02d}" for m in sorted(covered)]
    return found
