"""发放项目 and 发放明细: one round of one policy, and the amounts it pays to people."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from disbursement.enums import (
    REVIEW_ROLES,
    BankResult,
    BatchStatus,
    CorrectionKind,
    PaymentStatus,
    PayoutStatus,
    ReviewActionKind,
)
from org.scoping import ScopedQuerySet

PERIOD_PATTERN = r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$"
MONEY_COMMITTED = [
    PaymentStatus.SUBMITTED,
    PaymentStatus.APPROVED,
    PaymentStatus.BATCHED,
    PaymentStatus.SENT,
    PaymentStatus.PAID,
    PaymentStatus.FAILED,
    PaymentStatus.RETURNED,
]
# A bank result moves once: nothing → paid | failed, and paid → returned (退回). Anything else is refused, here and
# by a database trigger.
RESULT_MOVES_SQL = (
    "OLD.result IS DISTINCT FROM NEW.result AND NOT ((OLD.result = '' AND NEW.result IN ('paid', 'failed'))"
    " OR (OLD.result = 'paid' AND NEW.result = 'returned'))"
)


def payment_ref(payout_code: str, row: int, attempt: int = 1) -> str:
    """The reference a payment goes by outside the platform (reports, bank files, results): payout code and roster
    row, and for a reissue (补发) its attempt: ``MZ-04-2026-11-000002``, ``MZ-04-2026-11-000002-R2``."""
    ref = f"{payout_code}-{row:06d}"
    return ref if attempt == 1 else f"{ref}-R{attempt}"


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
    # The review round: 0 while a draft; then the position of the step whose turn it is.
    review_step = models.PositiveSmallIntegerField(_("当前审核环节"), default=0, db_default=0)
    step_due_at = models.DateTimeField(_("本环节办理时限"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    # What the last step approved: never more than the budget line (a check in the database too).
    approved_total = models.DecimalField(
        _("审核通过金额（元）"), max_digits=16, decimal_places=2, default=0, db_default=0
    )
    approved_at = models.DateTimeField(_("审核通过时间"), null=True, blank=True)
    released_at = models.DateTimeField(_("拨付时间"), null=True, blank=True)

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
            models.CheckConstraint(
                name="payout_approved_within_budget",
                condition=Q(approved_total__gte=0, approved_total__lte=models.F("budget_amount")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class Payment(models.Model):
    """One amount to one person's account for one payout: the unit of money.

    The account, holder and amount are a snapshot taken from the roster; the bank file is built from it.
    """

    # Every index costs a million inserts per large roster: the foreign keys below whose look-ups are already
    # served by a composite index (payout → payment_once_per_attempt, policy → the policy/period index) or that
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
    # The bank batch that carries it; once set, what the bank file says about the payment never changes.
    batch = models.ForeignKey(
        "disbursement.Batch",
        verbose_name=_("代发批次"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payments",
        db_index=False,
    )
    # 1 for the first payment of a person in a payout; a reissue (补发) after a failure is a new payment, +1.
    attempt = models.PositiveSmallIntegerField(_("发放次数"), default=1, db_default=1)
    # A reissue is the child of the failed payment it replaces; one child at most (never two copies in flight).
    reissue_of = models.OneToOneField(
        "self",
        verbose_name=_("原发放明细"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reissue",
    )
    # The bank's answer (回盘): what it said, why it failed, its own transaction id and when the money arrived.
    result = models.CharField(
        _("银行回盘"), max_length=8, choices=BankResult.choices, default=BankResult.NONE, db_default="", blank=True
    )
    result_code = models.CharField(_("失败原因代码"), max_length=32, default="", db_default="", blank=True)
    result_reason = models.CharField(_("失败原因说明"), max_length=200, default="", db_default="", blank=True)
    bank_txn_id = models.CharField(_("银行流水号"), max_length=64, default="", db_default="", blank=True)
    paid_at = models.DateTimeField(_("到账时间"), null=True, blank=True)
    result_at = models.DateTimeField(_("回盘时间"), null=True, blank=True)
    returned_at = models.DateTimeField(_("退回时间"), null=True, blank=True)
    # Whether the payment holds money (MONEY_COMMITTED), computed by the database. The no-重发 constraint is keyed on
    # it rather than on the status, so that a bank's result (sent → paid or failed: committed either way) changes
    # no indexed column and PostgreSQL updates the row in place (HOT) instead of touching every index: applying a
    # million results is then one pass over the table, not eight.
    money_committed = models.GeneratedField(
        expression=Q(status__in=MONEY_COMMITTED), output_field=models.BooleanField(), db_persist=True
    )

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("发放明细")
        verbose_name_plural = _("发放明细")
        ordering = ["payout", "row"]
        constraints = [
            # One payment per person per payout and attempt: a reissue is attempt 2, 3 … of the same person.
            models.UniqueConstraint(fields=["payout", "recipient", "attempt"], name="payment_once_per_attempt"),
            # No 重发: a person holds at most one payment that is on its way to money, or was paid, per policy
            # and period, across all payouts. Drafts are left out (a duplicate draft is a cross-check finding,
            # not an import failure), and so are cancelled, stopped and reissued ones (a reissue is a new payment).
            models.UniqueConstraint(
                fields=["policy", "period", "recipient"],
                condition=Q(money_committed=True),
                name="payment_once_per_policy_period",
            ),
            models.CheckConstraint(name="payment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(name="payment_status_known", condition=Q(status__in=PaymentStatus.values)),
            models.CheckConstraint(name="payment_result_known", condition=Q(result__in=BankResult.values)),
            models.CheckConstraint(
                name="payment_failure_has_reason", condition=~Q(result=BankResult.FAILED) | ~Q(result_code="")
            ),
            models.CheckConstraint(
                name="payment_reissue_is_linked",
                condition=Q(attempt=1, reissue_of__isnull=True) | Q(attempt__gt=1, reissue_of__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["policy", "period", "recipient"]),
            models.Index(fields=["account_hash"]),
            # 个人补贴查询: every payment of one person (disclosure.lookup).
            models.Index(fields=["recipient"], name="payment_recipient"),
            models.Index(fields=["batch", "row"], name="payment_batch_row", condition=Q(batch__isnull=False)),
        ]
        triggers = [
            # A payment in a generated bank file is what that file says: its batch, amount and account are final.
            pgtrigger.Protect(
                name="payment_in_batch_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.batch_id IS NOT NULL AND (NEW.batch_id IS DISTINCT FROM OLD.batch_id"
                    " OR NEW.amount <> OLD.amount OR NEW.account_hash <> OLD.account_hash"
                    " OR NEW.account_cipher <> OLD.account_cipher OR NEW.holder_name <> OLD.holder_name"
                    ' OR NEW."row" <> OLD."row" OR NEW.payout_id <> OLD.payout_id)'
                ),
            ),
            pgtrigger.Protect(
                name="payment_result_moves_once",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(RESULT_MOVES_SQL),
            ),
            pgtrigger.Protect(
                name="payment_in_batch_kept",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__batch__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payout.code}#{self.row}"


class ReviewStep(models.Model):
    """One step of a policy's review chain (审核流程); steps without a policy are the default chain."""

    policy = models.ForeignKey(
        "policies.Policy",
        verbose_name=_("补贴政策"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="review_steps",
        help_text=_("留空为默认审核流程"),
    )
    position = models.PositiveSmallIntegerField(_("顺序"))
    role = models.CharField(_("审核角色"), max_length=24)
    name = models.CharField(_("环节名称"), max_length=40)
    hours_allowed = models.PositiveIntegerField(_("办理时限（小时）"), default=72)

    class Meta:
        verbose_name = _("审核环节")
        verbose_name_plural = _("审核环节")
        ordering = ["policy", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="reviewstep_once_per_policy"),
            models.UniqueConstraint(
                fields=["position"], condition=Q(policy__isnull=True), name="reviewstep_once_in_default"
            ),
            models.CheckConstraint(name="reviewstep_role_reviews", condition=Q(role__in=REVIEW_ROLES)),
            models.CheckConstraint(name="reviewstep_position_positive", condition=Q(position__gte=1)),
            models.CheckConstraint(name="reviewstep_hours_positive", condition=Q(hours_allowed__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class ReviewAction(models.Model):
    """One act in a payout's review: submitted, approved, returned (with a reason), withdrawn, released."""

    payout = models.ForeignKey(Payout, verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="reviews")
    step = models.PositiveSmallIntegerField(_("环节"))
    role = models.CharField(_("角色"), max_length=24)
    action = models.CharField(_("操作"), max_length=16, choices=ReviewActionKind.choices)
    acted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("办理人"), on_delete=models.PROTECT, related_name="+"
    )
    # Who submitted this round: copied here so that "nobody approves what they submitted" is a row check.
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("本轮提交人"), on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(_("意见或理由"), blank=True)
    acted_at = models.DateTimeField(_("办理时间"), auto_now_add=True)
    due_at = models.DateTimeField(_("时限"), null=True, blank=True)
    overdue = models.BooleanField(_("超时办理"), default=False)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["payout", "acted_at", "pk"]
        constraints = [
            models.CheckConstraint(name="reviewaction_known", condition=Q(action__in=ReviewActionKind.values)),
            models.CheckConstraint(
                name="reviewaction_maker_is_not_checker",
                condition=~Q(action=ReviewActionKind.APPROVE) | ~Q(acted_by=models.F("submitted_by")),
            ),
            models.CheckConstraint(
                name="reviewaction_return_has_reason",
                condition=~Q(action=ReviewActionKind.RETURN) | ~Q(reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payout_id} {self.step} {self.action}"


class Batch(models.Model):
    """代发批次: the payments of one released payout that one bank pays, and the frozen file it receives."""

    batch_no = models.CharField(_("批次号"), max_length=40, unique=True)
    payout = models.ForeignKey(Payout, verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="batches")
    bank = models.ForeignKey("banks.Bank", verbose_name=_("代发银行"), on_delete=models.PROTECT, related_name="batches")
    # 1 for the first release; a reissue (补发) of corrected failures goes out in a later attempt.
    attempt = models.PositiveSmallIntegerField(_("批次轮次"), default=1)
    status = models.CharField(_("状态"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.GENERATING)
    payment_count = models.PositiveIntegerField(_("笔数"))
    total_fen = models.BigIntegerField(_("金额（分）"))
    encoding = models.CharField(_("文件编码"), max_length=8)
    file_sha256 = models.CharField(_("文件SHA-256"), max_length=64, blank=True)
    detail_sha256 = models.CharField(_("明细SHA-256"), max_length=64, blank=True)
    file_size = models.PositiveBigIntegerField(_("文件大小（字节）"), default=0)
    stored_file = models.CharField(_("文件存储路径"), max_length=200, blank=True, editable=False)
    job = models.ForeignKey(
        "jobs.Job", verbose_name=_("生成任务"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("拨付人"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    generated_at = models.DateTimeField(_("文件生成时间"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("银行确认接收时间"), null=True, blank=True)
    first_result_at = models.DateTimeField(_("首次回盘时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("全部回盘时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("代发批次")
        verbose_name_plural = _("代发批次")
        ordering = ["-created_at", "batch_no"]
        constraints = [
            models.UniqueConstraint(fields=["payout", "bank", "attempt"], name="batch_once_per_bank_and_attempt"),
            models.CheckConstraint(name="batch_status_known", condition=Q(status__in=BatchStatus.values)),
            models.CheckConstraint(name="batch_not_empty", condition=Q(payment_count__gt=0, total_fen__gt=0)),
            models.CheckConstraint(
                name="batch_generated_has_file",
                condition=Q(generated_at__isnull=True) | (~Q(file_sha256="") & ~Q(stored_file="")),
            ),
        ]
        triggers = [
            # Once its file exists, a batch and its file never change: only its status moves on.
            pgtrigger.Protect(
                name="batch_file_is_final",
                operation=pgtrigger.Update,
                condition=pgtrigger.Condition(
                    "OLD.generated_at IS NOT NULL AND (NEW.batch_no <> OLD.batch_no OR NEW.payout_id <> OLD.payout_id"
                    " OR NEW.bank_id <> OLD.bank_id OR NEW.payment_count <> OLD.payment_count"
                    " OR NEW.total_fen <> OLD.total_fen OR NEW.encoding <> OLD.encoding"
                    " OR NEW.file_sha256 <> OLD.file_sha256 OR NEW.detail_sha256 <> OLD.detail_sha256"
                    " OR NEW.stored_file <> OLD.stored_file OR NEW.generated_at IS DISTINCT FROM OLD.generated_at)"
                ),
            ),
            pgtrigger.Protect(
                name="batch_generated_kept",
                operation=pgtrigger.Delete,
                condition=pgtrigger.Q(old__generated_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.batch_no


class Correction(models.Model):
    """The department's answer to a failed (or returned) payment: the corrected account for a reissue (补发), or a
    stop (停发) with its reason. The failed payment itself never changes; a reissue is a new payment, its child."""

    payment = models.OneToOneField(
        Payment, verbose_name=_("失败的发放明细"), on_delete=models.PROTECT, related_name="correction"
    )
    kind = models.CharField(_("处理方式"), max_length=8, choices=CorrectionKind.choices)
    account_hash = models.CharField(max_length=64, blank=True)
    account_cipher = models.BinaryField(null=True, blank=True)
    account_masked = models.CharField(_("更正后银行账号"), max_length=12, blank=True)
    bank_name = models.CharField(_("更正后开户银行"), max_length=64, blank=True)
    holder_name = models.CharField(_("更正后户名"), max_length=64, blank=True)
    reason = models.TextField(_("核实情况或停发理由"), blank=True)
    corrected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("经办人"), on_delete=models.PROTECT, related_name="+"
    )
    corrected_at = models.DateTimeField(_("处理时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payment__payout__department"
    scope_region_field = "payment__payout__region__code"

    class Meta:
        verbose_name = _("失败更正")
        verbose_name_plural = _("失败更正")
        ordering = ["-corrected_at"]
        constraints = [
            models.CheckConstraint(name="correction_kind_known", condition=Q(kind__in=CorrectionKind.values)),
            models.CheckConstraint(
                name="correction_stop_has_reason", condition=~Q(kind=CorrectionKind.STOP) | ~Q(reason="")
            ),
            models.CheckConstraint(
                name="correction_has_account",
                condition=~Q(kind=CorrectionKind.CORRECT) | (~Q(account_hash="") & Q(account_cipher__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} {self.kind}"
