from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    FINANCE_ADMIN = "finance_admin", _("财政管理员")
    FINANCE_REVIEWER = "finance_reviewer", _("财政审核员")
    DEPARTMENT_CLERK = "department_clerk", _("主管部门经办人")
    DEPARTMENT_REVIEWER = "department_reviewer", _("主管部门审核人")
    TOWNSHIP_CLERK = "township_clerk", _("乡镇（街道）经办人")
    TOWNSHIP_REVIEWER = "township_reviewer", _("乡镇（街道）审核人")
    AUDITOR = "auditor", _("审计监督（只读）")
    BANK = "bank", _("代发金融机构（仅接口）")


# Roles whose scope is one department; township roles are scoped to a township as well.
DEPARTMENT_ROLES = frozenset({Role.DEPARTMENT_CLERK, Role.DEPARTMENT_REVIEWER})
TOWNSHIP_ROLES = frozenset({Role.TOWNSHIP_CLERK, Role.TOWNSHIP_REVIEWER})
# Roles that see every department's data (auditors read-only).
COUNTY_WIDE_ROLES = frozenset({Role.FINANCE_ADMIN, Role.FINANCE_REVIEWER, Role.AUDITOR})


class RegionLevel(models.TextChoices):
    PROVINCE = "province", _("省")
    CITY = "city", _("市")
    COUNTY = "county", _("县（区）")
    TOWNSHIP = "township", _("乡镇（街道）")
    VILLAGE = "village", _("村（社区）")
