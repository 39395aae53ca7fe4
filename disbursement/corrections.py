"""失败更正: the queue of failed and returned payments, and the department's two answers to one of them — the
corrected account for a reissue (补发, disbursement/reissue.py) or a stop (停发). The rules: docs/corrections.md."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet, Subquery, Sum, Value
from django.db.models.expressions import OuterRef
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from audit.enums import AuditAction
from audit.services import audit_record
from banks.models import FailureReason
from disbursement.batches import bank_directory, bank_key
from disbursement.enums import CorrectionKind, PaymentStatus
from disbursement.models import Correction, Payment, Payout
from org.enums import Role
from yikatong import pii
from yikatong.domain.bank_account import parse_bank_account
from yikatong.domain.errors import DomainError, Refused
from yikatong.domain.masking import mask_account, mask_name

# The bank has answered and the money is not with the person: these wait for the department.
OPEN_STATUSES = (PaymentStatus.FAILED, PaymentStatus.RETURNED)
# A correction is the act of whoever keeps the payout's data: its department's (or township's) clerk. Finance
# releases and reissues; it does not rewrite a department's accounts ("谁主管，谁负责").
CLERK_ROLES = frozenset({Role.DEPARTMENT_CLERK, Role.TOWNSHIP_CLERK})
CORRECT_PERMISSION = "disbursement.add_correction"
# What the queue can be narrowed to, besides payout, status and reason.
STATE_PENDING = "pending"
STATE_CORRECTED = "corrected"
QUEUE_STATES = ((STATE_PENDING, gettext_lazy("待更正")), (STATE_CORRECTED, gettext_lazy("已更正待补发")))

_HOLDER_MAX = Correction._meta.get_field("holder_name").max_length
_BANK_MAX = Correction._meta.get_field("bank_name").max_length


class CorrectionRefused(Refused):
    """A correction or stop this user may not make, with a machine-readable code (the API answers 403 with it)."""


# --- Reading ---------------------------------------------------------------------------------------------------


def _annotated(payments: QuerySet) -> QuerySet:
    """Each payment with the catalogue's name for the bank's reason code (``reason_name``), whether that reason can
    be corrected (``correctable``; a code the catalogue does not know can), and whether it still waits for the
    department (``pending``: no correction recorded yet)."""
    reason = FailureReason.objects.filter(code=OuterRef("result_code"))
    return payments.select_related("payout", "recipient", "batch", "correction", "correction__corrected_by").annotate(
        reason_name=Subquery(reason.values("name")[:1]),
        correctable=Coalesce(Subquery(reason.values("correctable")[:1]), Value(True)),
        pending=ExpressionWrapper(Q(correction__isnull=True), output_field=BooleanField()),
    )


def correction_queue(user) -> QuerySet:
    """失败更正: the failed and returned payments of the payouts ``user`` may see (a clerk: their department's;
    finance and auditors: all), with the bank's reason and whether a correction is still pending; by payout and row."""
    payments = Payment.objects.visible_to(user).filter(status__in=OPEN_STATUSES)
    return _annotated(payments).order_by("payout__code", "row", "attempt")


def correction_payments(user) -> QuerySet:
    """Any payment ``user`` may see, annotated as in the queue: the page of one payment and the acts on it look it
    up here, so that a payment already stopped or reissued is found (and refused with a reason), not missing."""
    return _annotated(Payment.objects.visible_to(user))


def queue_filter(
    payments: QuerySet, *, payout: str = "", status: str = "", state: str = "", reason: str = ""
) -> QuerySet:
    """Narrow the queue by payout code, payment status (failed / returned), state (pending / corrected) and the
    bank's reason code. Empty values do not filter."""
    if payout:
        payments = payments.filter(payout__code=payout)
    if status:
        payments = payments.filter(status=status)
    if state == STATE_PENDING:
        payments = payments.filter(correction__isnull=True)
    elif state == STATE_CORRECTED:
        payments = payments.filter(correction__kind=CorrectionKind.CORRECT)
    if reason:
        payments = payments.filter(result_code=reason)
    return payments


