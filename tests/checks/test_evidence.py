"""Each rule's evidence reads as one plain Chinese sentence; unknown or incomplete evidence still reads."""

import pytest

from checks.enums import RuleCode
from checks.evidence import describe_evidence, rule_label, rules_run_rows


@pytest.mark.parametrize(
    ("rule", "evidence", "sentence"),
    [
        (
            "deceased",
            {"source": "death", "load": 3, "row": 2, "date_of_death": "2026-03-01"},
            "于 2026-03-01 死亡或火化（死亡火化信息第 2 行）。",
        ),
        ("not_registered", {"source": "household", "load": 4}, "户籍登记信息中没有这个身份证号。"),
        (
            "name_mismatch",
            {"registered_name": "张三丰", "name": "张三", "row": 7},
            "户籍登记姓名为“张三丰”，名册姓名为“张三”（户籍信息第 7 行）。",
        ),
        (
            "registration_inactive",
            {"status": "cancelled", "division": "410103015", "row": 9},
            "户籍状态为“注销”，户籍区划 410103015（户籍信息第 9 行）。",
        ),
        (
            "registration_inactive",
            {"status": "active", "division": "410105001", "row": 9},
            "户籍区划 410105001 不在本发放区域内（户籍信息第 9 行）。",
        ),
        (
            "public_employee",
            {"employer": "二七区教育局", "row": 12},
            "在财政供养人员名单中，工作单位：二七区教育局（名单第 12 行）。",
        ),
        (
            "exclusive_policy",
            {"other_policy": "MZ-02", "found_in": "payout:MZ-02-2026-11"},
            "同期享受互斥政策 MZ-02，见发放项目 MZ-02-2026-11。",
        ),
        (
            "exclusive_policy",
            {"other_policy": "MZ-03", "found_in": "source:dibao#15"},
            "同期享受互斥政策 MZ-03，见比对数据源 dibao 第 15 行。",
        ),
        (
            "already_paid",
            {"other_payout": "MZ-01-2026-11-2", "row": 4, "status": "submitted", "period": "2026-11"},
            "本政策 2026-11 期已列入发放项目 MZ-01-2026-11-2 第 4 行（已提交）。",
        ),
        ("over_standard", {"amount": "900", "allowed": "300.0"}, "发放金额 900.00 元，超过本期标准 300.00 元。"),
        (
            "over_standard",
            {"amount": "250.5", "standard": "100", "quantity": "2"},
            "发放金额 250.50 元，超过标准每单位 100.00 元 × 数量 2。",
        ),
        (
            "over_standard",
            {"amount": "250.5", "standard": "100", "quantity": None},
            "按数量计发，名册未填数量；发放金额 250.50 元，标准每单位 100.00 元。",
        ),
        (
            "not_eligible",
            {"reason": "too_young", "birth_year": "2010", "village": "410103015001"},
            "2010 年出生，发放期间未达到政策规定的年龄。",
        ),
        (
            "not_eligible",
            {"reason": "too_old", "birth_year": "1930", "village": ""},
            "1930 年出生，超过政策规定的年龄上限。",
        ),
        (
            "not_eligible",
            {"reason": "region", "birth_year": "1960", "village": "410103100002"},
            "所在村（社区）410103100002 不在政策适用区域内。",
        ),
        (
            "shared_account",
            {"account": "6217****1234", "people": 4},
            "银行账户 6217****1234 本期共有 4 人领取补贴。",
        ),
        (
            "account_name_mismatch",
            {"holder_name": "李四", "name": "王五", "account": "6217****1234"},
            "账户 6217****1234 的户名为“李四”，与补贴对象姓名“王五”不一致。",
        ),
        (
            "account_changed",
            {
                "previous_account": "6217****0001",
                "previous_payout": "MZ-01-2026-10",
                "previous_period": "2026-10",
                "account": "6217****0002",
            },
            "上次发放（MZ-01-2026-10，2026-10 期）使用账户 6217****0001，本次为 6217****0002。",
        ),
    ],
)
def test_each_rule_reads_as_one_sentence(rule, evidence, sentence):
    assert describe_evidence(rule, evidence) == sentence


def test_every_built_in_rule_has_its_own_sentence():
    for code in RuleCode.values:
        assert describe_evidence(code, {"unexpected": "x"}) != "unexpected：x", code


def test_missing_values_read_as_a_dash_instead_of_failing():
    assert describe_evidence("deceased", {}) == "于 — 死亡或火化。"
    assert describe_evidence("already_paid", None) == "本政策 — 期已列入发放项目 — 第 — 行（—）。"


def test_an_unknown_rule_shows_what_it_recorded():
    assert describe_evidence("new_rule", {"b": 2, "a": "x"}) == "a：x；b：2"
    assert describe_evidence("new_rule", {}) == "—"


def test_rules_run_rows_say_why_a_rule_was_skipped_in_chinese():
    rows = rules_run_rows(
        [
            {"rule": "deceased", "name": "x", "severity": "block", "skipped": "source_not_loaded"},
            {"rule": "public_employee", "severity": "block", "skipped": "not_applicable"},
            {"rule": "shared_account", "severity": "warn", "skipped": "disabled"},
            {"rule": "over_standard", "severity": "block", "findings": 3, "ms": 4},
            {"rule": "future_rule", "name": "将来的规则", "severity": "warn", "findings": 0},
        ]
    )
    assert [row["skipped_label"] for row in rows] == ["比对数据未导入", "本政策不适用", "已停用", "", ""]
    assert rows[0]["name"] == rule_label("deceased") == "已死亡或火化"
    assert rows[3]["findings"] == 3 and rows[3]["severity_label"] == "阻断"
    assert rows[4]["name"] == "将来的规则" and rows[4]["severity_label"] == "提示"
