"""A small draft list with one entry per department, for policy tests."""

from decimal import Decimal

from policies.services import policy_entry_create, policy_list_start


def entry_values(department, **overrides):
    values = {
        "name": "高龄津贴",
        "department_id": department.pk,
        "level": "county",
        "target_group": "80周岁以上老年人",
        "basis_title": "关于发放高龄津贴的通知",
        "standard_amount": Decimal("100.00"),
        "standard_unit": "元/人·月",
        "frequency": "monthly",
    }
    values.update(overrides)
    return values


def draft_list(finance_admin, year, entries):
    """entries: [(code, department, overrides), …]"""
    policy_list = policy_list_start(acting_user=finance_admin, year=year)
    for code, department, overrides in entries:
        policy_entry_create(
            acting_user=finance_admin, policy_list=policy_list, code=code, values=entry_values(department, **overrides)
        )
    return policy_list
