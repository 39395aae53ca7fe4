"""发放公示 and 制度文件: publishing and withdrawing a payout's notice, keeping the published documents, and the
masked rows the public reads. The rules: docs/disclosure.md."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.ledger import MOVED
from disbursement.models import Payment, Payout
from disclosure.enums import NoticeStatus
from disclosure.models import Notice, PublishedDocument
from org.enums import RegionLevel
from org.models import Region
from org.scoping import scope_of
from yikatong.domain.masking import mask_name

# A notice names the people of a payout once its roster is settled: approved, or released to the banks.
NOTICE_PAYOUT_STATUSES = (PayoutStatus.APPROVED, PayoutStatus.RELEASED)
# Who is on the notice: each person's first payment of the payout (a reissue is the same person and amount), once
# money moves for it (approval on), unless it was stopped (停发: no longer to be paid). Cancelled rows never moved.
NOTICE_PAYMENT_STATUSES = tuple(status for status in MOVED if status != PaymentStatus.STOPPED)
DEFAULT_NOTICE_DAYS = 7  # 公示期: seven days is what both plans' practice uses
ROWS_PER_PAGE = 50


def _may(user, perm: str) -> bool:
    return user is not None and user.has_perm(perm)  # the role table, through org.backends


def default_objection_line(payout: Payout) -> str:
    department = payout.department
    phone = _("，电话 %(phone)s") % {"phone": department.phone} if department.phone else ""
    return _("对公示名单有异议的，请于公示期内向%(department)s反映%(phone)s。") % {
        "department": department.name,
        "phone": phone,
    }


def default_title(payout: Payout) -> str:
    return _("%(policy)s（%(period)s）发放名单公示") % {"policy": payout.policy_entry.name, "period": payout.period}


# --- Notices -------------------------------------------------------------------------------------


def notice_publish_check(
    *, payout: Payout, acting_user, published_from: dt.date | None, published_to: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The rules of ``notice_publish``, for a form to show before anything is written; the notice period to use."""
    if (
        not _may(acting_user, "disclosure.add_notice")
        or not Payout.objects.visible_to(acting_user).filter(pk=payout.pk).exists()
    ):
        raise PermissionDenied(_("只能发布本部门（本乡镇）发放项目的公示。"))
    if payout.status not in NOTICE_PAYOUT_STATUSES:
        raise ValidationError(_("发放项目审核通过后才能公示名单。"), code="payout_not_approved")
    if Notice.objects.filter(payout=payout, status=NoticeStatus.PUBLISHED).exists():
        raise ValidationError(_("该发放项目已有正在公示的名单，请先撤回。"), code="notice_exists")
    published_from = published_from or timezone.localdate()
    published_to = published_to or published_from + dt.timedelta(days=DEFAULT_NOTICE_DAYS - 1)
    if published_to < published_from:
        raise ValidationError(_("公示截止日期不能早于开始日期。"), code="notice_period")
    return published_from, published_to


def notice_publish(
    *,
    payout: Payout,
    acting_user,
    published_from: dt.date | None = None,
    published_to: dt.date | None = None,
    title: str = "",
    objection_line: str = "",
) -> Notice:
    """Publish the payout's notice. Only its department (or township) may, only once its roster is approved, and
    only one notice is in force per payout (a database constraint says so too)."""
    published_from, published_to = notice_publish_check(
        payout=payout, acting_user=acting_user, published_from=published_from, published_to=published_to
    )
    notice = Notice(
        payout=payout,
        title=(title or default_title(payout))[:120],
        published_from=published_from,
        published_to=published_to,
        objection_line=(objection_line or default_objection_line(payout))[:200],
        published_by=acting_user,
    )
    try:
        with transaction.atomic():
            notice.save()
            audit_record(
                acting_user=acting_user,
                action=AuditAction.NOTICE_PUBLISH,
                obj=notice,
                after={
                    "payout": payout.code,
                    "published_from": published_from,
                    "published_to": published_to,
                    "title": notice.title,
                },
                department_id=payout.department_id,
                region_code=payout.region.code,
            )
    except IntegrityError:
        raise ValidationError(_("该发放项目已有正在公示的名单，请先撤回。"), code="notice_exists") from None
    return notice


