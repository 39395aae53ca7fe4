"""Changes to departments, regions and users. Each one is audited in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from audit.enums import AuditAction
from audit.services import audit_record
from org.enums import DEPARTMENT_ROLES, TOWNSHIP_ROLES, RegionLevel, Role
from org.models import Department, Region, User
from org.roles import STAFF_ROLES
from yikatong.domain.divisions import parse_division_code

USER_AUDITED_FIELDS = ("username", "full_name", "role", "department_id", "region_id", "is_active", "is_staff")
DEPARTMENT_AUDITED_FIELDS = ("code", "name", "short_name", "phone", "is_active")


def _snapshot(obj, fields: Iterable[str]) -> dict:
    return {name: getattr(obj, name) for name in fields}


def user_validate_scope(*, role: str, department: Department | None, region: Region | None) -> None:
    if role not in Role.values:
        raise ValidationError(_("未知角色：%(role)s") % {"role": role}, code="role_unknown")
    if role in DEPARTMENT_ROLES | TOWNSHIP_ROLES and department is None:
        raise ValidationError(_("该角色必须指定所属部门。"), code="department_required")
    if role in TOWNSHIP_ROLES and (region is None or region.level != RegionLevel.TOWNSHIP):
        raise ValidationError(_("乡镇角色必须指定所属乡镇（街道）。"), code="township_required")


def department_save(*, acting_user, department: Department, created: bool) -> Department:
    with transaction.atomic():
        before = None
        if not created:
            before = _snapshot(Department.objects.get(pk=department.pk), DEPARTMENT_AUDITED_FIELDS)
        department.full_clean()
        department.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.DEPARTMENT_CREATE if created else AuditAction.DEPARTMENT_UPDATE,
            obj=department,
            before=before,
            after=_snapshot(department, DEPARTMENT_AUDITED_FIELDS),
            department_id=department.pk,
        )
    return department


def user_create(
    *,
    acting_user,
    username: str,
    password: str | None,
    role: str,
    full_name: str = "",
    department: Department | None = None,
    region: Region | None = None,
    phone: str = "",
) -> User:
    user_validate_scope(role=role, department=department, region=region)
    with transaction.atomic():
        user = User(
            username=username,
            full_name=full_name,
            role=role,
            department=department,
            region=region,
            phone=phone,
            is_staff=role in STAFF_ROLES,
        )
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.USER_CREATE,
            obj=user,
            after=_snapshot(user, USER_AUDITED_FIELDS),
            department_id=user.department_id,
        )
    return user


def user_save(*, acting_user, user: User, created: bool) -> User:
    """Save a user edited in the admin: role and scope are checked, staff access follows the role."""
    user_validate_scope(role=user.role, department=user.department, region=user.region)
    with transaction.atomic():
        before = None if created else _snapshot(User.objects.get(pk=user.pk), USER_AUDITED_FIELDS)
        user.is_staff = user.is_superuser or user.role in STAFF_ROLES
        user.save()
        audit_record(
            acting_user=acting_user,
            action=AuditAction.USER_CREATE if created else AuditAction.USER_UPDATE,
            obj=user,
            before=before,
            after=_snapshot(user, USER_AUDITED_FIELDS),
            department_id=user.department_id,
        )
    return user


def regions_load(*, acting_user, rows: Iterable[tuple[str, str, str | None]]) -> dict[str, int]:
    """Insert or rename divisions from (code, name, parent_code) rows, one level at a time."""
    by_length: dict[int, list[tuple[str, str, str | None]]] = {}
    for row in rows:
        by_length.setdefault(len(row[0]), []).append(row)
    created = renamed = total = 0
    with transaction.atomic():
        existing = {region.code: region for region in Region.objects.all()}
        for length in sorted(by_length):
            new, changed = [], []
            for code, name, parent_code in by_length[length]:
                total += 1
                region = existing.get(code)
                if region is None:
                    level = parse_division_code(code).level
                    new.append(Region(code=code, name=name, level=level, parent=existing.get(parent_code or "")))
                elif region.name != name:
                    region.name = name
                    changed.append(region)
            for region in Region.objects.bulk_create(new):
                existing[region.code] = region
            Region.objects.bulk_update(changed, ["name"])
            created += len(new)
            renamed += len(changed)
        counts = {"rows": total, "created": created, "renamed": renamed}
        audit_record(acting_user=acting_user, action=AuditAction.REGION_LOAD, object_type="org.region", after=counts)
    return counts