def reissue_candidates(payout: Payout) -> QuerySet:
    """The payments of the payout a reissue takes: the bank answered failed or returned, the department recorded a
    corrected account, and no child exists yet."""
    return Payment.objects.filter(
        payout=payout,
        status__in=OPEN_STATUSES,
        correction__kind=CorrectionKind.CORRECT,
        reissue__isnull=True,
    )


def payouts_to_reissue(user) -> list[dict]:
    """The payouts ``user`` may see that hold corrected failures waiting for a reissue, with their number and total
    (元, Decimal): what finance's 补发 buttons offer."""
    rows = (
        Payment.objects.visible_to(user)
        .filter(status__in=OPEN_STATUSES, correction__kind=CorrectionKind.CORRECT, reissue__isnull=True)
        .order_by()
        .values("payout_id", "payout__code", "payout__title")
        .annotate(count=Count("pk"), total=Sum("amount"))
        .order_by("payout__code")
    )
    return [
        {
            "payout_id": row["payout_id"],
            "code": row["payout__code"],
            "title": row["payout__title"],
            "count": row["count"],
            "total": row["total"],
        }
        for row in rows
    ]


def can_correct(user, payment: Payment | None = None) -> bool:
    """Whether ``user`` may correct or stop failed payments (of this payment's payout, when one is given)."""
    return _refusal(user, payment) is None


def _refusal(user, payment: Payment | None) -> CorrectionRefused | None:
    if (
        user is None
        or not user.is_authenticated
        or user.role not in CLERK_ROLES
        or not user.has_perm(CORRECT_PERMISSION)
    ):
        return CorrectionRefused(_("只有主管部门经办人可以更正或停发发放失败的明细。"), "not_clerk")
    if payment is not None and not Payment.objects.visible_to(user).filter(pk=payment.pk).exists():
        return CorrectionRefused(_("只能处理本部门（本乡镇）的发放明细。"), "out_of_scope")
    return None


# --- Acts --------------------------------------------------------------------------------------------------------


def _lock(payment: Payment) -> tuple[Payout, Payment]:
    """Lock the payout (a reissue holds the same lock, so it never takes a payment halfway through a correction)
    and read the payment again under it."""
    payout = Payout.objects.select_for_update(of=("self",)).select_related("region").get(pk=payment.payout_id)
    return payout, Payment.objects.select_related("correction").get(pk=payment.pk)


def _check_open(payment: Payment) -> None:
    if payment.status == PaymentStatus.REISSUED:
        raise ValidationError(_("该明细已补发，不能再更正或停发。"), code="not_correctable")
    if payment.status == PaymentStatus.STOPPED:
        raise ValidationError(_("该明细已停发，不能再更正。"), code="not_correctable")
    if payment.status not in OPEN_STATUSES:
        raise ValidationError(
            _("只有银行回盘失败或退回的明细可以更正或停发（当前状态：%(status)s）。")
            % {"status": payment.get_status_display()},
            code="not_correctable",
        )


def _masked_correction(correction: Correction | None) -> dict | None:
    if correction is None:
        return None
    return {
        "kind": correction.kind,
        "account": correction.account_masked,
        "bank_name": correction.bank_name,
        "holder_name": mask_name(correction.holder_name) if correction.holder_name.strip() else "",
        "reason": correction.reason,
    }


def _audit(acting_user, action: str, payout: Payout, payment: Payment, before: dict, after: dict) -> None:
    audit_record(
        acting_user=acting_user,
        action=action,
        obj=payment,
        before=before,
        after=after,
        department_id=payout.department_id,
        region_code=payout.region.code,
    )


