"""比对: reference data other departments hold (deaths, household registration, public employees, rolls),
the rules that compare a payout against it, and what the rules found.

Reference identities are keyed hashes only (the same HMAC as the registry's `Recipient.id_hash`), so a
rule is a join on equal hashes; no reference ID number is ever stored, encrypted or not.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from checks.enums import FindingStatus, HouseholdStatus, LoadStatus, RunStatus, Severity, SourceKind
from org.scoping import ScopedQuerySet


class ReferenceSource(models.Model):
    """One kind of list another department keeps, e.g. 民政 death records or the 低保 roll."""

    code = models.SlugField(_("数据源代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    kind = models.CharField(_("类型"), max_length=16, choices=SourceKind.choices)
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("提供部门"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reference_sources",
    )
    description = models.TextField(_("说明"), blank=True)
    # A roll (名单) of the people who receive some policy elsewhere, e.g. the 低保 roll: who is on it counts as
    # receiving that policy when `exclusive_policy` looks for mutually exclusive subsidies.
    policy = models.ForeignKey(
        "policies.Policy",
        verbose_name=_("对应补贴政策"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("名单上的人视为享受该政策（用于互斥政策比对）"),
    )
    # The load the rules read; a new load replaces it only once it is complete and clean.
    current_load = models.ForeignKey(
        "checks.ReferenceLoad",
        verbose_name=_("当前数据"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("比对数据源")
        verbose_name_plural = _("比对数据源")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(name="referencesource_kind_known", condition=Q(kind__in=SourceKind.values)),
            # Every kind but `roll` is read by a rule that expects exactly one source of it.
            models.UniqueConstraint(
                fields=["kind"], condition=~Q(kind=SourceKind.ROLL), name="one_source_per_singular_kind"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class ReferenceLoad(models.Model):
    """One file of one source as delivered on one date: the history of what the rules compared against."""

    source = models.ForeignKey(
        ReferenceSource, verbose_name=_("数据源"), on_delete=models.PROTECT, related_name="loads"
    )
    as_of = models.DateField(_("数据截止日期"))
    filename = models.CharField(_("文件名"), max_length=200)
    size = models.PositiveBigIntegerField(_("大小（字节）"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    stored_file = models.CharField(_("加密存储路径"), max_length=200, editable=False)
    status = models.CharField(_("状态"), max_length=16, choices=LoadStatus.choices, default=LoadStatus.UPLOADED)
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
    file_error_code = models.CharField(_("文件错误代码"), max_length=40, blank=True)
    file_error_message = models.TextField(_("文件错误"), blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "source__department"

    class Meta:
        verbose_name = _("比对数据导入")
        verbose_name_plural = _("比对数据导入")
        ordering = ["-uploaded_at"]
        constraints = [
            models.CheckConstraint(name="referenceload_status_known", condition=Q(status__in=LoadStatus.values)),
            models.CheckConstraint(
                name="referenceload_counts_add_up",
                condition=Q(valid__lte=models.F("rows_read"), rejected__lte=models.F("rows_read")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source.name} {self.as_of:%Y-%m-%d}"


class ReferenceIssue(models.Model):
    """One problem in one row of a reference file (same shape as a roster's)."""

    load = models.ForeignKey(ReferenceLoad, on_delete=models.CASCADE, related_name="issues")
    row = models.PositiveIntegerField(_("行号"))
    column = models.CharField(_("列"), max_length=60, blank=True)
    code = models.CharField(_("代码"), max_length=40)
    message = models.CharField(_("说明"), max_length=200)
    warning = models.BooleanField(_("仅警告"), default=False)

    class Meta:
        verbose_name = _("比对数据问题")
        verbose_name_plural = _("比对数据问题")
        ordering = ["load", "row", "id"]
        indexes = [models.Index(fields=["load", "row"])]

    def __str__(self) -> str:
        return f"{self.row} {self.column} {self.code}"


class ReferenceRecord(models.Model):
    """One row of a reference file. Which columns are filled depends on the source's kind."""

    load = models.ForeignKey(ReferenceLoad, on_delete=models.PROTECT, related_name="+", db_index=False)
    row = models.PositiveIntegerField(_("行号"))
    id_hash = models.CharField(max_length=64)
    id_masked = models.CharField(_("身份证号"), max_length=18)
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    # death: date of death (or cremation); roll: the date the person joined the roll.
    event_date = models.DateField(_("日期"), null=True, blank=True)
    division = models.CharField(_("区划代码"), max_length=12, blank=True)
    status = models.CharField(_("户籍状态"), max_length=16, choices=HouseholdStatus.choices, blank=True)
    # public_employee: the employer; roll: the category on the roll (e.g. 一类低保).
    detail = models.CharField(_("单位或类别"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("比对数据记录")
        verbose_name_plural = _("比对数据记录")
        indexes = [models.Index(fields=["load", "id_hash"], name="reference_load_hash")]
        constraints = [
            models.CheckConstraint(name="reference_hash_is_hex", condition=Q(id_hash__regex=r"^[0-9a-f]{64}$")),
        ]

    def __str__(self) -> str:
        return f"{self.load_id}#{self.row}"


class Rule(models.Model):
    """A cross-check as data: its defaults here, per-policy overrides in `PolicyRule`.

    The query behind each code lives in `checks.rules`; a new rule is a query there plus a row here.
    """

    code = models.SlugField(_("规则代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    description = models.TextField(_("说明"), blank=True)
    position = models.PositiveSmallIntegerField(_("顺序"), default=0)
    enabled = models.BooleanField(_("默认启用"), default=True)
    severity = models.CharField(_("默认级别"), max_length=8, choices=Severity.choices, default=Severity.BLOCK)
    params = models.JSONField(_("参数"), default=dict, blank=True)

    class Meta:
        verbose_name = _("比对规则")
        verbose_name_plural = _("比对规则")
        ordering = ["position", "code"]
        constraints = [models.CheckConstraint(name="rule_severity_known", condition=Q(severity__in=Severity.values))]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PolicyRule(models.Model):
    """How one policy departs from a rule's defaults: switched off, another severity, other parameters."""

    policy = models.ForeignKey(
        "policies.Policy", verbose_name=_("补贴政策"), on_delete=models.CASCADE, related_name="rule_settings"
    )
    rule = models.ForeignKey(Rule, verbose_name=_("规则"), on_delete=models.CASCADE, related_name="policy_settings")
    enabled = models.BooleanField(_("启用"), default=True)
    severity = models.CharField(_("级别"), max_length=8, choices=Severity.choices, default=Severity.BLOCK)
    params = models.JSONField(_("参数"), default=dict, blank=True, help_text=_("覆盖规则的默认参数"))

    class Meta:
        verbose_name = _("政策比对规则设置")
        verbose_name_plural = _("政策比对规则设置")
        constraints = [
            models.UniqueConstraint(fields=["policy", "rule"], name="policyrule_once"),
            models.CheckConstraint(name="policyrule_severity_known", condition=Q(severity__in=Severity.values)),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.rule_id}"


class CheckRun(models.Model):
    """One run of the enabled rules over one payout."""

    payout = models.ForeignKey(
        "disbursement.Payout", verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="check_runs"
    )
    job = models.ForeignKey(
        "jobs.Job", verbose_name=_("比对任务"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("发起人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    started_at = models.DateTimeField(_("开始时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    # The roster whose payments were compared: a run over a replaced roster says nothing about the payout.
    roster = models.ForeignKey(
        "recipients.Roster",
        verbose_name=_("比对名册"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    payments = models.PositiveIntegerField(_("比对明细数"), default=0)
    error_code = models.CharField(_("错误代码"), max_length=40, blank=True)
    # [{"rule", "severity", "findings", "skipped"}] in rule order: what was run against what.
    rules_run = models.JSONField(_("已运行规则"), default=list, blank=True)
    # The reference loads the run compared against: {source code: load id}.
    loads = models.JSONField(_("比对数据版本"), default=dict, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("比对批次")
        verbose_name_plural = _("比对批次")
        ordering = ["-started_at"]
        constraints = [models.CheckConstraint(name="checkrun_status_known", condition=Q(status__in=RunStatus.values))]

    def __str__(self) -> str:
        return f"{self.payout_id} {self.started_at:%Y-%m-%d %H:%M}"


class Finding(models.Model):
    """What one rule found about one person in one payout, and what the clerk decided.

    Keyed by person rather than by payment row, so that a decision survives a corrected roster: the
    payment is re-attached by the next run.
    """

    payout = models.ForeignKey(
        "disbursement.Payout", verbose_name=_("发放项目"), on_delete=models.PROTECT, related_name="findings"
    )
    recipient = models.ForeignKey(
        "recipients.Recipient", verbose_name=_("补贴对象"), on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "disbursement.Payment",
        verbose_name=_("发放明细"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="findings",
    )
    rule = models.SlugField(_("规则"), max_length=40)
    severity = models.CharField(_("级别"), max_length=8, choices=Severity.choices)
    evidence = models.JSONField(_("依据"), default=dict)
    run = models.ForeignKey(CheckRun, verbose_name=_("最近发现于"), on_delete=models.PROTECT, related_name="+")
    first_found_at = models.DateTimeField(_("首次发现"), auto_now_add=True)
    status = models.CharField(_("处理状态"), max_length=16, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    reason = models.TextField(_("保留理由"), blank=True)
    attachment_name = models.CharField(_("佐证材料"), max_length=200, blank=True)
    attachment_file = models.CharField(max_length=200, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("处理人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "payout__department"
    scope_region_field = "payout__region__code"

    class Meta:
        verbose_name = _("比对疑点")
        verbose_name_plural = _("比对疑点")
        ordering = ["payout", "rule", "id"]
        constraints = [
            models.UniqueConstraint(fields=["payout", "recipient", "rule"], name="finding_once_per_person_rule"),
            models.CheckConstraint(name="finding_status_known", condition=Q(status__in=FindingStatus.values)),
            models.CheckConstraint(name="finding_severity_known", condition=Q(severity__in=Severity.values)),
            # Keeping a flagged person in the payout needs a written reason and who decided it.
            models.CheckConstraint(
                name="finding_kept_has_reason",
                condition=~Q(status=FindingStatus.KEPT) | (~Q(reason="") & Q(decided_by__isnull=False)),
            ),
        ]
        indexes = [models.Index(fields=["payout", "status"])]

    def __str__(self) -> str:
        return f"{self.rule} {self.payout_id}/{self.recipient_id}"
