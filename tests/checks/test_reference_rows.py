"""One row of a reference file: dates as people type them, IDs as rosters check them, and the sheet's own layout."""

import datetime as dt

import pytest

from checks.enums import SourceKind
from checks.reference_rows import LAYOUTS, ReferenceRowValidator, parse_date
from recipients.roster_file import RawRow, RosterFileError, open_roster
from tests.checks.conftest import make_citizen_id
from yikatong.domain import DomainError

AS_OF = dt.date(2026, 1, 31)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-05", dt.date(2026, 1, 5)),
        ("2026/1/5", dt.date(2026, 1, 5)),
        ("2026.1.5", dt.date(2026, 1, 5)),
        ("20260105", dt.date(2026, 1, 5)),
        ("2026年1月5日", dt.date(2026, 1, 5)),
        ("２０２６年１月５日", dt.date(2026, 1, 5)),
        (" 2026-01-05 14:30:00 ", dt.date(2026, 1, 5)),
        (dt.datetime(2026, 1, 5, 8, 0), dt.date(2026, 1, 5)),
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5)),
        (20260105.0, dt.date(2026, 1, 5)),
        ("", None),
        (None, None),
    ],
)
def test_dates_are_read_the_ways_people_type_them(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["2026-02-30", "1月5日", "46027", 46027.0, "1899-12-31", "明天", True])
def test_what_is_not_a_date_says_so(value):
    result = parse_date(value)
    assert isinstance(result, DomainError) and result.code == "date_invalid"


def validator(kind, fields, *, as_of=AS_OF):
    from recipients.roster_file import Column

    columns = {field: Column(i, LAYOUTS[kind].labels.get(field, field)) for i, field in enumerate(fields)}
    return ReferenceRowValidator(
        kind, columns, as_of=as_of, hasher=lambda number: f"{hash(number) & (2**256 - 1):064x}"
    )


def check(v, **values):
    return v.validate(RawRow(2, values, list(values.values())))


@pytest.mark.parametrize(
    "number",
    [
        make_citizen_id(1),
        make_citizen_id(2).lower(),
        make_citizen_id(3)[:17] + ("1" if make_citizen_id(3)[-1] != "1" else "2"),
        "990103197001010011",  # no such province
        "410103197002300011",  # 30 February
        "410103203001010011",  # born in 2030
        "41010319700101001",
        "4101037001010011",
        "410103700101001",
        " 410103 1970 0101 0019 ",
    ],
)
def test_the_fast_id_path_agrees_with_the_domain_parser(number):
    from yikatong.domain import parse_citizen_id

    clean, issues = check(validator(SourceKind.PUBLIC_EMPLOYEE, ["id_number"]), id_number=number)
    try:
        expected = parse_citizen_id(number, today=dt.date.today())
    except DomainError as error:
        assert clean is None and [issue.code for issue in issues] == [error.code]
    else:
        assert issues == [] and clean.id_number == expected.number


def test_household_statuses_and_division_codes():
    v = validator(SourceKind.HOUSEHOLD, ["id_number", "name", "division", "status"])
    rows = [
        ("正常", "410103", "active"),
        ("已迁出", 410103015.0, "moved"),
        ("注 销", "４１０１０３", "cancelled"),
        ("Moved", "", "moved"),
        (None, None, "active"),
    ]
    for i, (status, division, expected) in enumerate(rows):
        clean, issues = check(v, id_number=make_citizen_id(i), name="张三", division=division, status=status)
        assert issues == [], issues
        assert clean.status == expected
    assert check(v, id_number=make_citizen_id(1), name="李四", division="", status="")[0].division == ""


def test_a_death_before_birth_is_an_error():
    v = validator(SourceKind.DEATH, ["id_number", "event_date"])
    clean, issues = check(v, id_number=make_citizen_id(1, born="19700101"), event_date="1969-12-31")
    assert clean is None and [issue.code for issue in issues] == ["date_before_birth"]


def test_a_roll_needs_no_name_and_no_date_but_a_household_needs_a_name():
    clean, issues = check(validator(SourceKind.ROLL, ["id_number", "name", "event_date"]), id_number=make_citizen_id(1),
                          name="", event_date="")  # fmt: skip
    assert issues == [] and clean.event_date is None
    clean, issues = check(validator(SourceKind.HOUSEHOLD, ["id_number", "name"]), id_number=make_citizen_id(1), name="")
    assert [issue.code for issue in issues] == ["name_missing"]


def test_a_reference_file_ends_at_its_total_and_signature_lines():
    text = "\n".join([
        "二七区财政供养人员名单",
        "序号,身份证号,姓名,工作单位",
        f"1,{make_citizen_id(1)},张三,二七区教育局",
        ",,,",
        f"2,{make_citizen_id(2)},李四,二七区卫健委",
        "3,,,",
        "合计,2人,,",
        "填报人：王五,,,",
    ])  # fmt: skip
    with open_roster(
        text.encode(), filename="x.csv", max_bytes=1 << 20, max_rows=100, layout=LAYOUTS[SourceKind.PUBLIC_EMPLOYEE]
    ) as sheet:
        rows = list(sheet.rows())
    assert [row.row for row in rows] == [3, 5]
    assert sheet.declared_count == 2 and sheet.declared_total is None
    assert rows[1].values["detail"] == "二七区卫健委"


def test_a_sheet_with_one_recognised_column_per_field_still_reads_tuples():
    text = f"身份证号,身份证\n{make_citizen_id(1)},x\n"
    with open_roster(
        text.encode(), filename="x.csv", max_bytes=1 << 20, max_rows=100, layout=LAYOUTS[SourceKind.PUBLIC_EMPLOYEE]
    ) as sheet:
        rows = list(sheet.rows())
    assert rows[0].values == {"id_number": make_citizen_id(1)}


def test_a_reference_header_that_cannot_be_found_names_the_kinds_columns():
    with pytest.raises(RosterFileError) as caught:
        open_roster(b"a,b\n1,2\n", filename="x.csv", max_bytes=1 << 20, max_rows=10, layout=LAYOUTS[SourceKind.DEATH])
    assert caught.value.code == "header_not_found"
    assert "“身份证号”“死亡日期”" in str(caught.value.message)


def test_too_many_rows_speaks_of_a_data_file_not_a_roster():
    text = "身份证号,姓名\n" + "\n".join(f"{make_citizen_id(i)},张三" for i in range(3))
    layout = LAYOUTS[SourceKind.HOUSEHOLD]
    with open_roster(text.encode(), filename="x.csv", max_bytes=1 << 20, max_rows=2, layout=layout) as sheet:
        try:
            list(sheet.rows())
        except RosterFileError as error:
            code, message = error.code, str(error.message)
    assert code == "too_many_rows"
    assert message.startswith("数据文件超过 2 行")
