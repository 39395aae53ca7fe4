"""The policy list as a spreadsheet: export, the all-or-nothing import, and their two commands."""

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

from audit.enums import AuditAction
from audit.models import AuditEvent
from audit.services import audit_verify
from org.demo import seed_organisation
from org.models import User
from policies.demo import seed_policy_lists
from policies.exchange import COLUMNS, HEADERS, RowError, export_entries, policy_list_import
from policies.fields import entry_snapshot
from policies.models import Policy, PolicyEntry, PolicyList
from policies.services import policy_entry_create, policy_list_publish, policy_list_start, policy_list_submit
from tests.policies.factories import draft_list, entry_values

HEADER_ROW = [header for _name, header in COLUMNS]


def _cells(**overrides):
    """One valid row, by field name; overrides change single cells."""
    cells = {
        "code": "MZ-01",
        "name": "高龄津贴",
        "department": "民政",
        "level": "县级",
        "share_central": "0",
        "share_provincial": "0",
        "share_municipal": "0",
        "share_county": "100",
        "beneficiary": "到人",
        "target_group": "80周岁以上老年人",
        "basis_title": "关于发放高龄津贴的通知",
        "standard_kind": "定额",
        "standard_amount": "100",
        "standard_unit": "元/人·月",
        "frequency": "按月",
        "excludes_public_employees": "否",
        "status": "执行中",
        "is_secret": "否",
    }
    cells.update(overrides)
    return [cells.get(name, "") for name, _header in COLUMNS]


def _xlsx(rows, *, header=HEADER_ROW, above=()):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [*above, header, *rows]:
        sheet.append(list(row))
    stream = io.BytesIO()
    workbook.save(stream)
    return stream.getvalue()


def _csv(rows, *, encoding="utf-8-sig"):
    stream = io.StringIO()
    csv.writer(stream).writerows([HEADER_ROW, *rows])
    return stream.getvalue().encode(encoding)


def _errors(report):
    return [(error.row, error.column, error.code) for error in report.errors]


def _snapshots(policy_list):
    entries = PolicyEntry.objects.filter(policy_list=policy_list).select_related("policy", "department")
    return {entry.policy.code: entry_snapshot(entry) for entry in entries}


@pytest.fixture
def draft(finance_admin, department_a, department_b):
    """An empty draft list (no published list before it to copy from)."""
    return policy_list_start(acting_user=finance_admin, year=2027)


@pytest.fixture
def demo(db):
    seed_organisation()
    seed_policy_lists()
    return User.objects.get(username="caizheng")


# --- Round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_exported_2026_demo_list_imports_into_a_fresh_draft_as_the_same_entries(demo, fmt):
    list_2026 = PolicyList.objects.get(year=2026)
    exported = export_entries(PolicyEntry.objects.filter(policy_list=list_2026), fmt)
    fresh = policy_list_start(acting_user=demo, year=2024)  # no published list before 2024: starts empty
    assert not fresh.entries.exists()

    report = policy_list_import(acting_user=demo, policy_list=fresh, file_bytes=exported, filename=f"2026.{fmt}")

    assert report.errors == []
    assert (report.rows_read, report.created, report.updated) == (list_2026.entries.count(),) * 2 + (0,)
    assert _snapshots(fresh) == _snapshots(list_2026)
    assert fresh.entries.filter(is_secret=True).count() == 1  # the caller chose to export everything


