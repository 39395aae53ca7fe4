"""The built-in rules and reference sources: rows, so finance can tune them and new ones can be added.

Installed by migration checks.0002; `install` is idempotent and keeps what finance changed (it only creates what
is missing). Plain data and one function: safe to import from a migration.
"""

RULES = [
    # code, name, severity, params, description
    ("deceased", "已死亡或火化", "block", {}, "死亡（火化）日期在发放期间结束之前：人已去世仍在发放。"),
    ("not_registered", "户籍信息中查无此人", "block", {}, "身份证号在户籍登记信息中不存在：可能是虚构人员。"),
    ("name_mismatch", "姓名与户籍信息不一致", "warn", {}, "同一身份证号在户籍登记信息中的姓名不同。"),
    (
        "registration_inactive",
        "户籍已注销或迁出本区域",
        "block",
        {},
        "户籍状态为注销或迁出，或户籍所在区划不在本发放区域内。",
    ),
    (
        "public_employee",
        "财政供养人员享受限制性补贴",
        "block",
        {},
        "政策规定财政供养人员不得享受，而此人在财政供养人员名单中。",
    ),
    ("exclusive_policy", "同期享受互斥政策", "block", {}, "同一期间已享受（或在其他部门名单中）不得同时享受的政策。"),
    (
        "already_paid",
        "同一政策同期已发放或在途",
        "block",
        {},
        "同一政策同一期间在其他发放项目中已发放或正在发放：重复发放。",
    ),
    ("over_standard", "金额超过补贴标准", "block", {}, "发放金额超过政策标准（按期间月数或数量折算）。"),
    ("not_eligible", "不符合年龄或区域条件", "block", {}, "按发放期间计算的年龄或所在区划不符合政策条件。"),
    (
        "shared_account",
        "多人共用一个银行账户",
        "warn",
        {"min_people": 3},
        "同一期间一个银行账户为多名不同的人领取补贴。",
    ),
    ("account_name_mismatch", "户名与补贴对象姓名不一致", "warn", {}, "银行账户户名与补贴对象姓名不同：可能代领。"),
    (
        "account_changed",
        "上次发放后更换了银行账户",
        "warn",
        {},
        "与本政策上一次成功发放时的账户不同：核实是否本人变更。",
    ),
]

SOURCES = [
    # code, name, kind, description
    ("death", "死亡火化信息", "death", "民政（殡葬）、公安、卫健提供的死亡和火化记录：身份证号、死亡日期。"),
    (
        "household",
        "户籍登记信息",
        "household",
        "公安提供的户籍登记：身份证号、姓名、户籍区划、状态（正常、迁出、注销）。",
    ),
    ("public_employee", "财政供养人员", "public_employee", "财政、人社提供的财政供养人员名单：身份证号、工作单位。"),
    ("dibao", "城乡低保对象", "roll", "民政提供的最低生活保障对象名单。"),
    ("tekun", "特困供养人员", "roll", "民政提供的特困人员救助供养名单。"),
    ("disabled", "持证残疾人", "roll", "残联提供的持证残疾人名单。"),
    ("youfu", "优抚对象", "roll", "退役军人事务部门提供的优抚对象名单。"),
]


def install(apps=None) -> None:
    """Create the rules and sources that do not exist yet; leave existing rows as they are."""
    if apps is None:
        from django.apps import apps
    Rule = apps.get_model("checks", "Rule")
    Source = apps.get_model("checks", "ReferenceSource")
    for position, (code, name, severity, params, description) in enumerate(RULES, start=1):
        Rule.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "severity": severity,
                "params": params,
                "description": description,
                "position": position,
            },
        )
    for code, name, kind, description in SOURCES:
        Source.objects.get_or_create(code=code, defaults={"name": name, "kind": kind, "description": description})
