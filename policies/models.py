"""补贴政策清单: policies, the yearly list that publishes them, and departments' proposals to change it.

A ``Policy`` is the identity of a subsidy across years (what payouts point at). What it says in a given
year lives in a ``PolicyEntry`` of that year's ``PolicyList``; publishing a list freezes its entries, and
next year's draft starts as a copy, so editing this year never touches a published past year.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _

from org.scoping import ScopedQuerySet
from policies.enums import (
    Beneficiary,
    Frequency,
    ListStatus,
    PolicyLevel,
    PolicyStatus,
    ProposalKind,
    ProposalStatus,
    StandardKind,
)

_PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class Policy(models.Model):
    code = models.SlugField(_("政策编码"), max_length=32, unique=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("主管部门"), on_delete=models.PROTECT, related_name="policies"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("补贴政策")
        verbose_name_plural = _("补贴政策")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class PolicyList(models.Model):
    year = models.PositiveSmallIntegerField(
        _("年度"), unique=True, validators=[MinValueValidator(2000), MaxValueValidator(2100)]
    )
    title = models.CharField(_("标题"), max_length=200)
    status = models.CharField(_("状态"), max_length=16, choices=ListStatus.choices, default=ListStatus.DRAFT)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("提交人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("公布人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    published_at = models.DateTimeField(_("公布时间"), null=True, blank=True)
    return_reason = models.TextField(_("退回原因"), blank=True)

    class Meta:
        verbose_name = _("年度政策清单")
        verbose_name_plural = _("年度政策清单")
        ordering = ["-year"]
        constraints = [
            models.CheckConstraint(name="policylist_status_known", condition=Q(status__in=ListStatus.values)),
            models.CheckConstraint(name="policylist_year_range", condition=Q(year__gte=2000, year__lte=2100)),
            models.CheckConstraint(
                name="policylist_published_has_signature",
                condition=~Q(status=ListStatus.PUBLISHED) | Q(published_at__isnull=False, published_by__isnull=False),
            ),
            # Maker and checker are two people.
            models.CheckConstraint(
                name="policylist_publisher_is_not_submitter",
                condition=Q(published_by__isnull=True) | ~Q(published_by=F("submitted_by")),
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="policylist_published_is_final",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__status="published"),
            ),
        ]
        permissions = [("publish_policylist", "Can review and publish a policy list")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_editable(self) -> bool:
        return self.status == ListStatus.DRAFT


class PolicyEntry(models.Model):
    """What one policy says in one year's list."""

    policy_list = models.ForeignKey(
        PolicyList, verbose_name=_("年度清单"), on_delete=models.PROTECT, related_name="entries"
    )
    policy = models.ForeignKey(Policy, verbose_name=_("政策"), on_delete=models.PROTECT, related_name="entries")
    # Copied from the list at publication, so that the database itself can refuse to change the row.
    frozen = models.BooleanField(_("已冻结"), default=False, editable=False)

    name = models.CharField(_("政策名称"), max_length=100)
    short_name = models.CharField(_("简称"), max_length=40, blank=True)
    department = models.ForeignKey(
        "org.Department", verbose_name=_("主管部门"), on_delete=models.PROTECT, related_name="+"
    )
    business_office = models.CharField(_("业务科室"), max_length=60, blank=True)
    level = models.CharField(_("政策层级"), max_length=16, choices=PolicyLevel.choices)
    share_central = models.DecimalField(_("中央分担%"), max_digits=5, decimal_places=2, default=0, validators=_PERCENT)
    share_provincial = models.DecimalField(
        _("省级分担%"), max_digits=5, decimal_places=2, default=0, validators=_PERCENT
    )
    share_municipal = models.DecimalField(
        _("市级分担%"), max_digits=5, decimal_places=2, default=0, validators=_PERCENT
    )
    share_county = models.DecimalField(_("县级分担%"), max_digits=5, decimal_places=2, default=100, validators=_PERCENT)
    beneficiary = models.CharField(_("发放到"), max_length=16, choices=Beneficiary.choices, default=Beneficiary.PERSON)
    target_group = models.CharField(_("补贴对象"), max_length=200)
    scope = models.TextField(_("补贴范围"), blank=True)

    basis_title = models.CharField(_("政策依据文件"), max_length=200)
    basis_number = models.CharField(_("文号"), max_length=80, blank=True)
    basis_issuer = models.CharField(_("发文机关"), max_length=100, blank=True)
    basis_date = models.DateField(_("发文日期"), null=True, blank=True)
    basis_file = models.FileField(_("依据文件"), upload_to="policy-basis/", blank=True)

    standard_kind = models.CharField(
        _("标准类型"), max_length=16, choices=StandardKind.choices, default=StandardKind.FIXED
    )
    standard_amount = models.DecimalField(_("补贴标准（元）"), max_digits=12, decimal_places=2)
    standard_unit = models.CharField(_("标准单位"), max_length=30, help_text=_("如：元/人·月、元/亩"))
    quantity_unit = models.CharField(
        _("数量单位"), max_length=20, blank=True, help_text=_("按数量计发时填写，如：亩、月")
    )
    frequency = models.CharField(_("发放频次"), max_length=16, choices=Frequency.choices)

    min_age = models.PositiveSmallIntegerField(_("最低年龄"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("最高年龄"), null=True, blank=True)
    eligible_regions = models.JSONField(
        _("限定区划代码"), default=list, blank=True, help_text=_("为空表示全县；否则为区划代码列表")
    )
    exclusive_with = models.JSONField(_("不得同时享受的政策编码"), default=list, blank=True)
    excludes_public_employees = models.BooleanField(_("财政供养人员不得享受"), default=False)
    restrictions = models.TextField(_("其他限制条件"), blank=True)

    valid_from = models.DateField(_("执行起始日"), null=True, blank=True)
    valid_to = models.DateField(_("执行截止日"), null=True, blank=True)
    status = models.CharField(_("执行状态"), max_length=16, choices=PolicyStatus.choices, default=PolicyStatus.ACTIVE)
    is_secret = models.BooleanField(_("涉密（不公开）"), default=False)
    contact_office = models.CharField(_("咨询科室"), max_length=60, blank=True)
    contact_phone = models.CharField(_("咨询电话"), max_length=32, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("清单政策")
        verbose_name_plural = _("清单政策")
        ordering = ["policy_list", "department__code", "policy__code"]
        constraints = [
            models.UniqueConstraint(fields=["policy_list", "policy"], name="policyentry_once_per_list"),
            models.CheckConstraint(
                name="policyentry_shares_sum_to_100",
                condition=Q(share_central__gte=0, share_provincial__gte=0, share_municipal__gte=0, share_county__gte=0)
                & Q(Exact(F("share_central") + F("share_provincial") + F("share_municipal") + F("share_county"), 100)),
            ),
            models.CheckConstraint(name="policyentry_standard_positive", condition=Q(standard_amount__gt=0)),
            models.CheckConstraint(
                name="policyentry_age_range",
                condition=Q(min_age__isnull=True) | Q(max_age__isnull=True) | Q(min_age__lte=F("max_age")),
            ),
            models.CheckConstraint(
                name="policyentry_valid_range",
                condition=Q(valid_from__isnull=True) | Q(valid_to__isnull=True) | Q(valid_from__lte=F("valid_to")),
            ),
            models.CheckConstraint(name="policyentry_level_known", condition=Q(level__in=PolicyLevel.values)),
            models.CheckConstraint(name="policyentry_frequency_known", condition=Q(frequency__in=Frequency.values)),
        ]
        triggers = [
            pgtrigger.Protect(
                name="policyentry_frozen",
                operation=pgtrigger.Update | pgtrigger.Delete,
                condition=pgtrigger.Q(old__frozen=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def code(self) -> str:
        return self.policy.code


class PolicyProposal(models.Model):
    """A department's request to add, change or withdraw one of its policies in a draft list."""

    policy_list = models.ForeignKey(
        PolicyList, verbose_name=_("年度清单"), on_delete=models.PROTECT, related_name="proposals"
    )
    department = models.ForeignKey(
        "org.Department", verbose_name=_("申报部门"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("类型"), max_length=16, choices=ProposalKind.choices)
    policy = models.ForeignKey(
        Policy, verbose_name=_("政策"), on_delete=models.PROTECT, null=True, blank=True, related_name="proposals"
    )
    proposed_code = models.SlugField(_("新政策编码"), max_length=32, blank=True)
    payload = models.JSONField(_("申报内容"), default=dict, blank=True)
    reason = models.TextField(_("理由"))
    status = models.CharField(_("状态"), max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("申报人"), on_delete=models.PROTECT, related_name="+"
    )
    proposed_at = models.DateTimeField(_("申报时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "department"

    class Meta:
        verbose_name = _("政策调整申报")
        verbose_name_plural = _("政策调整申报")
        ordering = ["-proposed_at"]
        constraints = [
            models.CheckConstraint(
                name="proposal_target_matches_kind",
                condition=(Q(kind=ProposalKind.ADD, policy__isnull=True) & ~Q(proposed_code=""))
                | (Q(kind__in=[ProposalKind.CHANGE, ProposalKind.WITHDRAW], policy__isnull=False)),
            ),
            models.CheckConstraint(
                name="proposal_decision_signed",
                condition=Q(status=ProposalStatus.PENDING) | Q(decided_by__isnull=False, decided_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.policy or self.proposed_code}"
