"""发放项目 and 发放明细: one round of one policy, and the amounts it pays to people."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from disbursement.enums import PaymentStatus, PayoutStatus
from org.scoping import ScopedQuerySet

PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
MONEY_COMMITTED = [
    PaymentStatus.SUBMITTED,
    PaymentStatus.APPROVED,
    PaymentStatus.BATCHED,
    PaymentStatus.SENT,
    PaymentStatus.PAID,
    PaymentStatus.FAILED,
]


def payment_ref(payout_code: str, row: int) -> str:
    """The reference a payment goes by outside the platform (reports, bank files): payout code and roster row."""
    return f"{payout_code}-{row:06d}"


class Payout(models.Model):
    code = models.SlugField(_("项目编号"), max_length=40, unique=True)
    policy = models.ForeignKey(
        "policies.Policy", verbose_name=_("补贴政策"), on_delete=models.PROTECT, related_name="payouts"
    )
    # The year's list entry whose standard and bounds apply to this round.
    policy_entry = models.ForeignKey(
        "policies.PolicyEntry", verbose_name=_("适用清单条目"), on_delete=models.PROTECT, related_name="+"
    )
    period = models.CharField(_("发放期间"), max_length=7, help_text=_("如 2026-11、2026-Q4 或 2026"))
    region = models.ForeignKey("org.Region", verbose_name=_("发放区域"), on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "org.Department", verbose_name=_("主管部门"), on_delete=models.PROTECT, related_name="payouts"
    )
    title = models.CharField(_("名称"), max_length=120)
    budget_document = models.CharField(_("预算指标文号"), max_length=80)
    budget_amount = models.DecimalField(_("预算指标金额（元）"), max_digits=16, decimal_places=2)
    roster_due = models.DateField(_("名册报送期限"), null=True, blank=True)
    review_due = models.DateField(_("审核期限"), null=True, blank=True)
    payment_due = models.DateField(_("发放期限"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=PayoutStatus.choices, default=PayoutStatus.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"
    scope_region_field = "region__code"

    class Meta:
        verbose_name = _("发放项目")
        verbose_name_plural = _("发放项目")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="payout_period_format", condition=Q(period__regex=PERIOD_PATTERN)),
            models.CheckConstraint(name="payout_budget_positive", condition=Q(budget_amount__gt=0)),
            models.CheckConstraint(name="payout_status_known", condition=Q(status__in=PayoutStatus.values)),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Payment(models.Model):
    """One amount to one person's account for one payout: the unit of money.

    The account, holder and amount are a snapshot taken from the roster; the bank file is built from it.
    """

    # Every index costs a million inserts per large roster: the foreign keys below whose look-ups are already
    # served by a composite index (payout → payment_once_per_payout, policy → the policy/period index) or that
    # are never searched by (roster) carry no index of their own.
    payout = models.ForeignKey(
        Payout, verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    # Copied from the payout so that "once per policy and period" can be a database constraint.
    policy = models.ForeignKey("policies.Policy", on_delete=models.PROTECT, related_name="+", db_index=False)
    period = models.CharField(_("发放期间"), max_length=7)
    recipient = models.ForeignKey(
        "recipients.Recipient", verbose_name=_("补贴对象"), on_delete=models.PROTECT, related_name="payments"
    )
    roster = models.ForeignKey(
        "recipients.Roster",
        verbose_name=_("来源名册"),
        on_delete=models.PROTECT,
        related_name="payments",
        db_index=False,
    )
    row = models.PositiveIntegerField(_("名册行号"))
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2)
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=2, null=True, blank=True)
    account_hash = models.CharField(max_length=64)
    account_cipher = models.BinaryField()
    account_masked = models.CharField(_("银行账号"), max_length=12)
    bank_name = models.CharField(_("开户银行"), max_length=64, blank=True)
    holder_name = models.CharField(_("户名"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.DRAFT)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("发放明细")
        verbose_name_plural = _("发放明细")
        ordering = ["payout", "row"]
        constraints = [
            models.UniqueConstraint(fields=["payout", "recipient"], name="payment_once_per_payout"),
            # No 重发: a person holds at most one payment that is on its way to money, or was paid, per policy
            # and period, across all payouts. Drafts are left out (a duplicate draft is a cross-check finding,
            # not an import failure), and so are cancelled, stopped and reissued ones (a reissue is a new payment).
            models.UniqueConstraint(
                fields=["policy", "period", "recipient"],
                condition=Q(status__in=MONEY_COMMITTED),
                name="payment_once_per_policy_period",
            ),
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="payment_status_known", condition=Q(status__in=PaymentStatus.values)),
        ]
        indexes = [models.Index(fields=["policy", "period", "recipient"]), models.Index(fields=["account_hash"])]

    def __str__(self) -> str:
        return f"{self.payout.code}#{self.row}"