def test_reimporting_an_unchanged_export_changes_nothing_and_an_edited_cell_updates_that_entry(
    finance_admin, department_a, department_b
):
    policy_list = draft_list(
        finance_admin, 2027, [("MZ-01", department_a, {}), ("NY-01", department_b, {"name": "耕地地力保护补贴"})]
    )
    exported = export_entries(policy_list.entries.all(), "xlsx")
    before = _snapshots(policy_list)

    again = policy_list_import(
        acting_user=finance_admin, policy_list=policy_list, file_bytes=exported, filename="a.xlsx"
    )
    assert (again.errors, again.created, again.updated, again.unchanged) == ([], 0, 0, 2)
    assert _snapshots(policy_list) == before

    workbook = openpyxl.load_workbook(io.BytesIO(exported))
    sheet = workbook.active
    amount_column = HEADER_ROW.index("补贴标准（元）") + 1
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row, 1).value == "MZ-01":
            sheet.cell(row, amount_column).value = 120
    edited = io.BytesIO()
    workbook.save(edited)
    report = policy_list_import(
        acting_user=finance_admin, policy_list=policy_list, file_bytes=edited.getvalue(), filename="b.xlsx"
    )

    assert (report.errors, report.created, report.updated, report.unchanged) == ([], 0, 1, 1)
    assert PolicyEntry.objects.get(policy_list=policy_list, policy__code="MZ-01").standard_amount == Decimal("120.00")
    event = AuditEvent.objects.filter(action=AuditAction.POLICY_LIST_IMPORT).latest("id")
    assert event.after["entries_changed"] == {
        "MZ-01": {"before": {"standard_amount": "100.00"}, "after": {"standard_amount": "120.00"}}
    }


# --- Errors: every bad row, and nothing written ----------------------------------------------------


def test_a_missing_department_an_unknown_level_and_a_duplicate_code_are_each_reported_and_nothing_is_imported(
    draft, finance_admin
):
    rows = [
        _cells(code="MZ-01"),
        _cells(code="MZ-02", department="二七区不存在局"),
        _cells(code="MZ-03", level="乡级"),
        _cells(code="MZ-01", name="高龄津贴（重复）"),
        _cells(code="NY-01", department="nync", name="耕地地力保护补贴"),
    ]
    counts = (Policy.objects.count(), PolicyEntry.objects.count(), AuditEvent.objects.count())

    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=_xlsx(rows), filename="x.xlsx")

    assert _errors(report) == [
        (3, "主管部门", "department_unknown"),
        (4, "政策层级", "level_unknown"),
        (5, "政策编码", "duplicate_code"),
    ]
    assert "二七区不存在局" in report.errors[0].message
    assert "第 2 行" in report.errors[2].message
    assert (report.rows_read, report.created, report.updated) == (5, 0, 0)
    # Not even the good rows 2 and 6 are written.
    assert (Policy.objects.count(), PolicyEntry.objects.count(), AuditEvent.objects.count()) == counts


@pytest.mark.parametrize(
    ("overrides", "column", "code"),
    [
        ({"name": ""}, "政策名称", "required"),
        ({"department": ""}, "主管部门", "required"),
        ({"level": ""}, "政策层级", "required"),
        ({"standard_amount": ""}, "补贴标准（元）", "required"),
        ({"standard_unit": ""}, "标准单位", "required"),
        ({"frequency": ""}, "发放频次", "required"),
        ({"target_group": ""}, "补贴对象", "required"),
        ({"basis_title": ""}, "政策依据文件", "required"),
        ({"code": ""}, "政策编码", "required"),
        ({"code": "MZ 01/新"}, "政策编码", "code_invalid"),
        ({"standard_amount": "一百元"}, "补贴标准（元）", "amount_invalid"),
        ({"standard_amount": "0"}, "补贴标准（元）", "amount_invalid"),
        ({"standard_amount": "-5"}, "补贴标准（元）", "amount_invalid"),
        ({"standard_amount": "100.005"}, "补贴标准（元）", "amount_invalid"),
        ({"frequency": "每周"}, "发放频次", "choice_unknown"),
        ({"beneficiary": "到村"}, "发放到", "choice_unknown"),
        ({"is_secret": "也许"}, "涉密", "choice_unknown"),
        ({"basis_date": "2025-13-01"}, "发文日期", "date_invalid"),
        ({"valid_from": "明年"}, "执行起始日", "date_invalid"),
        ({"share_central": "50", "share_county": "40"}, "县级分担%", "shares_sum"),
        (
            {"share_central": 0.8, "share_provincial": 0.1, "share_municipal": 0.05, "share_county": 0.05},
            "县级分担%",
            "shares_sum",
        ),
        ({"share_central": "101"}, "中央分担%", "number_invalid"),
        ({"min_age": "90", "max_age": "80"}, "最低年龄", "age_range"),
        ({"min_age": "八十"}, "最低年龄", "number_invalid"),
        ({"valid_from": "2027-12-31", "valid_to": "2027-01-01"}, "执行截止日", "date_range"),
        ({"eligible_regions": "410103015,4101"}, "限定区划代码", "region_invalid"),
        ({"name": "高" * 101}, "政策名称", "max_length"),
    ],
)
def test_a_bad_cell_is_reported_with_its_row_column_and_code(draft, finance_admin, overrides, column, code):
    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=_xlsx([_cells(**overrides)]), filename="x.xlsx"
    )

    assert _errors(report) == [(2, column, code)]
    assert report.errors[0].message
    assert not draft.entries.exists()


