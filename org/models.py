"""Who works on the platform: departments, the region tree and users with a role and a scope."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from org.enums import DEPARTMENT_ROLES, TOWNSHIP_ROLES, RegionLevel, Role
from org.scoping import ScopedQuerySet


class Department(models.Model):
    """主管部门 — answerable for its policies ("谁主管，谁负责")."""

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64, unique=True)
    short_name = models.CharField(_("简称"), max_length=16)
    phone = models.CharField(_("咨询电话"), max_length=32, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)

    objects = ScopedQuerySet.as_manager()
    scope_department_field = "pk"

    class Meta:
        verbose_name = _("主管部门")
        verbose_name_plural = _("主管部门")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    """An administrative division (GB/T 2260): county → township (9 digits) → village (12 digits)."""

    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")

    objects = ScopedQuerySet.as_manager()
    scope_region_field = "code"

    class Meta:
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="region_code_matches_level",
                condition=(
                    Q(level__in=["province", "city", "county"], code__regex=r"^[0-9]{6}$")
                    | Q(level="township", code__regex=r"^[0-9]{9}$")
                    | Q(level="village", code__regex=r"^[0-9]{12}$")
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


# Sorted, so that the constraints (and their migration) do not change with set iteration order.
_SCOPED_ROLES = sorted(role.value for role in DEPARTMENT_ROLES | TOWNSHIP_ROLES)
_TOWNSHIP_ROLES = sorted(role.value for role in TOWNSHIP_ROLES)


class User(AbstractUser):
    """A person (or a bank's API identity) with exactly one role and the scope that role needs."""

    full_name = models.CharField(_("姓名"), max_length=64, blank=True)
    role = models.CharField(_("角色"), max_length=32, choices=Role.choices)
    department = models.ForeignKey(
        Department, verbose_name=_("所属部门"), on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    region = models.ForeignKey(
        Region, verbose_name=_("所属区域"), on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    phone = models.CharField(_("联系电话"), max_length=32, blank=True)

    objects = UserManager()
    REQUIRED_FIELDS = ["role"]

    class Meta:
        verbose_name = _("用户")
        verbose_name_plural = _("用户")
        constraints = [
            # A department role without a department would see nothing or, worse, be patched to see all.
            models.CheckConstraint(
                name="user_department_matches_role",
                condition=(Q(role__in=_SCOPED_ROLES, department__isnull=False) | ~Q(role__in=_SCOPED_ROLES)),
            ),
            models.CheckConstraint(
                name="user_region_matches_role",
                condition=(Q(role__in=_TOWNSHIP_ROLES, region__isnull=False) | ~Q(role__in=_TOWNSHIP_ROLES)),
            ),
            models.CheckConstraint(name="user_role_known", condition=Q(role__in=Role.values)),
        ]

    def __str__(self) -> str:
        return f"{self.full_name or self.username}（{self.get_role_display()}）"
