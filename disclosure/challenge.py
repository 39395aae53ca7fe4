"""A simple question a person answers without thinking (“7 加 5 等于几？”), asked after a few lookups from one address.

It slows a script down; the hard per-address and per-ID limits (disclosure.throttle) are what stop one. The answer
is never sent to the client: the token carries a keyed digest of it, signed and dated, and is good for one use.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass

from django.core import signing
from django.core.cache import cache
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

_SALT = "disclosure.challenge"
MAX_AGE = 600  # seconds a challenge stays answerable
_USED_PREFIX = "challenge-used:"


@dataclass(frozen=True)
class Challenge:
    question: str
    token: str


def _digest(nonce: str, answer: str) -> str:
    return salted_hmac(_SALT, f"{nonce}:{answer}").hexdigest()[:32]


def challenge_new() -> Challenge:
    a, b = secrets.randbelow(9) + 1, secrets.randbelow(9) + 1
    nonce = secrets.token_urlsafe(12)
    token = signing.dumps({"n": nonce, "d": _digest(nonce, str(a + b))}, salt=_SALT, compress=False)
    return Challenge(question=_("%(a)s 加 %(b)s 等于几？") % {"a": a, "b": b}, token=token)


def challenge_passed(token: str, answer: str) -> bool:
    """True once per token, for the right answer, within MAX_AGE; a replayed token fails."""
    if not token or not answer:
        return False
    try:
        payload = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
        nonce, digest = str(payload["n"]), str(payload["d"])
    except (signing.BadSignature, KeyError, TypeError):
        return False
    typed = unicodedata.normalize("NFKC", answer).strip()
    if not typed.isascii() or not typed.isdigit() or not constant_time_compare(_digest(nonce, typed), digest):
        return False
    # Single use: the first to mark the nonce wins; the cache keeps it as long as the token could be valid.
    return cache.add(_USED_PREFIX + nonce, 1, MAX_AGE + 5)
