import datetime as dt

import pytest

from disbursement.periods import overlapping_periods, period_months, period_range


@pytest.mark.parametrize(
    ("period", "start", "end", "months"),
    [
        ("2026-11", dt.date(2026, 11, 1), dt.date(2026, 11, 30), 1),
        ("2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29), 1),
        ("2026-Q4", dt.date(2026, 10, 1), dt.date(2026, 12, 31), 3),
        ("2026", dt.date(2026, 1, 1), dt.date(2026, 12, 31), 12),
    ],
)
def test_period_range(period, start, end, months):
    assert period_range(period) == (start, end)
    assert period_months(period) == months


def test_overlapping_periods():
    assert overlapping_periods("2026-11") == ["2026", "2026-Q4", "2026-11"]
    assert overlapping_periods("2026-Q1") == ["2026", "2026-Q1", "2026-01", "2026-02", "2026-03"]
    assert len(overlapping_periods("2026")) == 1 + 4 + 12


def test_not_a_period():
    with pytest.raises(ValueError):
        period_range("2026-13")