def test_a_code_that_belongs_to_another_department_is_refused(draft, finance_admin, department_b):
    Policy.objects.create(code="NY-01", department=department_b)

    report = policy_list_import(
        acting_user=finance_admin,
        policy_list=draft,
        file_bytes=_xlsx([_cells(code="NY-01", department="民政")]),
        filename="x.xlsx",
    )

    assert _errors(report) == [(2, "政策编码", "code_other_department")]
    assert "二七区农业农村工作委员会" in report.errors[0].message
    assert not draft.entries.exists()


def test_a_missing_required_column_is_reported_once_on_the_header_row(draft, finance_admin):
    header = [h for h in HEADER_ROW if h != "发放频次"]
    rows = [
        [cell for h, cell in zip(HEADER_ROW, _cells(code=f"MZ-0{n}"), strict=True) if h != "发放频次"] for n in (1, 2)
    ]

    report = policy_list_import(
        acting_user=finance_admin,
        policy_list=draft,
        file_bytes=_xlsx(rows, header=header, above=[["2027年政策清单"]]),
        filename="x.xlsx",
    )

    assert report.errors == [RowError(2, "发放频次", "header_missing", "缺少“发放频次”列。")]
    assert not draft.entries.exists()


def test_a_file_that_is_not_a_spreadsheet_is_reported_and_nothing_is_imported(draft, finance_admin):
    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=b"not a workbook", filename="list.xlsx"
    )
    assert _errors(report) == [(0, "", "file_unreadable")]

    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=b"x", filename="list.pdf")
    assert _errors(report) == [(0, "", "file_type")]
    assert not draft.entries.exists()


# --- What the import reads -----------------------------------------------------------------------


def test_a_gbk_csv_from_excel_imports(draft, finance_admin):
    rows = [_cells(code="MZ-01", target_group="八十周岁以上老年人（含）"), _cells(code="NY-01", department="农业农村")]

    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=_csv(rows, encoding="gbk"), filename="清单.csv"
    )

    assert (report.errors, report.created) == ([], 2)
    entry = PolicyEntry.objects.get(policy_list=draft, policy__code="MZ-01")
    assert entry.target_group == "八十周岁以上老年人（含）"
    assert PolicyEntry.objects.get(policy_list=draft, policy__code="NY-01").department.code == "nync"


def test_a_utf8_csv_without_bom_imports(draft, finance_admin):
    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=_csv([_cells()], encoding="utf-8"), filename="a.csv"
    )
    assert (report.errors, report.created) == ([], 1)


def test_a_title_line_above_the_header_is_tolerated_and_rows_keep_the_numbers_the_clerk_sees(draft, finance_admin):
    title = [["二七区2027年惠民惠农财政补贴政策清单"], []]
    bad = _xlsx([_cells(code="MZ-01"), _cells(code="MZ-02", frequency="每周")], above=title)

    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=bad, filename="x.xlsx")
    assert _errors(report) == [(5, "发放频次", "choice_unknown")]

    good = _xlsx([_cells(code="MZ-01"), _cells(code="MZ-02", frequency="monthly")], above=title)
    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=good, filename="x.xlsx")
    assert (report.errors, report.created) == ([], 2)


