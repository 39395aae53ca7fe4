"""Writing and verifying the audit trail. Every service that changes state calls ``audit_record``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from audit.chain import GENESIS, HASHED_FIELDS, entry_hash, jsonable
from audit.models import AuditEvent
from yikatong.requestctx import current_request_id

# One advisory lock key for the chain: appends are serialised so each links to the true previous entry.
_CHAIN_LOCK_KEY = 0x59_4B_54_41  # "YKTA"

# Keys whose values are identity or account numbers: only masked values may enter the trail.
SENSITIVE_KEYS = frozenset({"id_number", "account", "account_number", "bank_account"})


class UnmaskedValueError(ValueError):
    pass


def _check_masked(payload: Any, path: str = "") -> None:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key in SENSITIVE_KEYS and value not in (None, "") and "*" not in str(value):
                raise UnmaskedValueError(f"Audit value {path}{key} must be masked before it is recorded.")
            _check_masked(value, f"{path}{key}.")
    elif isinstance(payload, list):
        for item in payload:
            _check_masked(item, path)


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so writers are already serialised.


def audit_record(
    *,
    acting_user=None,
    action: str,
    obj: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    department_id: int | None = None,
    region_code: str = "",
    actor_label: str | None = None,
    remote_addr: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    object_repr: str | None = None,
) -> AuditEvent:
    """Append one entry to the trail, inside the caller's transaction (or a new one)."""
    _check_masked(before)
    _check_masked(after)
    if acting_user is not None and not acting_user.is_authenticated:
        acting_user = None
    if actor_label is None:
        actor_label = acting_user.get_username() if acting_user is not None else "system"
    fields: dict[str, Any] = {
        "created_at": timezone.now(),
        "actor_id": acting_user.pk if acting_user is not None else None,
        "actor_label": actor_label[:150],
        "actor_role": getattr(acting_user, "role", "") or "",
        "action": str(action),
        "object_type": object_type if object_type is not None else (obj._meta.label_lower if obj else ""),
        "object_id": object_id if object_id is not None else (str(obj.pk) if obj is not None else ""),
        "object_repr": (object_repr if object_repr is not None else (str(obj) if obj is not None else ""))[:200],
        "department_id": department_id,
        "region_code": region_code or "",
        "before": jsonable(before),
        "after": jsonable(after),
        "request_id": current_request_id(),
        "remote_addr": remote_addr,
    }
    with transaction.atomic():
        _lock_chain()
        previous = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS
        event = AuditEvent(**fields, hash=entry_hash(previous, fields))
        event.save(force_insert=True)
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def _rows() -> Iterable[dict[str, Any]]:
    return AuditEvent.objects.order_by("id").values("id", "hash", *HASHED_FIELDS).iterator(chunk_size=5000)


def audit_verify() -> ChainReport:
    """Walk the chain in order; name the first entry whose hash does not follow from the one before."""
    previous = GENESIS
    checked = 0
    for row in _rows():
        expected = entry_hash(previous, row)
        if expected != row["hash"]:
            return ChainReport(
                ok=False,
                checked=checked,
                first_broken_id=row["id"],
                reason="entry altered, or the entry before it was altered or removed",
            )
        previous = row["hash"]
        checked += 1
    return ChainReport(ok=True, checked=checked)
