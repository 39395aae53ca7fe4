"""Keys for the zero-configuration developer setup.

With no secrets in the environment, `make run` must still work and the data it encrypts must stay
readable across restarts, so the keys are generated once into ``var/dev-keys.json`` (mode 0600).
A deploy check refuses these keys in production.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path


def load_or_create(path: Path) -> dict[str, str]:
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "PII_ENCRYPTION_KEYS": "dev1:" + base64.b64encode(secrets.token_bytes(16)).decode(),
        "PII_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2)
    return keys
