"""Planting reference data straight into the database (the import path is tested in test_reference_*.py), and
looking for ID numbers where none may be."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from checks.enums import LoadStatus
from checks.models import ReferenceLoad, ReferenceRecord, ReferenceSource
from disbursement.models import Payment

ID_PATTERN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def current_load(source_code: str, user, records, *, as_of=dt.date(2026, 11, 20)) -> ReferenceLoad:
    """A load made the source's current one, holding `records`: (id_hash, {field: value}) pairs, rows 2, 3, …"""
    source = ReferenceSource.objects.get(code=source_code)
    records = list(records)
    load = ReferenceLoad.objects.create(
        source=source, as_of=as_of, filename=f"{source_code}.csv", size=1, sha256="0" * 64,
        status=LoadStatus.ACTIVE, uploaded_by=user, rows_read=len(records), valid=len(records),
    )  # fmt: skip
    ReferenceRecord.objects.bulk_create(
        ReferenceRecord(load=load, row=i + 2, id_hash=id_hash, id_masked="410103********0000", **fields)
        for i, (id_hash, fields) in enumerate(records)
    )
    ReferenceSource.objects.filter(pk=source.pk).update(current_load=load)
    return load


def plant_death(user, payout, *, positions=(1,), died=dt.date(2026, 3, 1)) -> list[Payment]:
    """Make the persons of these payments (by position in the roster) dead in a current death list."""
    ordered = list(Payment.objects.filter(payout=payout).select_related("recipient").order_by("row"))
    payments = [ordered[i] for i in positions]
    current_load("death", user, [(p.recipient.id_hash, {"event_date": died}) for p in payments])
    return payments


def id_numbers(rows) -> set[str]:
    """The roster's ID numbers as the registry holds them (the generator adds full-width digits and spaces)."""
    return {unicodedata.normalize("NFKC", str(row["身份证号码"])).replace(" ", "").upper() for row in rows}


def assert_no_id_number(body: str, numbers: set[str]) -> None:
    assert not ID_PATTERN.search(body), ID_PATTERN.search(body).group(0)
    assert not [number for number in numbers if number in body.upper()]