def notice_withdraw(*, notice: Notice, reason: str, acting_user) -> Notice:
    if (
        not _may(acting_user, "disclosure.change_notice")
        or not Notice.objects.visible_to(acting_user).filter(pk=notice.pk).exists()
    ):
        raise PermissionDenied(_("只能撤回本部门（本乡镇）的公示。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("请填写撤回理由。"), code="reason_required")
    now = timezone.now()
    with transaction.atomic():
        changed = Notice.objects.filter(pk=notice.pk, status=NoticeStatus.PUBLISHED).update(
            status=NoticeStatus.WITHDRAWN, withdrawn_by=acting_user, withdrawn_at=now, withdrawn_reason=reason[:200]
        )
        if changed != 1:
            raise ValidationError(_("该公示已经撤回。"), code="notice_withdrawn")
        audit_record(
            acting_user=acting_user,
            action=AuditAction.NOTICE_WITHDRAW,
            obj=notice,
            before={"status": NoticeStatus.PUBLISHED},
            after={"status": NoticeStatus.WITHDRAWN, "reason": reason[:200]},
            department_id=notice.payout.department_id,
            region_code=notice.payout.region.code,
        )
    notice.refresh_from_db()
    return notice


# --- What the public reads -----------------------------------------------------------------------


def public_notices() -> QuerySet[Notice]:
    """Published notices, current and past (a finished notice stays readable: 集中公开), newest first."""
    return (
        Notice.objects.filter(status=NoticeStatus.PUBLISHED, published_from__lte=timezone.localdate())
        .select_related("payout__department", "payout__region", "payout__policy_entry")
        .order_by("-published_from", "-pk")
    )


@dataclass(frozen=True)
class NoticeRow:
    name: str  # masked
    id_number: str  # masked
    township: str
    village: str
    amount: Decimal


@dataclass(frozen=True)
class NoticePage:
    rows: list[NoticeRow]
    count: int
    total: Decimal
    page: int
    pages: int


def notice_payments(notice: Notice, *, area: str = "") -> QuerySet[Payment]:
    payments = Payment.objects.filter(
        payout_id=notice.payout_id, reissue_of__isnull=True, status__in=NOTICE_PAYMENT_STATUSES
    )
    if area:
        payments = payments.filter(recipient__village__code__startswith=area)
    return payments


def notice_page(notice: Notice, *, area: str = "", page: int = 1) -> NoticePage:
    """One page of the notice, masked, for the whole payout or one township (9 digits) or village (12 digits)."""
    payments = notice_payments(notice, area=area)
    totals = payments.aggregate(count=Count("pk"), total=Sum("amount"))
    count = totals["count"]
    pages = max(1, -(-count // ROWS_PER_PAGE))
    page = min(max(page, 1), pages)
    start = (page - 1) * ROWS_PER_PAGE
    values = payments.order_by("recipient__village__code", "row", "pk").values_list(
        "recipient__name",
        "recipient__id_masked",
        "recipient__village__parent__name",
        "recipient__village__name",
        "amount",
    )[start : start + ROWS_PER_PAGE]
    rows = [
        NoticeRow(name=mask_name(name), id_number=id_masked, township=township or "", village=village or "", amount=a)
        for name, id_masked, township, village, a in values
    ]
    return NoticePage(rows=rows, count=count, total=totals["total"] or Decimal("0"), page=page, pages=pages)


def notice_areas(notice: Notice, township: str = "") -> tuple[list[Region], list[Region]]:
    """The townships of the payout's region, and the villages of the chosen township, for the filter."""
    region = notice.payout.region
    if region.level == RegionLevel.TOWNSHIP:
        townships = [region]
    else:
        townships = list(Region.objects.filter(level=RegionLevel.TOWNSHIP, code__startswith=region.code))
    villages = []
    if township:
        villages = list(Region.objects.filter(level=RegionLevel.VILLAGE, parent__code=township).order_by("code"))
    return townships, villages


# --- 制度文件 -------------------------------------------------------------------------------------

DOCUMENT_FIELDS = ("title", "doc_number", "department_id", "issued_on", "summary", "file", "is_published")


def document_save(*, document: PublishedDocument, acting_user, before: dict | None = None) -> PublishedDocument:
    """Create or change a document. A department keeps its own documents; finance any (and its own, unassigned)."""
    if not _may(acting_user, "disclosure.change_publisheddocument"):
        raise PermissionDenied(_("无权维护制度文件。"))
    scope = scope_of(acting_user)
    if not scope.everything and document.department_id != scope.department_id:
        raise PermissionDenied(_("只能维护本部门发布的制度文件。"))
    creating = document.pk is None
    was_published = bool(before and before.get("is_published"))
    if document.is_published and not was_published:
        document.published_at = timezone.now()
    elif not document.is_published:
        document.published_at = None
    if creating:
        document.created_by = acting_user
    after = document_snapshot(document)
    with transaction.atomic():
        document.save()
        if document.is_published != was_published and not (creating and not document.is_published):
            action = AuditAction.DOCUMENT_PUBLISH if document.is_published else AuditAction.DOCUMENT_UNPUBLISH
        else:
            action = AuditAction.DOCUMENT_SAVE
        audit_record(
            acting_user=acting_user,
            action=action,
            obj=document,
            before=before,
            after=after,
            department_id=document.department_id,
        )
    return document


def document_snapshot(document: PublishedDocument) -> dict:
    return {name: str(getattr(document, name) or "") for name in DOCUMENT_FIELDS} | {
        "is_published": document.is_published
    }


def public_documents() -> QuerySet[PublishedDocument]:
    return PublishedDocument.objects.filter(is_published=True).select_related("department")
