"""Sign-in events reach the trail through Django's and django-axes' signals, the only hooks they offer.

The receivers only translate the signal into one ``audit_record`` call; no rule lives here.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.enums import AuditAction
from audit.services import audit_record
from yikatong.net import client_ip


def _ip(request) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in, dispatch_uid="audit_login")
def _on_login(sender, request, user, **kwargs):
    audit_record(acting_user=user, action=AuditAction.LOGIN, obj=user, remote_addr=_ip(request))


@receiver(user_logged_out, dispatch_uid="audit_logout")
def _on_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(acting_user=user, action=AuditAction.LOGOUT, obj=user, remote_addr=_ip(request))


@receiver(user_login_failed, dispatch_uid="audit_login_failed")
def _on_login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        actor_label=f"anonymous:{username}" if username else "anonymous",
        object_type="org.user",
        object_repr=username,
        remote_addr=_ip(request),
    )


@receiver(user_locked_out, dispatch_uid="audit_locked_out")
def _on_locked_out(sender, request, username, ip_address, **kwargs):
    audit_record(
        action=AuditAction.LOCKED_OUT,
        actor_label=f"anonymous:{username}" if username else "anonymous",
        object_type="org.user",
        object_repr=str(username or "")[:200],
        remote_addr=ip_address,
    )
