"""Fixtures for the checks tests."""

from __future__ import annotations

import csv
import datetime as dt

import openpyxl
import pytest

from checks.models import ReferenceLoad, ReferenceSource
from checks.references import reference_upload
from yikatong.domain import calc_check_char

# --- reference data (tests/checks/test_reference_*.py) ---------------------------------------------------


def make_citizen_id(i: int, *, region: str = "410103", born: str = "19700101") -> str:
    """A valid 18-digit ID: person `i` (0–999) born on `born` in `region`; other days for larger i."""
    day = dt.date.fromisoformat(f"{born[:4]}-{born[4:6]}-{born[6:]}") + dt.timedelta(days=i // 1000)
    first17 = f"{region}{day:%Y%m%d}{i % 1000:03d}"
    return first17 + calc_check_char(first17)


@pytest.fixture
def citizen_id():
    return make_citizen_id


@pytest.fixture
def reference_file(tmp_path):
    """Writes `rows` under `header` as .csv (UTF-8) or .xlsx (text cells unless a row holds other types)."""

    def write(header: list, rows: list[list], *, name: str = "reference.csv", title: str | None = None):
        path = tmp_path / name
        lines = ([[title]] if title else []) + [header, *rows]
        if name.endswith(".csv"):
            with path.open("w", encoding="utf-8", newline="") as handle:
                csv.writer(handle).writerows(lines)
        else:
            book = openpyxl.Workbook()
            sheet = book.active
            for line in lines:
                sheet.append(line)
            for row in sheet.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str):
                        cell.number_format = "@"
            book.save(path)
        return path

    return write


@pytest.fixture
def import_reference(finance_admin, django_capture_on_commit_callbacks):
    """Uploads a file for a source as `user` (finance by default) and runs its import job to the end."""

    def run(code: str, path, *, user=None, as_of: dt.date = dt.date(2026, 1, 31)) -> ReferenceLoad:
        source = ReferenceSource.objects.get(code=code)
        with django_capture_on_commit_callbacks(execute=True):
            load = reference_upload(
                acting_user=user or finance_admin,
                source=source,
                as_of=as_of,
                filename=path.name,
                data=path.read_bytes(),
            )
        return ReferenceLoad.objects.select_related("source", "job").get(pk=load.pk)

    return run


@pytest.fixture
def death_source_of_a(department_a):
    """The death records, provided by department A (民政)."""
    ReferenceSource.objects.filter(code="death").update(department=department_a)
    return ReferenceSource.objects.get(code="death")
