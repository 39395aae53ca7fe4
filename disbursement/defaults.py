"""The default review chain (审核流程) for policies without their own: installed by migration disbursement.0007.

`install` only creates missing steps and keeps what finance changed. Plain data and one function: safe to import
from a migration.
"""

DEFAULT_CHAIN = [
    # position, role, name, hours allowed
    (1, "township_reviewer", "乡镇（街道）审核", 72),
    (2, "department_clerk", "主管部门经办复核", 72),
    (3, "department_reviewer", "主管部门审核", 72),
    (4, "finance_reviewer", "财政复核", 48),
]


def install(apps=None) -> None:
    if apps is None:
        from django.apps import apps
    ReviewStep = apps.get_model("disbursement", "ReviewStep")
    if ReviewStep.objects.filter(policy=None).exists():
        return
    for position, role, name, hours in DEFAULT_CHAIN:
        ReviewStep.objects.create(policy=None, position=position, role=role, name=name, hours_allowed=hours)
