"""Keeping the register of disbursing banks (代发金融机构), their agreements (代发协议) and the failure-reason
catalogue: finance's edits, each one audited; and which agreement a bank works under on a given day."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Agreement, Bank, FailureReason
from org.scoping import scope_of

_FIELDS = ("code", "name", "aliases", "file_encoding", "is_active", "signature_required")
AGREEMENT_FIELDS = (
    "bank", "number", "signed_on", "valid_from", "valid_until", "free_card_activation", "payment_notification",
    "convenient_withdrawal", "data_security", "ack_hours", "result_hours", "notes",
)  # fmt: skip
FAILURE_REASON_FIELDS = ("code", "name", "correctable", "position", "is_active")


def _clean_aliases(aliases) -> list[str]:
    seen: list[str] = []
    for alias in aliases or []:
        alias = str(alias).strip()
        if alias and alias not in seen:
            seen.append(alias)
    return seen


def bank_save(*, acting_user, bank: Bank) -> Bank:
    """Create or change a bank from the (unsaved) values on ``bank``; records before and after."""
    creating = bank.pk is None
    if not acting_user.has_perm("banks.add_bank" if creating else "banks.change_bank"):
        raise PermissionDenied(_("无权修改代发金融机构。"))
    if not isinstance(bank.aliases, list):
        raise ValidationError(_("名册中的银行名称须为名称列表。"), code="aliases_not_list")
    bank.aliases = _clean_aliases(bank.aliases)
    bank.full_clean()
    with transaction.atomic():
        before = None
        if not creating:
            before = model_to_dict(Bank.objects.select_for_update().get(pk=bank.pk), fields=_FIELDS)
        # Only the register's own fields: the bank's API identity is linked by ``banks.tokens``, never by this form.
        bank.save(update_fields=None if creating else _FIELDS)
        after = model_to_dict(bank, fields=_FIELDS)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.BANK_SAVE,
            obj=bank,
            before=before,
            after={key: value for key, value in after.items() if before is None or before.get(key) != value},
        )
    return bank


def _changes(before: dict | None, after: dict) -> dict:
    return {key: value for key, value in after.items() if before is None or before.get(key) != value}


def _check_finance(acting_user, perm: str, message: str) -> None:
    # Banks, agreements and the catalogue are county-wide: a department role never keeps them, whatever it may add.
    if not (acting_user.has_perm(perm) and scope_of(acting_user).everything):
        raise PermissionDenied(message)


def agreement_save(*, acting_user, agreement: Agreement) -> Agreement:
    """Create or change an agreement from the (unsaved) values on ``agreement``; records before and after."""
    creating = agreement.pk is None
    _check_finance(
        acting_user, "banks.add_agreement" if creating else "banks.change_agreement", _("无权修改代发协议。")
    )
    agreement.full_clean()
    with transaction.atomic():
        before = None
        if not creating:
            before = model_to_dict(Agreement.objects.select_for_update().get(pk=agreement.pk), fields=AGREEMENT_FIELDS)
        agreement.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.AGREEMENT_SAVE,
            obj=agreement,
            before=before,
            after=_changes(before, model_to_dict(agreement, fields=AGREEMENT_FIELDS)),
        )
    return agreement


def failure_reason_save(*, acting_user, reason: FailureReason) -> FailureReason:
    """Add a failure reason or change one; a code, once quoted by banks, never changes (results refer to it)."""
    creating = reason.pk is None
    _check_finance(
        acting_user,
        "banks.add_failurereason" if creating else "banks.change_failurereason",
        _("无权修改发放失败原因。"),
    )
    reason.full_clean()
    with transaction.atomic():
        before = None
        if not creating:
            before = model_to_dict(
                FailureReason.objects.select_for_update().get(pk=reason.pk), fields=FAILURE_REASON_FIELDS
            )
            if before["code"] != reason.code:
                raise ValidationError(_("原因代码不能修改：银行回盘按代码引用。"), code="code_immutable")
        reason.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.FAILURE_REASON_SAVE,
            obj=reason,
            before=before,
            after=_changes(before, model_to_dict(reason, fields=FAILURE_REASON_FIELDS)),
        )
    return reason


def agreement_in_force(bank: Bank, on: dt.date) -> Agreement | None:
    """The agreement ``bank`` pays under on day ``on``: of those in force that day, the one that took effect last."""
    return (
        Agreement.objects.filter(bank=bank, valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from", "-signed_on", "-pk")
        .first()
    )
