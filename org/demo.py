"""The demo county: departments, divisions and one user per role. Used by seed_demo and by tests."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction

from audit.enums import AuditAction
from audit.services import audit_record
from org.enums import Role
from org.models import Department, Region, User
from org.services import department_save, regions_load, user_create
from yikatong.domain.divisions import read_division_file

DIVISIONS_FILE = Path(__file__).resolve().parent / "data" / "divisions-410103.csv"
DEMO_PASSWORD = "Yikatong-demo-2026"  # noqa: S105 — printed to the newcomer on purpose; refused in production

DEPARTMENTS = [
    ("mz", "二七区民政局", "民政", "0371-68000001"),
    ("rs", "二七区人力资源和社会保障局", "人社", "0371-68000002"),
    ("nync", "二七区农业农村工作委员会", "农业农村", "0371-68000003"),
    ("cl", "二七区残疾人联合会", "残联", "0371-68000004"),
    ("tyjr", "二七区退役军人事务局", "退役军人", "0371-68000005"),
    ("jy", "二七区教育局", "教育", "0371-68000006"),
    ("wj", "二七区卫生健康委员会", "卫健", "0371-68000007"),
    ("zj", "二七区住房和城乡建设局", "住建", "0371-68000008"),
    ("yj", "二七区应急管理局", "应急", "0371-68000009"),
    ("yb", "二七区医疗保障局", "医保", "0371-68000010"),
    ("ly", "二七区林业局", "林业", "0371-68000011"),
    ("sl", "二七区水利局", "水利", "0371-68000012"),
]

# (username, full name, role, department code, township code)
USERS = [
    ("caizheng", "财政管理员", Role.FINANCE_ADMIN, None, None),
    ("caizheng_sh", "财政审核员", Role.FINANCE_REVIEWER, None, None),
    ("minzheng", "民政经办人", Role.DEPARTMENT_CLERK, "mz", None),
    ("minzheng_sh", "民政审核人", Role.DEPARTMENT_REVIEWER, "mz", None),
    ("nongye", "农业农村经办人", Role.DEPARTMENT_CLERK, "nync", None),
    ("houzhai", "侯寨街道经办人", Role.TOWNSHIP_CLERK, "mz", "410103015"),
    ("houzhai_sh", "侯寨街道审核人", Role.TOWNSHIP_REVIEWER, "mz", "410103015"),
    ("shenji", "审计监督", Role.AUDITOR, None, None),
]


def seed_organisation() -> list[User]:
    """Create what is missing; change nothing that exists (running it twice is harmless)."""
    with transaction.atomic():
        if not Region.objects.filter(code="410103").exists():
            with DIVISIONS_FILE.open(encoding="utf-8") as stream:
                regions_load(acting_user=None, rows=read_division_file(stream))
        existing = set(Department.objects.values_list("code", flat=True))
        for code, name, short_name, phone in DEPARTMENTS:
            if code not in existing:
                department_save(
                    acting_user=None,
                    department=Department(code=code, name=name, short_name=short_name, phone=phone),
                    created=True,
                )
        departments = {d.code: d for d in Department.objects.all()}
        regions = {r.code: r for r in Region.objects.filter(level="township")}
        taken = set(User.objects.filter(username__in=[u[0] for u in USERS]).values_list("username", flat=True))
        for username, full_name, role, department_code, township_code in USERS:
            if username in taken:
                continue
            user_create(
                acting_user=None,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                full_name=full_name,
                department=departments.get(department_code or ""),
                region=regions.get(township_code or ""),
            )
        audit_record(action=AuditAction.DEMO_SEED, object_type="demo", after={"part": "organisation"})
    return list(User.objects.filter(username__in=[u[0] for u in USERS]).select_related("department", "region"))
