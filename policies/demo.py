"""The demo county's policy lists: 2025 and 2026 published (2026 adjusted: added, withdrawn, changed), 2027 draft."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from org.models import Department, User
from policies.catalogue import CATALOGUE, DEPARTMENT_PREFIX
from policies.enums import Frequency, ListStatus, PolicyLevel, StandardKind
from policies.models import PolicyList
from policies.services import (
    policy_entry_create,
    policy_entry_remove,
    policy_entry_update,
    policy_list_publish,
    policy_list_start,
    policy_list_submit,
)

# Catalogue department names → demo department codes (org.demo.DEPARTMENTS).
DEPARTMENT_CODES = {
    "民政": "mz",
    "人社": "rs",
    "农业农村": "nync",
    "残联": "cl",
    "退役军人事务": "tyjr",
    "教育": "jy",
    "卫健": "wj",
    "住建": "zj",
    "应急管理": "yj",
    "林业": "ly",
    "医保": "yb",
    "水利": "sl",
}

SHARES = {
    PolicyLevel.CENTRAL: ("80", "10", "5", "5"),
    PolicyLevel.PROVINCIAL: ("0", "60", "20", "20"),
    PolicyLevel.MUNICIPAL: ("0", "0", "50", "50"),
    PolicyLevel.COUNTY: ("0", "0", "0", "100"),
}
ISSUERS = {
    PolicyLevel.CENTRAL: "财政部",
    PolicyLevel.PROVINCIAL: "河南省人民政府办公厅",
    PolicyLevel.MUNICIPAL: "郑州市人民政府",
    PolicyLevel.COUNTY: "郑州市二七区人民政府",
}
# Policies a person may not hold together in one period (互斥), by catalogue name fragment.
EXCLUSIVE_GROUPS = [
    ("高龄津贴（80—89周岁）", "高龄津贴（90—99周岁）", "高龄津贴（100周岁及以上）"),
    ("城市居民最低生活保障金", "农村居民最低生活保障金", "特困人员基本生活费（分散供养）"),
    ("孤儿基本生活费（集中养育）", "孤儿基本生活费（社会散居）", "事实无人抚养儿童基本生活补贴"),
]
AGE_BOUNDS = {
    "高龄津贴（80—89周岁）": (80, 89),
    "高龄津贴（90—99周岁）": (90, 99),
    "高龄津贴（100周岁及以上）": (100, None),
    "城乡居民基础养老金": (60, None),
    "经济困难老年人服务补贴": (60, None),
}
MEANS_TESTED = ("低保", "最低生活保障", "特困", "困难", "孤儿", "救助")
# A policy kept from the public (涉密) is secret from its first list on: the published lists are frozen.
CLASSIFIED_POLICY = "农村籍退役士兵老年生活补助"
WITHDRAWN_IN_2026 = "惠民殡葬补贴"
ADDED_IN_2026 = 2  # the last catalogue entries join the list in 2026
RAISED_IN_2026 = {"城市居民最低生活保障金": Decimal("580.00"), "农村居民最低生活保障金": Decimal("440.00")}


def _coded_catalogue() -> list[tuple[str, tuple]]:
    serials: dict[str, int] = {}
    coded = []
    for entry in CATALOGUE:
        prefix = DEPARTMENT_PREFIX[entry[1]]
        serials[prefix] = serials.get(prefix, 0) + 1
        coded.append((f"{prefix}-{serials[prefix]:02d}", entry))
    return coded


def _values(code: str, entry: tuple, departments: dict[str, Department], codes_by_name: dict[str, str]) -> dict:
    name, department_name, level, standard, unit, frequency, target_group = entry
    department = departments[DEPARTMENT_CODES[department_name]]
    central, provincial, municipal, county = SHARES[level]
    per_unit = "亩" in unit
    min_age, max_age = AGE_BOUNDS.get(name, (None, None))
    exclusive = [
        codes_by_name[other]
        for group in EXCLUSIVE_GROUPS
        if name in group
        for other in group
        if other != name and other in codes_by_name
    ]
    serial = int(code.split("-")[1])
    return {
        "name": name,
        "short_name": name.split("（")[0][:20],
        "department_id": department.pk,
        "business_office": f"{department.short_name}业务股",
        "level": level,
        "share_central": Decimal(central),
        "share_provincial": Decimal(provincial),
        "share_municipal": Decimal(municipal),
        "share_county": Decimal(county),
        "beneficiary": "household" if ("户" in unit or per_unit) else "person",
        "target_group": target_group,
        "scope": f"二七区辖区内符合条件的{target_group}",
        "basis_title": f"关于{name}发放管理有关事项的通知",
        "basis_number": f"{ISSUERS[level][:2]}{department.short_name}〔{2019 + serial % 6}〕{serial + 10}号",
        "basis_issuer": ISSUERS[level],
        "basis_date": dt.date(2019 + serial % 6, 1 + serial % 12, 1 + serial % 27),
        "standard_kind": StandardKind.PER_UNIT if per_unit else StandardKind.FIXED,
        "standard_amount": Decimal(standard),
        "standard_unit": unit,
        "quantity_unit": "亩" if per_unit else "",
        "frequency": frequency if frequency in Frequency.values else Frequency.YEARLY,
        "min_age": min_age,
        "max_age": max_age,
        "excludes_public_employees": any(word in name for word in MEANS_TESTED),
        "exclusive_with": exclusive,
        "is_secret": name == CLASSIFIED_POLICY,
        "contact_office": f"{department.name}{department.short_name}业务股",
        "contact_phone": department.phone,
    }


def seed_policy_lists() -> None:
    """Create the demo lists unless a list exists already (idempotent)."""
    if PolicyList.objects.exists():
        return
    maker = User.objects.get(username="caizheng")
    checker = User.objects.get(username="caizheng_sh")
    departments = {d.code: d for d in Department.objects.all()}
    coded = _coded_catalogue()
    codes_by_name = {entry[0]: code for code, entry in coded}
    first_year = coded[:-ADDED_IN_2026]
    with transaction.atomic():
        list_2025 = policy_list_start(acting_user=maker, year=2025)
        for code, entry in first_year:
            policy_entry_create(
                acting_user=maker,
                policy_list=list_2025,
                code=code,
                values=_values(code, entry, departments, codes_by_name),
            )
        policy_list_submit(acting_user=maker, policy_list=list_2025)
        policy_list_publish(acting_user=checker, policy_list=list_2025)

        list_2026 = policy_list_start(acting_user=maker, year=2026)
        for code, entry in coded[-ADDED_IN_2026:]:
            policy_entry_create(
                acting_user=maker,
                policy_list=list_2026,
                code=code,
                values=_values(code, entry, departments, codes_by_name),
            )
        for entry in list_2026.entries.select_related("policy"):
            if entry.name == WITHDRAWN_IN_2026:
                policy_entry_remove(acting_user=maker, entry=entry)
            elif entry.name in RAISED_IN_2026:
                policy_entry_update(
                    acting_user=maker, entry=entry, values={"standard_amount": RAISED_IN_2026[entry.name]}
                )
        policy_list_submit(acting_user=maker, policy_list=list_2026)
        policy_list_publish(acting_user=checker, policy_list=list_2026)
        # November 2026: next year's list is being prepared; departments propose into this draft.
        policy_list_start(acting_user=maker, year=2027)
    assert PolicyList.objects.filter(status=ListStatus.PUBLISHED).count() == 2