def test_a_float_standard_cell_of_0_1_imports_as_ten_fen(draft, finance_admin):
    row = _cells(standard_amount=0.1, share_central=80.0, share_provincial=10.0, share_municipal=5, share_county=5.0)

    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=_xlsx([row]), filename="x.xlsx"
    )

    assert report.errors == []
    entry = PolicyEntry.objects.get(policy_list=draft)
    assert entry.standard_amount == Decimal("0.10")
    assert str(entry.standard_amount) == "0.10"
    assert (entry.share_central, entry.share_county) == (Decimal("80"), Decimal("5"))


def test_codes_short_names_and_aliases_are_read_as_well_as_labels(draft, finance_admin, department_b):
    rows = [
        _cells(code="A-1", department="mz", level="central", frequency="quarterly", beneficiary="household"),
        _cells(code="A-2", department="二七区民政局", level="中央", frequency="按季", beneficiary="到户"),
        _cells(code="A-3", department="民政", level="县（区）级", frequency="按季度", beneficiary="户"),
    ]
    rows[0][HEADER_ROW.index("限定区划代码")] = "410103015，410103100"
    rows[0][HEADER_ROW.index("发文日期")] = "2025年3月1日"
    rows[0][HEADER_ROW.index("财政供养人员不得享受")] = "是"

    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=_xlsx(rows), filename="x.xlsx")

    assert report.errors == []
    entries = {e.policy.code: e for e in PolicyEntry.objects.filter(policy_list=draft).select_related("policy")}
    assert {e.department.code for e in entries.values()} == {"mz"}
    assert [entries[c].level for c in ("A-1", "A-2", "A-3")] == ["central", "central", "county"]
    assert {e.frequency for e in entries.values()} == {"quarterly"}
    assert {e.beneficiary for e in entries.values()} == {"household"}
    assert entries["A-1"].eligible_regions == ["410103015", "410103100"]
    assert entries["A-1"].basis_date == dt.date(2025, 3, 1)
    assert entries["A-1"].excludes_public_employees is True


# --- Formula injection -----------------------------------------------------------------------------

HOSTILE = {
    "name": '=HYPERLINK("http://evil.example","点击")',
    "target_group": "+1+1",
    "scope": "-2+3",
    "restrictions": "@SUM(A1:A2)",
    "basis_number": "\t=1",
    "contact_office": "\r=1",
}


@pytest.fixture
def hostile_list(finance_admin, department_a):
    policy_list = policy_list_start(acting_user=finance_admin, year=2027)
    policy_entry_create(
        acting_user=finance_admin,
        policy_list=policy_list,
        code="MZ-01",
        values=entry_values(department_a, basis_date=dt.date(2025, 3, 1), min_age=80, **HOSTILE),
    )
    return policy_list


def test_formula_cells_are_escaped_in_xlsx_while_numbers_and_dates_stay_numbers_and_dates(hostile_list):
    exported = export_entries(hostile_list.entries.all(), "xlsx")

    sheet = openpyxl.load_workbook(io.BytesIO(exported)).active
    row = {header.value: cell.value for header, cell in zip(sheet[1], sheet[2], strict=True)}
    for name, value in HOSTILE.items():
        # XML reads a carriage return back as a line feed; the quote in front is what matters.
        assert row[HEADERS[name]] == "'" + value.replace("\r", "\n")
    assert all(cell.data_type != "f" for cell in sheet[2])
    assert row["补贴标准（元）"] == 100 and isinstance(row["补贴标准（元）"], int | float)
    assert row["发文日期"] == dt.datetime(2025, 3, 1)
    assert row["最低年龄"] == 80
    assert row["政策编码"] == "MZ-01"