def payment_correct(
    *, acting_user, payment: Payment, account: str, holder_name: str = "", bank_name: str = "", reason: str = ""
) -> Correction:
    """The department's clerk records the corrected account of a failed or returned payment, for the next reissue.
    Holder and bank left empty keep the payment's own. Recorded again, it replaces the earlier correction as long
    as no reissue has been made; the failed payment itself never changes."""
    refusal = _refusal(acting_user, payment)
    if refusal is not None:
        raise refusal
    try:
        number = parse_bank_account(account).number
    except DomainError as error:
        raise ValidationError(str(error.message), code=error.code) from None
    holder_name = (holder_name or "").strip()
    bank_name = (bank_name or "").strip()
    reason = (reason or "").strip()
    if len(holder_name) > _HOLDER_MAX:
        raise ValidationError(_("户名不能超过 %(n)s 个字。") % {"n": _HOLDER_MAX}, code="holder_too_long")
    with transaction.atomic():
        payout, payment = _lock(payment)
        _check_open(payment)
        unfixable = FailureReason.objects.filter(code=payment.result_code, correctable=False).first()
        if unfixable is not None:
            raise ValidationError(
                _("失败原因为“%(reason)s”，不能更正后补发，只能停发。") % {"reason": unfixable.name},
                code="reason_not_correctable",
            )
        holder_name = holder_name or payment.holder_name
        bank_name = bank_name or payment.bank_name
        if len(bank_name) > _BANK_MAX or bank_directory().get(bank_key(bank_name)) is None:
            raise ValidationError(
                _("开户银行“%(bank)s”不是已启用的代发金融机构，请填写代发银行的名称。") % {"bank": bank_name},
                code="bank_unknown",
            )
        masked = mask_account(number)
        fields = {
            "kind": CorrectionKind.CORRECT,
            "account_hash": pii.keyed_hash(number, purpose="account"),
            "account_cipher": pii.encrypt(number, purpose="account"),
            "account_masked": masked,
            "bank_name": bank_name,
            "holder_name": holder_name,
            "reason": reason,
            "corrected_by": acting_user,
        }
        previous = getattr(payment, "correction", None)
        before = {"status": payment.status, "correction": _masked_correction(previous)}
        if previous is None:
            correction = Correction.objects.create(payment=payment, **fields)
        else:
            for name, value in fields.items():
                setattr(previous, name, value)
            previous.save(update_fields=[*fields, "corrected_at"])
            correction = previous
        _audit(
            acting_user,
            AuditAction.PAYMENT_CORRECT,
            payout,
            payment,
            before,
            {
                "status": payment.status,
                "result_code": payment.result_code,
                "original_account": payment.account_masked,
                "correction": _masked_correction(correction),
            },
        )
    return correction


def payment_stop(*, acting_user, payment: Payment, reason: str) -> Correction:
    """停发: the department's clerk decides a failed or returned payment is not to be paid again (the person died,
    moved away, is no longer eligible …), with a reason. The payment stays in its batch as stopped; a correction
    recorded before is replaced by the stop."""
    refusal = _refusal(acting_user, payment)
    if refusal is not None:
        raise refusal
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("停发须填写理由。"), code="reason_required")
    with transaction.atomic():
        payout, payment = _lock(payment)
        _check_open(payment)
        moved = Payment.objects.filter(pk=payment.pk, status=payment.status).update(status=PaymentStatus.STOPPED)
        if moved != 1:  # the payout is locked: only a change outside the services gets here
            raise ValidationError(_("该明细已被他人处理，请刷新后重试。"), code="already_acted")
        previous = getattr(payment, "correction", None)
        before = {"status": payment.status, "correction": _masked_correction(previous)}
        fields = {
            "kind": CorrectionKind.STOP,
            "account_hash": "",
            "account_cipher": None,
            "account_masked": "",
            "bank_name": "",
            "holder_name": "",
            "reason": reason,
            "corrected_by": acting_user,
        }
        if previous is None:
            correction = Correction.objects.create(payment=payment, **fields)
        else:
            for name, value in fields.items():
                setattr(previous, name, value)
            previous.save(update_fields=[*fields, "corrected_at"])
            correction = previous
        _audit(
            acting_user,
            AuditAction.PAYMENT_STOP,
            payout,
            payment,
            before,
            {"status": PaymentStatus.STOPPED, "result_code": payment.result_code, "reason": reason},
        )
        payment.status = PaymentStatus.STOPPED
    return correction
