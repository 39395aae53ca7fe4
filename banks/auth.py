"""How a bank proves who it is to the bank endpoints (/api/v1/bank/): a bearer token, an optional HMAC signature
with a timestamp, and one audit entry per call. The wire format is written down in docs/bank-api.md."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Bank, BankToken
from banks.tokens import PREFIX_PATTERN, signing_key, token_authenticate
from org.enums import Role
from yikatong.net import client_ip

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Yikatong-Timestamp"
SIGNATURE_HEADER = "X-Yikatong-Signature"
CONTENT_SHA256_HEADER = "X-Content-SHA256"
# How far a signed request's timestamp may be from the server's clock, either way.
SIGNATURE_MAX_SKEW_SECONDS = 300
# ``last_used_at`` is for people reading the admin; a write per call would be a write per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()
_HEX64 = re.compile(r"[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")

_MESSAGES = {
    "token_invalid": _("接口令牌无效。"),
    "token_revoked": _("接口令牌已吊销，请使用新令牌。"),
    "bank_inactive": _("该代发金融机构已停用。"),
    "signature_required": _("本机构的接口请求须签名：请附 X-Yikatong-Timestamp 和 X-Yikatong-Signature。"),
    "signature_invalid": _("请求签名不正确。"),
    "timestamp_out_of_range": _("请求时间戳与服务器时间相差超过 300 秒，或格式不对（应为 Unix 秒数）。"),
    "content_sha256_required": _("签名的请求体大于 %(mb)s MB 时须附 X-Content-SHA256（请求体的 SHA-256，十六进制）。"),
    "content_sha256_invalid": _("X-Content-SHA256 应为 64 位十六进制的 SHA-256。"),
}


def sign(token: str, timestamp: int | str, method: str, path: str, body_sha256: str) -> str:
    """The request signature: hex HMAC-SHA256 under SHA-256(token) of
    ``"{timestamp}\\n{METHOD}\\n{path with query}\\n{SHA-256 of the body, hex}"``."""
    key = hashlib.sha256(token.encode("ascii")).digest()
    return _mac(key, timestamp, method, path, body_sha256)


def _mac(key: bytes, timestamp: int | str, method: str, path: str, body_sha256: str) -> str:
    message = f"{timestamp}\n{method.upper()}\n{path}\n{body_sha256.lower()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _refuse(code: str, **params) -> exceptions.AuthenticationFailed:
    message = _MESSAGES[code]
    return exceptions.AuthenticationFailed({"code": code, "detail": str(message) % params if params else message})


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _declared_body_sha256(request) -> str | None:
    declared = request.META.get("HTTP_X_CONTENT_SHA256")
    if declared is None:
        return None
    declared = declared.strip().lower()
    if not _HEX64.fullmatch(declared):
        raise exceptions.ParseError({"code": "content_sha256_invalid", "detail": _MESSAGES["content_sha256_invalid"]})
    return declared


class BankTokenAuthentication(BaseAuthentication):
    """``Authorization: Bearer ykt_…``, and the request signature when the request carries one or the bank's
    agreement requires it. Returns (the bank's user, the token row).

    Leaves on the request, for the view and the per-call audit:
    ``declared_body_sha256`` — the client's ``X-Content-SHA256``, or None. For a body small enough to read here
    it has been checked already; a larger body is never read here, and the view that streams it must compare its
    own hash with this value before it uses the body.
    ``bank_token`` — the token row the credential named, also when the call was then refused (revoked, bad
    signature), so that the refusal can be attributed to the bank."""

    keyword = "bearer"

    def authenticate(self, request):
        django_request = request._request
        django_request.declared_body_sha256 = None
        django_request.bank_token = None
        header = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not header or header[0].lower() != self.keyword:
            return None  # not ours to judge: the permission answers 401 not_authenticated
        raw = header[1] if len(header) == 2 else ""
        token = token_authenticate(raw)
        if token is None:
            raise _refuse("token_invalid")
        django_request.bank_token = token
        if token.revoked_at is not None:
            raise _refuse("token_revoked")
        bank = token.bank
        if not bank.is_active or bank.user is None or not bank.user.is_active:
            raise _refuse("bank_inactive")
        django_request.declared_body_sha256 = _declared_body_sha256(request)
        self._check_signature(request, token, bank)
        self._touch(token)
        return bank.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="yikatong-bank-api"'

    def _check_signature(self, request, token: BankToken, bank: Bank) -> None:
        signature = request.META.get("HTTP_X_YIKATONG_SIGNATURE", "").strip().lower()
        if not signature:
            if bank.signature_required:
                raise _refuse("signature_required")
            return
        raw_timestamp = request.META.get("HTTP_X_YIKATONG_TIMESTAMP", "").strip()
        if not _TIMESTAMP.fullmatch(raw_timestamp):
            raise _refuse("timestamp_out_of_range")
        if abs(time.time() - int(raw_timestamp)) > SIGNATURE_MAX_SKEW_SECONDS:
            raise _refuse("timestamp_out_of_range")
        declared = request._request.declared_body_sha256
        if _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Up to ~100 MB of result file: the view streams it and checks it against the declared hash.
            if declared is None:
                raise _refuse("content_sha256_required", mb=settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024))
            body_sha256 = declared
        else:
            body_sha256 = hashlib.sha256(request._request.body).hexdigest()
            if declared is not None and declared != body_sha256:
                raise _refuse("signature_invalid")
        expected = _mac(signing_key(token), raw_timestamp, request.method, request.get_full_path(), body_sha256)
        if not hmac.compare_digest(expected, signature):
            raise _refuse("signature_invalid")

    @staticmethod
    def _touch(token: BankToken) -> None:
        now = timezone.now()
        if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
            return
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        BankToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


class IsBank(BasePermission):
    """A bank, signed in by its token: never a person's session, never a person."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user is not None
            and user.is_authenticated
            and user.role == Role.BANK
            and isinstance(request.auth, BankToken)
            and hasattr(user, "bank")
        )


