from django.db import models
from django.utils.translation import gettext_lazy as _


class SourceKind(models.TextChoices):
    """What a reference source holds decides its columns and which rules read it."""

    DEATH = "death", _("死亡火化信息")
    HOUSEHOLD = "household", _("户籍登记信息")
    PUBLIC_EMPLOYEE = "public_employee", _("财政供养人员")
    ROLL = "roll", _("其他部门名单")


class HouseholdStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    MOVED = "moved", _("迁出")
    CANCELLED = "cancelled", _("注销")


class LoadStatus(models.TextChoices):
    UPLOADED = "uploaded", _("已上传")
    IMPORTING = "importing", _("导入中")
    ACTIVE = "active", _("使用中")
    REJECTED = "rejected", _("文件被拒绝")
    FAILED = "failed", _("导入失败")
    SUPERSEDED = "superseded", _("已被新数据替换")


class Severity(models.TextChoices):
    BLOCK = "block", _("阻断")
    WARN = "warn", _("提示")


class RuleCode(models.TextChoices):
    """The built-in rules, in their documented order. Codes are stable: reports and scripts key on them."""

    DECEASED = "deceased", _("已死亡或火化")
    NOT_REGISTERED = "not_registered", _("户籍信息中查无此人")
    NAME_MISMATCH = "name_mismatch", _("姓名与户籍信息不一致")
    REGISTRATION_INACTIVE = "registration_inactive", _("户籍已注销或迁出本区域")
    PUBLIC_EMPLOYEE = "public_employee", _("财政供养人员享受限制性补贴")
    EXCLUSIVE_POLICY = "exclusive_policy", _("同期享受互斥政策")
    ALREADY_PAID = "already_paid", _("同一政策同期已发放或在途")
    OVER_STANDARD = "over_standard", _("金额超过补贴标准")
    NOT_ELIGIBLE = "not_eligible", _("不符合年龄或区域条件")
    SHARED_ACCOUNT = "shared_account", _("多人共用一个银行账户")
    ACCOUNT_NAME_MISMATCH = "account_name_mismatch", _("户名与补贴对象姓名不一致")
    ACCOUNT_CHANGED = "account_changed", _("上次发放后更换了银行账户")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    REMOVED = "removed", _("已确认剔除")
    KEPT = "kept", _("核实后保留")
    RESOLVED = "resolved", _("复核时已不存在")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("比对中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")
    SUPERSEDED = "superseded", _("名册已更换，作废")
