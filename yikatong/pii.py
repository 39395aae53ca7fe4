"""Personal numbers at rest: SM4-GCM encryption with key ids, and an HMAC-SM3 keyed hash for lookup.

SM4 is the block cipher Chinese government systems are assessed against (GB/T 39786, 密评), and GCM makes
it authenticated: a flipped bit or a ciphertext moved to another column fails to decrypt. The column
name ("purpose") is bound in as associated data. Rotation: put a new key first in PII_ENCRYPTION_KEYS,
keep the old ones after it, and re-encrypt with ``reencrypt`` (see docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_FORMAT_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16


class PiiDecryptError(ValueError):
    pass


@dataclass(frozen=True)
class _Keyring:
    current_id: str
    keys: dict[str, bytes]
    hash_key: bytes


def _parse_keyring(encryption_keys: str, hash_key: str) -> _Keyring:
    keys: dict[str, bytes] = {}
    order: list[str] = []
    for item in encryption_keys.split(","):
        kid, sep, b64 = item.strip().partition(":")
        if not sep or not kid or len(kid) > 16 or not kid.isascii():
            raise ImproperlyConfigured("PII_ENCRYPTION_KEYS must be 'kid:base64key[,kid:base64key…]'.")
        try:
            key = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS: key {kid!r} is not valid base64.") from None
        if len(key) != 16:
            raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS: key {kid!r} must be 16 bytes (SM4).")
        if kid in keys:
            raise ImproperlyConfigured(f"PII_ENCRYPTION_KEYS: key id {kid!r} appears twice.")
        keys[kid] = key
        order.append(kid)
    try:
        hkey = base64.b64decode(hash_key, validate=True)
    except binascii.Error:
        raise ImproperlyConfigured("PII_HASH_KEY is not valid base64.") from None
    if len(hkey) < 32:
        raise ImproperlyConfigured("PII_HASH_KEY must be at least 32 bytes.")
    return _Keyring(current_id=order[0], keys=keys, hash_key=hkey)


@cache
def _keyring_for(encryption_keys: str, hash_key: str) -> _Keyring:
    return _parse_keyring(encryption_keys, hash_key)


def keyring() -> _Keyring:
    return _keyring_for(settings.PII_ENCRYPTION_KEYS, settings.PII_HASH_KEY)


def encrypt(value: str, *, purpose: str) -> bytes:
    return encrypt_bytes(value.encode("utf-8"), purpose=purpose)


def encrypt_bytes(data: bytes, *, purpose: str) -> bytes:
    """Encrypt any bytes (an uploaded roster file, say) under the current key."""
    ring = keyring()
    kid = ring.current_id.encode("ascii")
    nonce = os.urandom(_NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(ring.keys[ring.current_id]), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(purpose.encode("utf-8"))
    body = encryptor.update(data) + encryptor.finalize()
    return bytes([_FORMAT_VERSION, len(kid)]) + kid + nonce + body + encryptor.tag


def _split(blob: bytes) -> tuple[str, bytes, bytes, bytes]:
    blob = bytes(blob)
    if len(blob) < 2 or blob[0] != _FORMAT_VERSION:
        raise PiiDecryptError("unknown ciphertext format")
    kid_len = blob[1]
    kid = blob[2 : 2 + kid_len].decode("ascii", errors="replace")
    rest = blob[2 + kid_len :]
    if len(rest) < _NONCE_BYTES + _TAG_BYTES:
        raise PiiDecryptError("ciphertext too short")
    return kid, rest[:_NONCE_BYTES], rest[_NONCE_BYTES:-_TAG_BYTES], rest[-_TAG_BYTES:]


def key_id_of(blob: bytes) -> str:
    return _split(blob)[0]


def decrypt(blob: bytes, *, purpose: str) -> str:
    return decrypt_bytes(blob, purpose=purpose).decode("utf-8")


def decrypt_bytes(blob: bytes, *, purpose: str) -> bytes:
    kid, nonce, body, tag = _split(blob)
    key = keyring().keys.get(kid)
    if key is None:
        raise PiiDecryptError(f"no key {kid!r} in PII_ENCRYPTION_KEYS")
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(purpose.encode("utf-8"))
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise PiiDecryptError("ciphertext does not authenticate (altered, or another column's)") from None


def decrypter(*, purpose: str):
    """A fast ``blob -> str`` for bulk paths (a bank file's accounts): key objects and associated data prepared
    once, the key found by the blob's header bytes; the same checks and errors as `decrypt`."""
    by_header = {
        bytes([_FORMAT_VERSION, len(kid)]) + kid.encode("ascii"): algorithms.SM4(key)
        for kid, key in keyring().keys.items()
    }
    associated = purpose.encode("utf-8")
    minimum = _NONCE_BYTES + _TAG_BYTES

    def open_one(blob: bytes) -> str:
        if blob.__class__ is not bytes:
            blob = bytes(blob)  # a memoryview from the database: the GCM tag must be bytes
        start = 2 + blob[1] if len(blob) > 1 else 2
        algorithm = by_header.get(bytes(blob[:start]))
        if algorithm is None or len(blob) - start < minimum:
            kid, _nonce, _body, _tag = _split(blob)  # raises the precise error for a malformed blob
            raise PiiDecryptError(f"no key {kid!r} in PII_ENCRYPTION_KEYS")
        body = start + _NONCE_BYTES
        decryptor = Cipher(algorithm, modes.GCM(blob[start:body], blob[-_TAG_BYTES:])).decryptor()
        decryptor.authenticate_additional_data(associated)
        try:
            return (decryptor.update(blob[body:-_TAG_BYTES]) + decryptor.finalize()).decode("utf-8")
        except InvalidTag:
            raise PiiDecryptError("ciphertext does not authenticate (altered, or another column's)") from None

    return open_one


class SealedWriter:
    """`encrypt_bytes`' layout written as a stream to ``path``, through a temporary name made final by ``close``
    (``abort`` drops it): a large file is sealed as it is produced, and its plain bytes never touch the disk.
    `decrypt_bytes(…, purpose=…)` opens the result."""

    def __init__(self, path: Path, *, purpose: str):
        ring = keyring()
        kid = ring.current_id.encode("ascii")
        nonce = os.urandom(_NONCE_BYTES)
        self.path, self.temp = path, path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        self.encryptor = Cipher(algorithms.SM4(ring.keys[ring.current_id]), modes.GCM(nonce)).encryptor()
        self.encryptor.authenticate_additional_data(purpose.encode("utf-8"))
        descriptor = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.file = os.fdopen(descriptor, "wb", buffering=1 << 20)
        self.file.write(bytes([_FORMAT_VERSION, len(kid)]) + kid + nonce)

    def write(self, data: bytes) -> None:
        self.file.write(self.encryptor.update(data))

    def close(self) -> None:
        self.file.write(self.encryptor.finalize() + self.encryptor.tag)
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temp, self.path)

    def abort(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


def reencrypt(blob: bytes, *, purpose: str) -> bytes | None:
    """The value under the current key, or None when it already is (nothing to write)."""
    if key_id_of(blob) == keyring().current_id:
        return None
    return encrypt(decrypt(blob, purpose=purpose), purpose=purpose)


def keyed_hash(value: str, *, purpose: str) -> str:
    """HMAC-SM3 of a normalised value: equal values give equal hashes, nothing else can be read from it."""
    mac = hmac.HMAC(keyring().hash_key, hashes.SM3())
    mac.update(purpose.encode("utf-8") + b"\x00" + value.encode("utf-8"))
    return mac.finalize().hex()


def keyed_hasher(*, purpose: str):
    """A fast ``value -> keyed_hash(value, purpose=…)`` for bulk paths: the key and prefix are set up once."""
    prefix = hmac.HMAC(keyring().hash_key, hashes.SM3())
    prefix.update(purpose.encode("utf-8") + b"\x00")

    def digest(value: str) -> str:
        mac = prefix.copy()
        mac.update(value.encode("utf-8"))
        return mac.finalize().hex()

    return digest


def encrypter(*, purpose: str):
    """A ``value -> encrypt(value, purpose=…)`` for bulk paths, with the key and header prepared once."""
    ring = keyring()
    kid = ring.current_id.encode("ascii")
    header = bytes([_FORMAT_VERSION, len(kid)]) + kid
    algorithm = algorithms.SM4(ring.keys[ring.current_id])
    aad = purpose.encode("utf-8")

    def seal(value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        encryptor = Cipher(algorithm, modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(value.encode("utf-8")) + encryptor.finalize()
        return header + nonce + body + encryptor.tag

    return seal