def _error_code(response) -> str:
    data = getattr(response, "data", None)
    if response.status_code >= 400 and isinstance(data, dict) and data.get("code"):
        return str(data["code"])[:60]
    return ""


def _claimed_prefix(request) -> str:
    """The prefix of whatever token the caller sent, if it looks like one: safe to log, proves nothing."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    raw = header[1] if len(header) == 2 else ""
    prefix = raw[4:12]
    return prefix if raw.startswith("ykt_") and PREFIX_PATTERN.fullmatch(prefix) else "-"


def record_bank_call(request, response) -> None:
    """One audit entry per call (method, path, status, error code, token prefix, Idempotency-Key): never a body,
    never an account number. A call whose token matched no row cannot be attributed: it is logged, not audited
    (the API's exception handler records it as an anonymous denied access)."""
    token = getattr(request._request, "bank_token", None)
    if token is None:
        logger.warning(
            "bank API: unattributed call %s %s answered %s (token prefix %s)",
            request.method,
            request.path,
            response.status_code,
            _claimed_prefix(request),
        )
        return
    bank = token.bank
    audit_record(
        acting_user=bank.user,
        action=AuditAction.BANK_API_CALL,
        obj=bank,
        after={
            "method": request.method,
            "path": request.path[:300],
            "status": response.status_code,
            "code": _error_code(response),
            "token": token.prefix,
            "idempotency_key": request.headers.get("Idempotency-Key", "")[:100],
        },
        remote_addr=client_ip(request),
    )


class BankTokenScheme(OpenApiAuthenticationExtension):
    """Names the bank token in the OpenAPI schema (drf-spectacular finds it by ``target_class``)."""

    target_class = "banks.auth.BankTokenAuthentication"
    name = "bankToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ykt_<prefix>_<secret>",
            "description": "银行接口令牌（财政部门签发，只显示一次）。可选的请求签名见 docs/bank-api.md。",
        }


# The signing headers, for the bank endpoints' ``extend_schema(parameters=…)``.
SIGNATURE_PARAMETERS = [
    OpenApiParameter(
        TIMESTAMP_HEADER, str, OpenApiParameter.HEADER, description="签名时间，Unix 秒；与服务器时间相差不超过 300 秒"
    ),
    OpenApiParameter(
        SIGNATURE_HEADER,
        str,
        OpenApiParameter.HEADER,
        description="请求签名（HMAC-SHA256，十六进制），算法见 docs/bank-api.md；机构设为须签名时必填",
    ),
    OpenApiParameter(
        CONTENT_SHA256_HEADER,
        str,
        OpenApiParameter.HEADER,
        description="请求体的 SHA-256（十六进制）；签名的请求体大于 5 MB 时必填",
    ),
]


class BankAPIMixin:
    """For every view under /api/v1/bank/: the bank's token (session and password never reach these views),
    ``self.bank`` the calling bank, and the call audited whatever its answer."""

    authentication_classes = [BankTokenAuthentication]
    permission_classes = [IsBank]

    @property
    def bank(self) -> Bank:
        return self.request.auth.bank

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        record_bank_call(request, response)
        return response
