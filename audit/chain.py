"""How an audit entry is hashed: SM3 over the previous hash and a canonical form of the entry."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography.hazmat.primitives import hashes

GENESIS = "0" * 64
HASHED_FIELDS = (
    "created_at",
    "actor_id",
    "actor_label",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "object_repr",
    "department_id",
    "region_code",
    "before",
    "after",
    "request_id",
    "remote_addr",
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def jsonable(value: Any) -> Any:
    """What a JSON column gives back: hashing this form makes the hash survive the round trip."""
    if value is None:
        return None
    return json.loads(canonical_json(value))


def _field_value(name: str, value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    if name in ("before", "after"):
        return jsonable(value)
    return value


def entry_hash(previous_hash: str, fields: dict[str, Any]) -> str:
    body = {name: _field_value(name, fields.get(name)) for name in HASHED_FIELDS}
    digest = hashes.Hash(hashes.SM3())
    digest.update(previous_hash.encode("ascii"))
    digest.update(canonical_json(body).encode("utf-8"))
    return digest.finalize().hex()
