from django.db import models
from django.utils.translation import gettext_lazy as _


class PayoutStatus(models.TextChoices):
    DRAFT = "draft", _("名册准备中")
    SUBMITTED = "submitted", _("审核中")
    APPROVED = "approved", _("已审核待拨付")
    RELEASED = "released", _("已拨付生成代发批次")


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
    RETURNED = "returned", _("已退回")
    REISSUED = "reissued", _("已补发")
    STOPPED = "stopped", _("已停发")
    CANCELLED = "cancelled", _("已取消")


class BankResult(models.TextChoices):
    """What a bank last said about a payment (回盘). It moves once: '' → paid | failed, and paid → returned."""

    NONE = "", _("未回盘")
    PAID = "paid", _("成功")
    FAILED = "failed", _("失败")
    RETURNED = "returned", _("退回")


class CorrectionKind(models.TextChoices):
    CORRECT = "correct", _("更正后补发")
    STOP = "stop", _("停发")


class ReviewActionKind(models.TextChoices):
    SUBMIT = "submit", _("提交审核")
    APPROVE = "approve", _("审核通过")
    RETURN = "return", _("退回")
    WITHDRAW = "withdraw", _("撤回审核意见")
    RELEASE = "release", _("拨付（生成代发批次）")


class BatchStatus(models.TextChoices):
    GENERATING = "generating", _("文件生成中")
    READY = "ready", _("待银行接收")
    ACKNOWLEDGED = "acknowledged", _("银行已确认接收")
    CLOSED = "closed", _("已全部回盘")


# Who may act at a review step (the maker submits; these approve).
REVIEW_ROLES = (
    "township_reviewer",
    "department_clerk",
    "department_reviewer",
    "finance_reviewer",
)
