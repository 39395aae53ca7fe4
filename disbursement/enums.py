from django.db import models
from django.utils.translation import gettext_lazy as _


class PayoutStatus(models.TextChoices):
    DRAFT = "draft", _("名册准备中")
    SUBMITTED = "submitted", _("已提交审核")


class PaymentStatus(models.TextChoices):
    """Every state a payment can reach; later issues move payments along these."""

    DRAFT = "draft", _("草稿")
    CHECKED = "checked", _("已比对")
    SUBMITTED = "submitted", _("已提交")
    APPROVED = "approved", _("已审核")
    BATCHED = "batched", _("已生成代发清单")
    SENT = "sent", _("已发送银行")
    PAID = "paid", _("发放成功")
    FAILED = "failed", _("发放失败")
    REISSUED = "reissued", _("已补发")
    STOPPED = "stopped", _("已停发")
    CANCELLED = "cancelled", _("已取消")
