"""补贴对象: one registry entry per person across all policies, their accounts and its history, and the
rosters clerks upload. ID and account numbers are stored encrypted (SM4-GCM) with a keyed hash for lookup."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.scoping import ScopedQuerySet
from recipients.enums import ChangeField, RosterStatus, Sex


class Recipient(models.Model):
    id_hash = models.CharField(_("身份证号哈希"), max_length=64, unique=True)
    id_cipher = models.BinaryField(_("身份证号密文"))
    id_masked = models.CharField(_("身份证号"), max_length=18)
    name = models.CharField(_("姓名"), max_length=64)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("出生日期"))
    birthplace_code = models.CharField(_("证件区划"), max_length=6)
    village = models.ForeignKey(
        "org.Region",
        verbose_name=_("所在村（社区）"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("补贴对象")
        verbose_name_plural = _("补贴对象")
        constraints = [
            models.CheckConstraint(name="recipient_hash_is_hex", condition=Q(id_hash__regex=r"^[0-9a-f]{64}$")),
            models.CheckConstraint(name="recipient_sex_known", condition=Q(sex__in=Sex.values)),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.id_masked}）"


class RecipientAccount(models.Model):
    recipient = models.ForeignKey(
        Recipient, verbose_name=_("补贴对象"), on_delete=models.PROTECT, related_name="accounts"
    )
    account_hash = models.CharField(_("账号哈希"), max_length=64)
    account_cipher = models.BinaryField(_("账号密文"))
    account_masked = models.CharField(_("银行账号"), max_length=12)
    bank_name = models.CharField(_("开户银行"), max_length=64, blank=True)
    holder_name = models.CharField(_("户名"), max_length=64, blank=True)
    is_current = models.BooleanField(_("当前使用"), default=True)
    first_seen_at = models.DateTimeField(_("首次登记"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), auto_now=True)

    class Meta:
        verbose_name = _("银行账户")
        verbose_name_plural = _("银行账户")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "account_hash"], name="account_once_per_recipient"),
            models.UniqueConstraint(
                fields=["recipient"], condition=Q(is_current=True), name="one_current_account_per_recipient"
            ),
        ]
        indexes = [models.Index(fields=["account_hash"])]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.account_masked}"


class RecipientChange(models.Model):
    """What changed about a person, from which roster: a changed account is worth a second look."""

    recipient = models.ForeignKey(
        Recipient, verbose_name=_("补贴对象"), on_delete=models.PROTECT, related_name="changes"
    )
    field = models.CharField(_("变更项"), max_length=16, choices=ChangeField.choices)
    before = models.CharField(_("变更前"), max_length=100, blank=True)
    after = models.CharField(_("变更后"), max_length=100, blank=True)
    roster = models.ForeignKey(
        "recipients.Roster",
        verbose_name=_("来源名册"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_at = models.DateTimeField(_("变更时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("补贴对象变更记录")
        verbose_name_plural = _("补贴对象变更记录")
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.get_field_display()}: {self.before} → {self.after}"


class Roster(models.Model):
    """名册: one uploaded file for one payout. The file itself is kept encrypted (it holds ID numbers)."""

    payout = models.ForeignKey(
        "disbursement.Payout", verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="rosters"
    )
    department = models.ForeignKey("org.Department", verbose_name=_("部门"), on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("文件名"), max_length=200)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_file = models.CharField(_("加密存储路径"), max_length=200, editable=False)
    status = models.CharField(_("状态"), max_length=16, choices=RosterStatus.choices, default=RosterStatus.UPLOADED)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)
    job = models.ForeignKey(
        "jobs.Job", verbose_name=_("导入任务"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rows_read = models.PositiveIntegerField(_("读取行数"), default=0)
    valid = models.PositiveIntegerField(_("有效行数"), default=0)
    rejected = models.PositiveIntegerField(_("拒绝行数"), default=0)
    warnings = models.PositiveIntegerField(_("警告数"), default=0)
    valid_total = models.DecimalField(_("有效金额合计"), max_digits=16, decimal_places=2, default=0)
    declared_total = models.DecimalField(_("名册合计行金额"), max_digits=16, decimal_places=2, null=True, blank=True)
    file_error_code = models.CharField(_("文件错误代码"), max_length=40, blank=True)
    file_error_message = models.TextField(_("文件错误"), blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"
    # A township's staff see their township's rosters only: the error report holds full ID numbers.
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("名册")
        verbose_name_plural = _("名册")
        ordering = ["-uploaded_at"]
        constraints = [
            models.CheckConstraint(name="roster_status_known", condition=Q(status__in=RosterStatus.values)),
            models.CheckConstraint(
                name="roster_counts_add_up",
                condition=Q(valid__lte=models.F("rows_read"), rejected__lte=models.F("rows_read")),
            ),
        ]

    def __str__(self) -> str:
        return self.filename


class RosterIssue(models.Model):
    """One problem found in one row: the clerk's row number, their column header, a stable code."""

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField(_("行号"))
    column = models.CharField(_("列"), max_length=60, blank=True)
    code = models.CharField(_("代码"), max_length=40)
    message = models.CharField(_("说明"), max_length=200)
    warning = models.BooleanField(_("仅警告"), default=False)

    class Meta:
        verbose_name = _("名册问题")
        verbose_name_plural = _("名册问题")
        ordering = ["roster", "row", "id"]
        indexes = [models.Index(fields=["roster", "row"])]

    def __str__(self) -> str:
        return f"{self.row} {self.column} {self.code}"


class RosterStage(models.Model):
    """Valid rows of a roster on their way into payments: filled by COPY, emptied by set-based SQL."""

    roster = models.ForeignKey(Roster, on_delete=models.CASCADE, related_name="+")
    row = models.PositiveIntegerField()
    id_hash = models.CharField(max_length=64)
    # Null when the person (or, below, the account) is already in the registry: nothing new to encrypt.
    id_cipher = models.BinaryField(null=True)
    id_masked = models.CharField(max_length=18)
    name = models.CharField(max_length=64)
    sex = models.CharField(max_length=1)
    birth_date = models.DateField()
    birthplace_code = models.CharField(max_length=6)
    phone = models.CharField(max_length=32, blank=True)
    account_hash = models.CharField(max_length=64)
    account_cipher = models.BinaryField(null=True)
    account_masked = models.CharField(max_length=12)
    bank_name = models.CharField(max_length=64, blank=True)
    holder_name = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    township_name = models.CharField(max_length=64, blank=True)
    village_name = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.roster_id}#{self.row}"