def test_formula_cells_are_escaped_in_csv_which_excel_opens_as_utf8(hostile_list):
    exported = export_entries(hostile_list.entries.all(), "csv")

    assert exported.startswith("\ufeff".encode())
    header, values = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
    row = dict(zip(header, values, strict=True))
    assert header == HEADER_ROW
    for name, value in HOSTILE.items():
        assert row[HEADERS[name]] == "'" + value
    assert (row["补贴标准（元）"], row["发文日期"], row["政策层级"]) == ("100.00", "2025-03-01", "县（区）级")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_escaped_export_imports_back_to_the_original_text(hostile_list, finance_admin, fmt):
    exported = export_entries(hostile_list.entries.all(), fmt)
    fresh = PolicyList.objects.create(year=2030, title="2030")

    report = policy_list_import(acting_user=finance_admin, policy_list=fresh, file_bytes=exported, filename=f"a.{fmt}")

    assert report.errors == []
    expected = _snapshots(hostile_list)
    if fmt == "xlsx":  # XML reads a carriage return back as a line feed
        expected["MZ-01"]["contact_office"] = "\n=1"
    assert _snapshots(fresh) == expected


# --- Who may import, into what ---------------------------------------------------------------------


def test_importing_into_a_published_list_is_refused_with_list_not_draft_and_changes_nothing(
    finance_admin, finance_reviewer, department_a
):
    policy_list = draft_list(finance_admin, 2027, [("MZ-01", department_a, {})])
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)
    before = _snapshots(policy_list)
    events = AuditEvent.objects.count()

    with pytest.raises(ValidationError) as caught:
        policy_list_import(
            acting_user=finance_admin,
            policy_list=policy_list,
            file_bytes=_xlsx([_cells(code="MZ-01", standard_amount="999"), _cells(code="MZ-09")]),
            filename="x.xlsx",
        )

    assert caught.value.code == "list_not_draft"
    assert _snapshots(policy_list) == before
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize("who", ["clerk_a", "outsider", "finance_reviewer"])
def test_only_finance_may_import_not_a_department_clerk_nor_the_outsider_nor_the_reviewer(draft, request, who):
    user = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        policy_list_import(acting_user=user, policy_list=draft, file_bytes=_xlsx([_cells()]), filename="x.xlsx")

    assert not draft.entries.exists()
    assert not Policy.objects.exists()


def test_a_successful_import_writes_one_audit_entry_with_its_counts(draft, finance_admin):
    events = AuditEvent.objects.count()
    rows = [_cells(code="MZ-01"), _cells(code="NY-01", department="农业农村")]

    report = policy_list_import(
        acting_user=finance_admin, policy_list=draft, file_bytes=_xlsx(rows), filename="清单.xlsx"
    )

    assert (report.errors, report.created) == ([], 2)
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("id")
    assert (event.action, event.actor_id, event.object_id) == (
        AuditAction.POLICY_LIST_IMPORT,
        finance_admin.pk,
        str(draft.pk),
    )
    assert {key: event.after[key] for key in ("year", "filename", "rows_read", "created", "updated")} == {
        "year": 2027,
        "filename": "清单.xlsx",
        "rows_read": 2,
        "created": 2,
        "updated": 0,
    }
    assert set(event.after["entries_created"]) == {"MZ-01", "NY-01"}
    assert audit_verify().ok


# --- Commands --------------------------------------------------------------------------------------


def test_import_command_prints_a_json_report_and_exits_non_zero_when_a_row_is_bad(
    draft, finance_admin, tmp_path, capsys
):
    path = tmp_path / "list.xlsx"
    path.write_bytes(_xlsx([_cells(code="MZ-01"), _cells(code="MZ-02", level="乡级")]))

    with pytest.raises(CommandError) as caught:
        call_command("import_policies", "2027", str(path), "--user", "finance_admin", "--json")

    assert caught.value.returncode != 0
    output = json.loads(capsys.readouterr().out)
    assert output["year"] == 2027
    assert (output["rows_read"], output["created"], output["updated"]) == (2, 0, 0)
    assert output["errors"] == [
        {"row": 3, "column": "政策层级", "code": "level_unknown", "message": output["errors"][0]["message"]}
    ]
    assert "乡级" in output["errors"][0]["message"]
    assert not draft.entries.exists()


