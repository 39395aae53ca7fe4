"""信息公开: what the platform shows the public — payout notices (公示), published documents (制度文件) — and the
complaints and questions (投诉举报/咨询) the public sends back. Rules and decisions: docs/disclosure.md."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from disclosure.enums import ComplaintKind, ComplaintStatus, NoticeStatus
from org.scoping import ScopedQuerySet

# TS-20261207-7K3Q9XWA: the day it was filed and 8 characters of Crockford base32 (40 random bits).
TRACKING_PATTERN = r"^TS-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{8}$"


class Notice(models.Model):
    """公示: one payout's recipients shown to the public, masked, for a notice period (published from/to).

    The rows are read live from the payout's payments (docs/disclosure.md says which), so a corrected account or a
    stopped payment is what the public sees, never a stale copy.
    """

    payout = models.ForeignKey(
        "disbursement.Payout", verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="notices"
    )
    title = models.CharField(_("公示标题"), max_length=120)
    published_from = models.DateField(_("公示开始日期"))
    published_to = models.DateField(_("公示截止日期"))
    objection_line = models.CharField(
        _("异议受理"), max_length=200, help_text=_("公示期内对名单有异议的，向谁反映：单位、电话、地址")
    )
    status = models.CharField(_("状态"), max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.PUBLISHED)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发布人"), on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(_("发布时间"), default=timezone.now)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("撤回人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    withdrawn_reason = models.CharField(_("撤回理由"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("发放公示")
        verbose_name_plural = _("发放公示")
        ordering = ["-published_from", "-pk"]
        constraints = [
            models.CheckConstraint(name="notice_status_known", condition=Q(status__in=NoticeStatus.values)),
            models.CheckConstraint(name="notice_period_ordered", condition=Q(published_to__gte=F("published_from"))),
            # One notice in force per payout: a second one would show the same people twice.
            models.UniqueConstraint(
                fields=["payout"], condition=Q(status=NoticeStatus.PUBLISHED), name="one_published_notice_per_payout"
            ),
            models.CheckConstraint(
                name="notice_withdrawal_recorded",
                condition=Q(status=NoticeStatus.PUBLISHED, withdrawn_at__isnull=True)
                | Q(status=NoticeStatus.WITHDRAWN, withdrawn_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def in_period(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.published_from <= today <= self.published_to


class PublishedDocument(models.Model):
    """制度文件: a policy document, rule or notice the bureau or a department makes public."""

    title = models.CharField(_("标题"), max_length=160)
    doc_number = models.CharField(_("文号"), max_length=80, blank=True)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("发布部门"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("不填为财政局"),
    )
    issued_on = models.DateField(_("成文日期"))
    summary = models.TextField(_("内容摘要"), blank=True)
    file = models.FileField(_("文件"), upload_to="documents/", blank=True)
    is_published = models.BooleanField(_("已公开"), default=False)
    published_at = models.DateTimeField(_("公开时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("录入人"), on_delete=models.PROTECT, related_name="+"
    )

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("制度文件")
        verbose_name_plural = _("制度文件")
        ordering = ["-issued_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                name="document_publication_dated",
                condition=Q(is_published=False) | Q(published_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Complaint(models.Model):
    """投诉举报/咨询 from the public: what it is about, who must answer it by when, and the answer.

    ``bank`` names the 代发金融机构 complained about, if any: banks.evaluation counts these in a bank's score.
    """

    tracking_no = models.CharField(_("查询编号"), max_length=24, unique=True)
    kind = models.CharField(_("类型"), max_length=16, choices=ComplaintKind.choices)
    policy = models.ForeignKey(
        "policies.Policy",
        verbose_name=_("涉及政策"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    township = models.ForeignKey(
        "org.Region",
        verbose_name=_("所在乡镇（街道）"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    bank = models.ForeignKey(
        "banks.Bank",
        verbose_name=_("涉及代发银行"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
    )
    text = models.TextField(_("内容"))
    contact_name = models.CharField(_("联系人"), max_length=32, blank=True)
    contact_cipher = models.BinaryField(_("联系电话密文"), null=True, blank=True, editable=False)
    contact_masked = models.CharField(_("联系电话"), max_length=20, blank=True)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("承办部门"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="complaints",
        help_text=_("为空时由财政局分办"),
    )
    status = models.CharField(_("状态"), max_length=16, choices=ComplaintStatus.choices, default=ComplaintStatus.OPEN)
    created_at = models.DateTimeField(_("受理时间"), default=timezone.now)
    due_at = models.DateTimeField(_("答复期限"))
    assigned_at = models.DateTimeField(_("分办时间"), null=True, blank=True)
    answer = models.TextField(_("答复内容"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("答复人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("投诉咨询")
        verbose_name_plural = _("投诉咨询")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(name="complaint_kind_known", condition=Q(kind__in=ComplaintKind.values)),
            models.CheckConstraint(name="complaint_status_known", condition=Q(status__in=ComplaintStatus.values)),
            models.CheckConstraint(name="complaint_tracking_format", condition=Q(tracking_no__regex=TRACKING_PATTERN)),
            models.CheckConstraint(name="complaint_due_after_filing", condition=Q(due_at__gt=F("created_at"))),
            # An answered complaint has its answer, its author and its time; an open one has none of them.
            models.CheckConstraint(
                name="complaint_answer_recorded",
                condition=(
                    Q(status=ComplaintStatus.ANSWERED, answered_at__isnull=False, answered_by__isnull=False)
                    & ~Q(answer="")
                )
                | Q(status=ComplaintStatus.OPEN, answered_at__isnull=True, answered_by__isnull=True, answer=""),
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="complaint_open_due")]

    def __str__(self) -> str:
        return self.tracking_no

    @property
    def is_overdue(self) -> bool:
        if self.status == ComplaintStatus.OPEN:
            return self.due_at < timezone.now()
        return self.answered_at is not None and self.answered_at > self.due_at
