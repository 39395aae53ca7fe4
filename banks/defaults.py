"""The failure-reason catalogue (发放失败原因) banks quote in their results: installed by migration banks.0003.

`install` only adds missing codes and keeps what finance changed. Plain data and one function: safe to import from
a migration.
"""

# code, name, correctable (the department can fix the data and reissue)
FAILURE_REASONS = [
    ("account_closed", "卡号已注销", True),
    ("name_mismatch", "户名不符", True),
    ("account_frozen", "账户冻结", True),
    ("card_limit", "卡已达限额", True),
    ("account_not_found", "账户不存在", True),
    ("account_dormant", "账户久悬未激活", True),
    ("holder_deceased", "户主已身故", False),
    ("other", "其他", True),
]


def install(apps=None) -> None:
    if apps is None:
        from django.apps import apps
    FailureReason = apps.get_model("banks", "FailureReason")
    known = set(FailureReason.objects.values_list("code", flat=True))
    for position, (code, name, correctable) in enumerate(FAILURE_REASONS, start=1):
        if code not in known:
            FailureReason.objects.create(code=code, name=name, correctable=correctable, position=position * 10)