def test_import_command_imports_a_good_file_and_exits_zero(draft, finance_admin, tmp_path, capsys):
    path = tmp_path / "list.csv"
    path.write_bytes(_csv([_cells(code="MZ-01"), _cells(code="MZ-02")]))

    call_command("import_policies", "2027", str(path), "--user", "finance_admin", "--json")

    output = json.loads(capsys.readouterr().out)
    assert (output["rows_read"], output["created"], output["errors"]) == (2, 2, [])
    assert draft.entries.count() == 2


def test_import_command_refuses_a_clerk_and_says_why_in_json(draft, clerk_a, tmp_path, capsys):
    path = tmp_path / "list.csv"
    path.write_bytes(_csv([_cells()]))

    with pytest.raises(CommandError):
        call_command("import_policies", "2027", str(path), "--user", "clerk_a", "--json")

    assert [error["code"] for error in json.loads(capsys.readouterr().out)["errors"]] == ["permission_denied"]
    assert not draft.entries.exists()


def test_export_command_with_public_leaves_out_secret_entries(finance_admin, finance_reviewer, department_a, tmp_path):
    policy_list = draft_list(
        finance_admin, 2027, [("MZ-01", department_a, {}), ("MZ-02", department_a, {"is_secret": True})]
    )
    everything, public = tmp_path / "all.csv", tmp_path / "public.xlsx"

    call_command("export_policies", "2027", str(everything))
    with pytest.raises(CommandError, match="not published"):
        call_command("export_policies", "2027", str(public), "--public")
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)
    call_command("export_policies", "2027", str(public), "--public")

    rows = list(csv.reader(io.StringIO(everything.read_text(encoding="utf-8-sig"), newline="")))
    assert [row[0] for row in rows[1:]] == ["MZ-01", "MZ-02"]
    sheet = openpyxl.load_workbook(public).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["MZ-01"]


@pytest.mark.parametrize(
    ("command", "chinese", "english"), [("import_policies", "导入", "Import"), ("export_policies", "导出", "Export")]
)
def test_both_commands_explain_themselves_in_chinese_and_english(command, chinese, english):
    text = load_command_class("policies", command).create_parser("manage.py", command).format_help()
    assert chinese in text and english in text
    assert "--json" in text if command == "import_policies" else "--public" in text


def test_the_documented_example_with_a_title_line_and_only_some_columns_imports(draft, finance_admin):
    header = [
        "政策编码", "政策名称", "主管部门", "政策层级", "中央分担%", "省级分担%", "市级分担%", "县级分担%",
        "补贴对象", "政策依据文件", "补贴标准（元）", "标准单位", "发放频次", "最低年龄",
    ]  # fmt: skip
    rows = [
        ["MZ-01", "高龄津贴（80—89周岁）", "民政", "县（区）级", 0, 0, 0, 100, "80—89周岁老年人",
         "关于高龄津贴发放管理有关事项的通知", 50, "元/人·月", "按月", 80],
        ["NY-01", "耕地地力保护补贴", "二七区农业农村工作委员会", "中央", 80, 10, 5, 5, "承包耕地的农户",
         "关于耕地地力保护补贴发放管理有关事项的通知", 98.5, "元/亩", "按年", None],
    ]  # fmt: skip
    file_bytes = _xlsx(rows, header=header, above=[["二七区2027年惠民惠农财政补贴政策清单"]])

    report = policy_list_import(acting_user=finance_admin, policy_list=draft, file_bytes=file_bytes, filename="x.xlsx")

    assert (report.errors, report.created) == ([], 2)
    farmland = PolicyEntry.objects.get(policy_list=draft, policy__code="NY-01")
    assert (farmland.standard_amount, farmland.share_central, farmland.min_age) == (Decimal("98.50"), 80, None)
    assert (farmland.beneficiary, farmland.status, farmland.is_secret) == ("person", "active", False)
