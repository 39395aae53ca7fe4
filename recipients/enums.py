from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    MALE = "M", _("男")
    FEMALE = "F", _("女")


class RosterStatus(models.TextChoices):
    UPLOADED = "uploaded", _("已上传")
    IMPORTING = "importing", _("导入中")
    IMPORTED = "imported", _("已导入")
    REJECTED = "rejected", _("文件被拒绝")
    FAILED = "failed", _("导入失败")
    SUPERSEDED = "superseded", _("已被新名册替换")


class ChangeField(models.TextChoices):
    NAME = "name", _("姓名")
    ACCOUNT = "account", _("银行账号")
    PHONE = "phone", _("联系电话")
    VILLAGE = "village", _("所在村（社区）")
