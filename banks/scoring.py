"""Finance's manual part of a bank's evaluation (考评, 0–20 points per period): saved here, audited with before and
after. The computed part lives in banks.evaluation."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from banks.evaluation import CHINA, MANUAL_MAX
from banks.models import Bank, BankScore
from disbursement.periods import period_range
from org.scoping import scope_of


def can_score(user) -> bool:
    """Finance: county-wide, and allowed to write scores (an auditor sees everything but writes nothing)."""
    return scope_of(user).everything and (
        user.has_perm("banks.change_bankscore") or user.has_perm("banks.add_bankscore")
    )


def _clean_score(value) -> Decimal:
    try:
        score = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError(_("财政评分须为数字。"), code="score_not_number") from None
    if not score.is_finite() or not 0 <= score <= MANUAL_MAX:
        raise ValidationError(_("财政评分须在 0 到 %(max)s 分之间。") % {"max": MANUAL_MAX}, code="score_out_of_range")
    if score != score.quantize(Decimal("0.1")):
        raise ValidationError(_("财政评分最多保留一位小数。"), code="score_precision")
    return score.quantize(Decimal("0.1"))


def _clean_period(period: str) -> str:
    period = (period or "").strip()
    try:
        first, _last = period_range(period)
    except ValueError:
        raise ValidationError(
            _("考评期间格式不正确：%(period)s（应如 2026-11、2026-Q4 或 2026）") % {"period": period},
            code="period_invalid",
        ) from None
    if first > timezone.localdate(timezone=CHINA):
        raise ValidationError(_("考评期间尚未开始，不能评分。"), code="period_not_started")
    return period


def bank_score_save(*, acting_user, bank: Bank, period: str, manual_score, note: str = "") -> BankScore:
    """Create or change finance's score of ``bank`` for ``period``. Saving the same score and note again changes
    nothing and records nothing."""
    if not can_score(acting_user):
        raise PermissionDenied(_("只有财政部门可以录入代发机构考评评分。"))
    period = _clean_period(period)
    score = _clean_score(manual_score)
    note = (note or "").strip()
    with transaction.atomic():
        # The bank's row serialises two finance users scoring it at once: the second sees the first one's row.
        Bank.objects.select_for_update().get(pk=bank.pk)
        row = BankScore.objects.filter(bank=bank, period=period).first()
        before = None if row is None else {"manual_score": row.manual_score, "note": row.note}
        after = {"manual_score": score, "note": note}
        if before == after:
            return row
        if row is None:
            row = BankScore(bank=bank, period=period)
        row.manual_score, row.note, row.scored_by = score, note, acting_user
        if before is None:
            row.save(force_insert=True)
        else:
            row.save(update_fields=["manual_score", "note", "scored_by", "scored_at"])
        audit_record(
            acting_user=acting_user,
            action=AuditAction.BANK_SCORE_SAVE,
            obj=row,
            before=None if before is None else {"period": period, **before},
            after={"period": period, **after},
        )
    return row
