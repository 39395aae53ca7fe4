"""The descriptive fields of a list entry, in one place: copied to next year, compared, audited, exported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models.fields.files import FieldFile

ENTRY_FIELDS = (
    "name",
    "short_name",
    "department",
    "business_office",
    "level",
    "share_central",
    "share_provincial",
    "share_municipal",
    "share_county",
    "beneficiary",
    "target_group",
    "scope",
    "basis_title",
    "basis_number",
    "basis_issuer",
    "basis_date",
    "basis_file",
    "standard_kind",
    "standard_amount",
    "standard_unit",
    "quantity_unit",
    "frequency",
    "min_age",
    "max_age",
    "eligible_regions",
    "exclusive_with",
    "excludes_public_employees",
    "restrictions",
    "valid_from",
    "valid_to",
    "status",
    "is_secret",
    "contact_office",
    "contact_phone",
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, FieldFile):
        return value.name or ""
    return value


def entry_snapshot(entry) -> dict[str, Any]:
    """The entry's fields as plain JSON values; the department by its code, which people recognise."""
    values = {}
    for name in ENTRY_FIELDS:
        if name == "department":
            values[name] = entry.department.code if entry.department_id else None
        else:
            values[name] = _plain(getattr(entry, name))
    return values


def entry_copy_values(entry) -> dict[str, Any]:
    """Keyword arguments that recreate the entry's content in another list."""
    values = {name: getattr(entry, name) for name in ENTRY_FIELDS if name != "department"}
    values["department_id"] = entry.department_id
    return values
