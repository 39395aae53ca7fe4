from django.db import models
from django.utils.translation import gettext_lazy as _


class PolicyLevel(models.TextChoices):
    CENTRAL = "central", _("中央")
    PROVINCIAL = "provincial", _("省级")
    MUNICIPAL = "municipal", _("市级")
    COUNTY = "county", _("县（区）级")


class Beneficiary(models.TextChoices):
    PERSON = "person", _("到人")
    HOUSEHOLD = "household", _("到户")


class StandardKind(models.TextChoices):
    FIXED = "fixed", _("定额")
    PER_UNIT = "per_unit", _("单价×数量")


class Frequency(models.TextChoices):
    MONTHLY = "monthly", _("按月")
    QUARTERLY = "quarterly", _("按季")
    YEARLY = "yearly", _("按年")
    ONE_OFF = "one_off", _("一次性")


class PolicyStatus(models.TextChoices):
    ACTIVE = "active", _("执行中")
    SUSPENDED = "suspended", _("暂停")


class ListStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    IN_REVIEW = "in_review", _("待审核")
    PUBLISHED = "published", _("已公布")


class ProposalKind(models.TextChoices):
    ADD = "add", _("新增")
    CHANGE = "change", _("调整")
    WITHDRAW = "withdraw", _("退出")


class ProposalStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已同意")
    REJECTED = "rejected", _("已退回")
