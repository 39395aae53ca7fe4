"""The descriptive fields of a list entry, in one place: copied to next year, compared, audited, exported."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext_lazy as _

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


def field_label(name: str) -> str:
    """The Chinese label of an entry field."""
    from policies.models import PolicyEntry

    return str(PolicyEntry._meta.get_field(name).verbose_name)


def display_value(name: str, value: Any, departments: dict[str, str] | None = None) -> str:
    """A snapshot value (see ``entry_snapshot``) as a person reads it: choice labels, 是/否, department names."""
    from policies.models import PolicyEntry

    if value is None or value == "" or value == []:
        return "—"
    if name == "department":
        return (departments or {}).get(value, value)
    if isinstance(value, bool):
        return str(_("是") if value else _("否"))
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    model_field = PolicyEntry._meta.get_field(name)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return str(value)


def entry_copy_values(entry) -> dict[str, Any]:
    """Keyword arguments that recreate the entry's content in another list."""
    values = {name: getattr(entry, name) for name in ENTRY_FIELDS if name != "department"}
    values["department_id"] = entry.department_id
    return values
