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
import tempfile
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
    # Write a private temporary file, then link it into place: the key file appears whole or not at all,
    # and when two processes start together the second one reads the first one's keys.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".dev-keys-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2)
        os.link(temporary, path)
    except FileExistsError:
        return json.loads(path.read_text(encoding="utf-8"))
    finally:
        os.unlink(temporary)
    return keys
