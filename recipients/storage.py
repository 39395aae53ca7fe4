"""Uploaded roster files at rest: encrypted whole (they hold ID and account numbers), under a random name."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from yikatong import pii

_PURPOSE = "roster_file"


def _root() -> Path:
    root = Path(settings.MEDIA_ROOT) / "rosters"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def accept(data: bytes, *, empty_message: str | None = None) -> None:
    """Refuse an upload before anything of it is kept: empty (file_empty) or over MAX_UPLOAD_MB (file_too_large)."""
    if not data:
        raise ValidationError(empty_message or _("文件为空。"), code="file_empty")
    if len(data) > settings.MAX_UPLOAD_MB * 1024 * 1024:
        raise ValidationError(_("文件过大：上限为 %(mb)s MB。") % {"mb": settings.MAX_UPLOAD_MB}, code="file_too_large")


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
