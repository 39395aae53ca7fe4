"""Keeping the register of disbursing banks (代发金融机构): finance's edits, each one audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import Bank

_FIELDS = ("code", "name", "aliases", "file_encoding", "is_active")


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
        bank.save()
        after = model_to_dict(bank, fields=_FIELDS)
        audit_record(
            acting_user=acting_user,
            action=AuditAction.BANK_SAVE,
            obj=bank,
            before=before,
            after={key: value for key, value in after.items() if before is None or before.get(key) != value},
        )
    return bank
