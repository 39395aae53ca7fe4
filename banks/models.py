"""代发金融机构: the banks that pay subsidies into people's accounts, their agreements (代发协议), API credentials,
the failure-reason catalogue their results quote, the results they sent (回盘) and finance's scores (考评)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FileEncoding(models.TextChoices):
    GBK = "gbk", "GBK"
    UTF8 = "utf-8", "UTF-8"


class ResultSource(models.TextChoices):
    JSON = "json", "JSON"
    FILE = "file", _("回盘文件")


class SubmissionStatus(models.TextChoices):
    RECEIVED = "received", _("处理中")
    APPLIED = "applied", _("已处理")
    REJECTED = "rejected", _("已拒绝")


class Bank(models.Model):
    code = models.SlugField(_("机构代码"), max_length=32, unique=True, help_text=_("如 ccb-erqi"))
    name = models.CharField(_("名称"), max_length=100)
    # The names clerks write in a roster's 开户银行 column for this bank (建行, 中国建设银行, 建设银行二七支行 …).
    aliases = models.JSONField(_("名册中的银行名称"), default=list, blank=True)
    file_encoding = models.CharField(
        _("代发文件编码"), max_length=8, choices=FileEncoding.choices, default=FileEncoding.GBK
    )
    is_active = models.BooleanField(_("启用"), default=True)
    # When set, every API call must carry a valid HMAC signature and timestamp (docs/bank-api.md).
    signature_required = models.BooleanField(_("接口请求须签名"), default=False)
    # The bank's identity on the platform (role 代发金融机构): API calls act, and are audited, as this user.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("接口身份"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bank",
        editable=False,
    )

    class Meta:
        verbose_name = _("代发金融机构")
        verbose_name_plural = _("代发金融机构")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(name="bank_encoding_known", condition=Q(file_encoding__in=FileEncoding.values))
        ]

    def __str__(self) -> str:
        return self.name


class Agreement(models.Model):
    """代发协议: the dated agreement a bank pays under, with the service terms the plans name and its time limits."""

    bank = models.ForeignKey(Bank, verbose_name=_("代发金融机构"), on_delete=models.PROTECT, related_name="agreements")
    number = models.CharField(_("协议编号"), max_length=60, unique=True)
    signed_on = models.DateField(_("签订日期"))
    valid_from = models.DateField(_("生效日期"))
    valid_until = models.DateField(_("终止日期"), null=True, blank=True, help_text=_("留空为长期有效"))
    free_card_activation = models.BooleanField(_("免费开卡（激活）"), default=True)
    payment_notification = models.BooleanField(_("到账短信通知"), default=True)
    convenient_withdrawal = models.BooleanField(_("便捷取款"), default=True)
    data_security = models.BooleanField(_("数据安全保密"), default=True)
    ack_hours = models.PositiveIntegerField(_("接收确认时限（小时）"), default=24)
    result_hours = models.PositiveIntegerField(_("回盘时限（小时）"), default=72)
    notes = models.TextField(_("其他约定"), blank=True)

    class Meta:
        verbose_name = _("代发协议")
        verbose_name_plural = _("代发协议")
        ordering = ["bank", "-valid_from"]
        constraints = [
            models.CheckConstraint(name="agreement_ack_hours_positive", condition=Q(ack_hours__gte=1)),
            models.CheckConstraint(name="agreement_result_hours_positive", condition=Q(result_hours__gte=1)),
            models.CheckConstraint(
                name="agreement_dates_ordered",
                condition=Q(valid_until__isnull=True) | Q(valid_until__gte=models.F("valid_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank} {self.number}"


class BankToken(models.Model):
    """A bank's API credential. The token is shown once; only its keyed hash (and, for signed requests, a key
    derived from it, sealed) is kept. Revoked tokens stay as a record."""

    bank = models.ForeignKey(Bank, verbose_name=_("代发金融机构"), on_delete=models.PROTECT, related_name="tokens")
    # The token's public part (``ykt_<prefix>_…``): names it in lists and logs without revealing it.
    prefix = models.CharField(_("令牌标识"), max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    signing_key_cipher = models.BinaryField(editable=False)
    label = models.CharField(_("用途说明"), max_length=80, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("签发人"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("签发时间"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("吊销人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        ordering = ["bank", "-created_at"]

    def __str__(self) -> str:
        return f"{self.bank.code} ykt_{self.prefix}_…"


class FailureReason(models.Model):
    """失败原因目录: the codes a bank quotes when a payment fails or comes back; installed by migration, kept by
    finance. ``correctable``: the department can fix the data and reissue (an account number, a name)."""

    code = models.SlugField(_("原因代码"), max_length=32, unique=True)
    name = models.CharField(_("原因"), max_length=40)
    correctable = models.BooleanField(_("可更正后补发"), default=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("发放失败原因")
        verbose_name_plural = _("发放失败原因")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name


class ResultSubmission(models.Model):
    """One 回盘 a bank sent for a batch (JSON or a result file) and what became of it. With its
    ``Idempotency-Key`` it is also the answer given again when the same request is repeated."""

    bank = models.ForeignKey(Bank, verbose_name=_("代发金融机构"), on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(
        "disbursement.Batch", verbose_name=_("代发批次"), on_delete=models.PROTECT, related_name="result_submissions"
    )
    idempotency_key = models.CharField(_("幂等键"), max_length=100, blank=True)
    body_sha256 = models.CharField(_("请求体SHA-256"), max_length=64)
    source = models.CharField(_("方式"), max_length=8, choices=ResultSource.choices)
    status = models.CharField(
        _("状态"), max_length=12, choices=SubmissionStatus.choices, default=SubmissionStatus.RECEIVED
    )
    result_count = models.PositiveIntegerField(_("结果条数"), default=0)
    counts = models.JSONField(_("处理结果"), default=dict, blank=True)
    error_code = models.CharField(_("错误代码"), max_length=40, blank=True)
    errors = models.JSONField(_("错误明细"), default=list, blank=True)
    stored_file = models.CharField(max_length=200, blank=True, editable=False)
    job = models.ForeignKey(
        "jobs.Job", verbose_name=_("处理任务"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    received_at = models.DateTimeField(_("接收时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("回盘记录")
        verbose_name_plural = _("回盘记录")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["bank", "idempotency_key"], condition=~Q(idempotency_key=""), name="result_key_once_per_bank"
            ),
            models.CheckConstraint(name="result_source_known", condition=Q(source__in=ResultSource.values)),
            models.CheckConstraint(name="result_status_known", condition=Q(status__in=SubmissionStatus.values)),
        ]

    def __str__(self) -> str:
        return f"{self.batch_id} #{self.pk}"


class BankScore(models.Model):
    """考评: finance's manual part of a bank's evaluation for one period; the rest is computed from the data."""

    bank = models.ForeignKey(Bank, verbose_name=_("代发金融机构"), on_delete=models.PROTECT, related_name="scores")
    period = models.CharField(_("考评期间"), max_length=7, help_text=_("如 2026-11、2026-Q4 或 2026"))
    manual_score = models.DecimalField(_("财政评分（0–20）"), max_digits=4, decimal_places=1)
    note = models.TextField(_("评分说明"), blank=True)
    scored_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("评分人"), on_delete=models.PROTECT, related_name="+"
    )
    scored_at = models.DateTimeField(_("评分时间"), auto_now=True)

    class Meta:
        verbose_name = _("代发机构考评")
        verbose_name_plural = _("代发机构考评")
        ordering = ["-period", "bank"]
        constraints = [
            models.UniqueConstraint(fields=["bank", "period"], name="bankscore_once_per_period"),
            models.CheckConstraint(name="bankscore_in_range", condition=Q(manual_score__gte=0, manual_score__lte=20)),
            models.CheckConstraint(
                name="bankscore_period_format", condition=Q(period__regex=r"^[0-9]{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank} {self.period}"
