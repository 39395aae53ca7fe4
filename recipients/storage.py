"""Uploaded roster files at rest: encrypted whole (they hold ID and account numbers), under a random name."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from django.conf import settings

from yikatong import pii

_PURPOSE = "roster_file"


def _root() -> Path:
    root = Path(settings.MEDIA_ROOT) / "rosters"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def store(data: bytes) -> tuple[str, str]:
    """Encrypt and write ``data``; returns (stored name, SHA-256 of the plain file)."""
    name = secrets.token_hex(16) + ".bin"
    (_root() / name).write_bytes(pii.encrypt_bytes(data, purpose=_PURPOSE))
    (_root() / name).chmod(0o600)
    return name, hashlib.sha256(data).hexdigest()


def load(name: str) -> bytes:
    if not name or "/" in name or "\\\\" in name or name.startswith("."):
        raise ValueError("bad stored file name")
    return pii.decrypt_bytes((_root() / name).read_bytes(), purpose=_PURPOSE)
