"""代发金融机构: the banks that pay subsidies into people's accounts. Agreements, credentials and evaluation
come with the bank exchange; here is what batching needs: who a payment's bank is and how its file is encoded."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FileEncoding(models.TextChoices):
    GBK = "gbk", "GBK"
    UTF8 = "utf-8", "UTF-8"


class Bank(models.Model):
    code = models.SlugField(_("机构代码"), max_length=32, unique=True, help_text=_("如 ccb-erqi"))
    name = models.CharField(_("名称"), max_length=100)
    # The names clerks write in a roster's 开户银行 column for this bank (建行, 中国建设银行, 建设银行二七支行 …).
    aliases = models.JSONField(_("名册中的银行名称"), default=list, blank=True)
    file_encoding = models.CharField(
        _("代发文件编码"), max_length=8, choices=FileEncoding.choices, default=FileEncoding.GBK
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("代发金融机构")
        verbose_name_plural = _("代发金融机构")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(name="bank_encoding_known", condition=Q(file_encoding__in=FileEncoding.values))
        ]

    def __str__(self) -> str:
        return self.name
