"""API-wide conventions: every error carries a machine-readable ``code``; denied access is audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

from audit.enums import AuditAction
from audit.services import audit_record
from yikatong.net import client_ip


def record_denied(request, *, reason: str) -> None:
    user = getattr(request, "user", None)
    audit_record(
        acting_user=user if user is not None and user.is_authenticated else None,
        actor_label=None if user is not None and user.is_authenticated else "anonymous",
        action=AuditAction.ACCESS_DENIED,
        object_type="http",
        object_repr=f"{request.method} {request.path}"[:200],
        after={"reason": reason},
        department_id=getattr(user, "department_id", None),
        remote_addr=client_ip(request),
    )


def _code_of(exc) -> str:
    # Django's own Http404 and PermissionDenied reach us unconverted; DRF turns them into responses.
    if isinstance(exc, Http404):
        return "not_found"
    if isinstance(exc, DjangoPermissionDenied):
        return "permission_denied"
    if isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        return codes if isinstance(codes, str) else "invalid"
    return "error"


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(response.data, dict) and "code" not in response.data:
        response.data["code"] = _code_of(exc)
    if response.status_code in (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN):
        request = context.get("request")
        if request is not None:
            record_denied(request, reason=str(response.data.get("code", response.status_code)))
    return response
