"""Bank API credentials (接口令牌): the bank's identity on the platform, and issuing, revoking, rotating and looking
up its tokens. A token is shown once; only its keyed hash and a sealed signing key derived from it are kept."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Bank, BankToken
from org.enums import Role
from org.models import User
from org.scoping import scope_of
from yikatong import pii

TOKEN_HASH_PURPOSE = "bank_token"  # noqa: S105 — a hash purpose label, not a secret
SIGNING_KEY_PURPOSE = "bank_signing"
# ``ykt_<8 lowercase hex>_<32 random bytes, urlsafe base64 without padding: 43 characters>``
TOKEN_PATTERN = re.compile(r"ykt_(?P<prefix>[0-9a-f]{8})_[A-Za-z0-9_-]{43}")
PREFIX_PATTERN = re.compile(r"[0-9a-f]{8}")


def token_prefix(raw: str) -> str | None:
    """The public part of a well-formed token (safe to log), or None."""
    match = TOKEN_PATTERN.fullmatch(raw or "")
    return match["prefix"] if match else None


def signing_key_hex(raw: str) -> str:
    """The HMAC key of signed requests, SHA-256 of the token: the bank derives it from the token it already holds,
    so there is no second secret to hand over or to lose."""
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def signing_key(token: BankToken) -> bytes:
    return bytes.fromhex(pii.decrypt(token.signing_key_cipher, purpose=SIGNING_KEY_PURPOSE))


def _check_may_manage(acting_user, perm: str) -> None:
    # None is the operator at the server (``manage.py bank_token``), who holds the keys anyway.
    if acting_user is None:
        return
    if not (acting_user.has_perm(perm) and scope_of(acting_user).everything):
        raise PermissionDenied(_("仅财政部门可管理银行接口令牌。"))


def bank_identity(bank: Bank, *, acting_user=None) -> User:
    """The bank's API user (role 代发金融机构, no password, no admin access), created the first time it is needed.

    The username ``bank:<code>`` holds a colon, which the user forms refuse: no person's account can take it."""
    if bank.user_id is not None:
        return bank.user
    with transaction.atomic():
        locked = Bank.objects.select_for_update().get(pk=bank.pk)
        if locked.user_id is not None:
            bank.user = locked.user
            return bank.user
        username = f"bank:{locked.code}"
        if User.objects.filter(username=username).exists():
            # Another bank once had this code and keeps its identity; this one gets its own.
            username = f"bank:{locked.code}:{locked.pk}"
        user = User(username=username, full_name=locked.name[:64], role=Role.BANK, is_staff=False)
        user.set_unusable_password()
        user.save()
        Bank.objects.filter(pk=locked.pk, user__isnull=True).update(user=user)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.USER_CREATE,
            obj=user,
            after={"username": user.username, "role": user.role, "bank": locked.code, "is_staff": False},
        )
    bank.user = user
    return user


def _new_token() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return prefix, f"ykt_{prefix}_{secret}"


def _issue(*, acting_user, bank: Bank, label: str) -> tuple[BankToken, str]:
    label = (label or "").strip()
    if len(label) > 80:
        raise ValidationError(_("用途说明不能超过 80 个字。"), code="label_too_long")
    prefix, raw = _new_token()
    while BankToken.objects.filter(prefix=prefix).exists():  # 2^32 prefixes: a repeat is rare, never a problem
        prefix, raw = _new_token()
    token = BankToken.objects.create(
        bank=bank,
        prefix=prefix,
        key_hash=pii.keyed_hash(raw, purpose=TOKEN_HASH_PURPOSE),
        signing_key_cipher=pii.encrypt(signing_key_hex(raw), purpose=SIGNING_KEY_PURPOSE),
        label=label,
        created_by=acting_user,
    )
    audit_record(
        acting_user=acting_user,
        action=AuditAction.BANK_TOKEN_ISSUE,
        obj=token,
        after={"bank": bank.code, "prefix": prefix, "label": token.label},
    )
    return token, raw


def bank_token_issue(*, acting_user, bank: Bank, label: str = "") -> tuple[BankToken, str]:
    """A new token for ``bank``, beside any it already has. Returns the row and the token, which is never seen
    again: show it once and forget it."""
    _check_may_manage(acting_user, "banks.add_banktoken")
    with transaction.atomic():
        bank_identity(bank, acting_user=acting_user)
        return _issue(acting_user=acting_user, bank=bank, label=label)


def _revoke(*, acting_user, token: BankToken, reason: str) -> bool:
    now = timezone.now()
    changed = BankToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=acting_user
    )
    if changed != 1:
        return False
    token.revoked_at, token.revoked_by = now, acting_user
    audit_record(
        acting_user=acting_user,
        action=AuditAction.BANK_TOKEN_REVOKE,
        obj=token,
        before={"revoked_at": None},
        after={"bank": token.bank.code, "prefix": token.prefix, "reason": reason, "revoked_at": now},
    )
    return True


def bank_token_revoke(*, acting_user, token: BankToken) -> BankToken:
    """Revoke a token at once; revoking one already revoked changes nothing (and records nothing)."""
    _check_may_manage(acting_user, "banks.change_banktoken")
    with transaction.atomic():
        if not _revoke(acting_user=acting_user, token=token, reason="revoked"):
            token.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return token


def bank_token_rotate(*, acting_user, bank: Bank, label: str = "") -> tuple[BankToken, str]:
    """Issue a new token and revoke every other live token of the bank, in one transaction.

    Rotation is immediate: the old tokens stop working the moment this commits. A bank that needs an overlap
    (to roll the new token out to its servers first) is issued a second token instead, and the old one is
    revoked later."""
    _check_may_manage(acting_user, "banks.add_banktoken")
    _check_may_manage(acting_user, "banks.change_banktoken")
    with transaction.atomic():
        # The bank row is the lock: two rotations at once would otherwise each keep their own new token alive.
        Bank.objects.select_for_update().filter(pk=bank.pk).first()
        bank_identity(bank, acting_user=acting_user)
        token, raw = _issue(acting_user=acting_user, bank=bank, label=label)
        live = BankToken.objects.filter(bank=bank, revoked_at__isnull=True).exclude(pk=token.pk).order_by("pk")
        for old in live.select_related("bank"):
            _revoke(acting_user=acting_user, token=old, reason=f"rotated:{token.prefix}")
    return token, raw


def token_authenticate(raw: str) -> BankToken | None:
    """The token row ``raw`` names, revoked or not (the caller says which), or None.

    One indexed look-up by keyed hash: nothing is compared piece by piece, so timing tells an unknown token
    from a known one by nothing but the database's index walk, and never which part of it was wrong."""
    if not raw or not TOKEN_PATTERN.fullmatch(raw):
        return None
    key_hash = pii.keyed_hash(raw, purpose=TOKEN_HASH_PURPOSE)
    return BankToken.objects.select_related("bank", "bank__user").filter(key_hash=key_hash).first()
