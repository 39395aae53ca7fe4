"""补发: finance reissues the corrected failures of a payout. Each original becomes `reissued` and gets one child
payment (attempt + 1, the corrected account) in a new batch per bank, whose bank file is written as at release.
The rules: docs/corrections.md."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.batches import BankShare, batches_create, batches_summary, can_release, shares_by_bank
from disbursement.corrections import reissue_candidates
from disbursement.enums import CorrectionKind, PaymentStatus
from disbursement.models import Batch, Correction, Payment, Payout

# Copied from the original unchanged: who is paid, for what, from which roster row, how much.
_FROM_ORIGINAL = ("payout", "policy", "period", "recipient", "roster", "row", "amount", "quantity")
# Taken from the department's correction: where the money goes.
_FROM_CORRECTION = ("account_hash", "account_cipher", "account_masked", "bank_name", "holder_name")
# Set for every child: batched in the new batch, the next attempt of its original, no bank answer yet.
_SET = (
    "status",
    "created_at",
    "batch",
    "attempt",
    "reissue_of",
    "result",
    "result_code",
    "result_reason",
    "bank_txn_id",
)


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _insert_children(batch: Batch, share: BankShare, *, payout: Payout, now) -> int:
    """One INSERT … SELECT: a child for every original of the payout just marked reissued whose correction names
    this share's bank and that has no child yet. Returns how many were inserted."""
    q = connection.ops.quote_name
    payment, correction = q(Payment._meta.db_table), q(Correction._meta.db_table)
    own = [_column(Payment, name) for name in _FROM_ORIGINAL]
    theirs = [_column(Correction, name) for name in _FROM_CORRECTION]
    target = [*own, *(_column(Payment, name) for name in _FROM_CORRECTION), *(_column(Payment, n) for n in _SET)]
    pk, attempt, status = _column(Payment, "id"), _column(Payment, "attempt"), _column(Payment, "status")
    names = ", ".join(["%s"] * len(share.names))
    sql = (
        f"INSERT INTO {payment} ({', '.join(target)}) "  # noqa: S608 — names from the models, values as parameters
        f"SELECT {', '.join(f'p.{c}' for c in own)}, {', '.join(f'c.{c}' for c in theirs)}, "
        f"%s, %s, %s, p.{attempt} + 1, p.{pk}, %s, %s, %s, %s "
        f"FROM {payment} p JOIN {correction} c ON c.{_column(Correction, 'payment')} = p.{pk} "
        f"WHERE p.{_column(Payment, 'payout')} = %s AND p.{status} = %s AND c.{_column(Correction, 'kind')} = %s "
        f"AND c.{_column(Correction, 'bank_name')} IN ({names}) "
        f"AND NOT EXISTS (SELECT 1 FROM {payment} ch WHERE ch.{_column(Payment, 'reissue_of')} = p.{pk}) "
        f"ORDER BY p.{pk}"
    )
    params = [
        PaymentStatus.BATCHED.value,
        connection.ops.adapt_datetimefield_value(now),
        batch.pk,
        "",
        "",
        "",
        "",
        payout.pk,
        PaymentStatus.REISSUED.value,
        CorrectionKind.CORRECT.value,
        *share.names,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def payout_reissue(*, acting_user, payout: Payout) -> list[Batch]:
    """Finance reissues every corrected failure of the payout that has no child yet: originals → reissued, a child
    each (batched) in a new batch per bank, and the batches' file jobs queued once this transaction commits.
    Only payments the bank has answered (failed or returned) are taken, never one still open."""
    if not can_release(acting_user):
        raise PermissionDenied(_("无权补发：补发由财政部门办理。"))
    with transaction.atomic():
        payout = Payout.objects.select_for_update(of=("self",)).select_related("region").get(pk=payout.pk)
        candidates = reissue_candidates(payout)
        groups = list(
            candidates.order_by()
            .values("correction__bank_name")
            .annotate(n=Count("pk"), total=Sum("amount"))
            .order_by("correction__bank_name")
        )
        if not groups:
            raise ValidationError(
                _("发放项目 %(code)s 没有已更正待补发的明细。") % {"code": payout.code}, code="nothing_to_reissue"
            )
        shares = shares_by_bank(
            [{"bank_name": g["correction__bank_name"], "n": g["n"], "total": g["total"]} for g in groups]
        )
        by_status = dict(candidates.order_by().values_list("status").annotate(n=Count("pk")))
        # The originals leave the money statuses first: the no-double-payment constraint admits a child only then.
        moved = candidates.update(status=PaymentStatus.REISSUED)
        expected = sum(share.count for share in shares)
        if moved != expected:  # the payout is locked, and every correction takes the same lock
            raise RuntimeError(f"reissue of {payout.code}: moved {moved} originals, counted {expected}")
        now = timezone.now()
        batches = batches_create(
            acting_user=acting_user,
            payout=payout,
            shares=shares,
            fill=lambda batch, share: _insert_children(batch, share, payout=payout, now=now),
        )
        audit_record(
            acting_user=acting_user,
            action=AuditAction.PAYOUT_REISSUE,
            obj=payout,
            before={"originals": {str(status): n for status, n in sorted(by_status.items())}},
            after={
                "originals_status": PaymentStatus.REISSUED,
                "payments": sum(b.payment_count for b in batches),
                "total_fen": sum(b.total_fen for b in batches),
                "batches": batches_summary(batches),
            },
            department_id=payout.department_id,
            region_code=payout.region.code,
        )
    return batches
