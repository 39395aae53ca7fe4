import io
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yikatong.domain import (
    PROVINCES,
    DivisionCode,
    DivisionFileError,
    DomainError,
    Level,
    parse_division_code,
    read_division_file,
)

from .strategies import property_test


def error_code(raw) -> str:
    with pytest.raises(DomainError) as caught:
        parse_division_code(raw)
    return caught.value.code


def read(text: str):
    return read_division_file(io.StringIO(text, newline=""))


def file_errors(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(DivisionFileError) as caught:
        read(text)
    assert caught.value.code == "division_file"
    return [(line, code, str(message)) for line, code, message in caught.value.errors]


def test_there_are_34_province_level_units_including_taiwan_hong_kong_and_macao():
    assert len(PROVINCES) == 34
    assert (PROVINCES["41"], PROVINCES["71"], PROVINCES["81"], PROVINCES["82"]) == (
        "河南省",
        "台湾省",
        "香港特别行政区",
        "澳门特别行政区",
    )


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("410000", Level.PROVINCE, None),
        ("410100", Level.CITY, "410000"),
        ("410103", Level.COUNTY, "410100"),
        ("410103001", Level.TOWNSHIP, "410103"),
        ("410103001001", Level.VILLAGE, "410103001"),
        ("110101", Level.COUNTY, "110100"),
        ("820000", Level.PROVINCE, None),
    ],
)
def test_it_reads_level_and_parent_from_the_code(code, level, parent):
    assert parse_division_code(code) == DivisionCode(code=code, level=level, parent_code=parent)


def test_it_tolerates_full_width_digits_and_surrounding_spaces():
    assert parse_division_code(" ４１０１０３ ").code == "410103"


def test_levels_are_plain_strings():
    assert Level.TOWNSHIP == "township"
    assert [level.value for level in Level] == ["province", "city", "county", "township", "village"]


@pytest.mark.parametrize(
    "raw", ["", "41010", "4101030", "41010300", "4101030010", "4101030010010", "41010A", None, 410103]
)
def test_it_rejects_a_code_that_is_not_6_9_or_12_digits(raw):
    assert error_code(raw) == "division_format"


@pytest.mark.parametrize("raw", ["000000", "990000", "160103", "720000", "160103001001"])
def test_it_rejects_a_code_of_an_unknown_province(raw):
    assert error_code(raw) == "division_province"


def significant(code: str) -> str:
    """The digits that name a unit: a 6-digit code pads a province or city with trailing 00 pairs."""
    if len(code) == 6:
        return code.removesuffix("0000") if code.endswith("0000") else code.removesuffix("00")
    return code


@property_test
@given(
    st.sampled_from(sorted(PROVINCES)),
    st.sampled_from([4, 7, 10]).flatmap(lambda size: st.text(alphabet="0123456789", min_size=size, max_size=size)),
)
def test_every_parent_is_a_higher_level_code_that_the_child_starts_with(province, rest):
    division = parse_division_code(province + rest)
    if division.parent_code is None:
        assert division.level == Level.PROVINCE
        assert rest == "0000"
        return
    parent = parse_division_code(division.parent_code)
    assert list(Level).index(parent.level) < list(Level).index(division.level)
    assert division.code.startswith(significant(parent.code))


# --- the reference file -----------------------------------------------------------------------

GOOD_FILE = """code,name
410000,河南省
410100,郑州市
410103,二七区
410103001,淮河路街道
410103001001,五里堡社区
"""


def test_it_reads_a_division_file_and_derives_the_parents():
    assert read(GOOD_FILE) == [
        ("410000", "河南省", None),
        ("410100", "郑州市", "410000"),
        ("410103", "二七区", "410100"),
        ("410103001", "淮河路街道", "410103"),
        ("410103001001", "五里堡社区", "410103001"),
    ]


def test_it_ignores_the_parent_code_column_and_blank_lines_and_a_byte_order_mark():
    text = "\ufeffcode,name,parent_code\n410103,二七区,999999\n\n410103001, 淮河路街道 ,\n\n"
    assert read(text) == [("410103", "二七区", "410100"), ("410103001", "淮河路街道", "410103")]


def test_a_county_may_be_loaded_without_its_city():
    assert read("code,name\n410103,二七区\n") == [("410103", "二七区", "410100")]


def test_a_file_with_only_a_header_is_empty():
    assert read("code,name\n") == []


@pytest.mark.parametrize("text", ["", "代码,名称\n410103,二七区\n", "name,code\n", "code\n410103\n"])
def test_it_rejects_a_file_without_the_expected_header(text):
    assert [line for line, _code, _message in file_errors(text)] == [1]


def test_it_reports_every_bad_line_and_returns_nothing():
    text = (
        "code,name\n"  # 1
        "410000,河南省\n"  # 2
        "41010,郑州市\n"  # 3 too short
        "990103,某区\n"  # 4 no such province
        "410103,\n"  # 5 empty name
        "410000,河南\n"  # 6 duplicate of line 2
        "410102001,某街道\n"  # 7 county 410102 not in the file
        "410103001001,某社区\n"  # 8 township 410103001 not in the file
        "410104,管城区,410100,多余\n"  # 9 more columns than the header
        "410105\n"  # 10 no name column at all
    )
    errors = file_errors(text)
    assert [(line, code) for line, code, _message in errors] == [
        (3, "41010"),
        (4, "990103"),
        (5, "410103"),
        (6, "410000"),
        (7, "410102001"),
        (8, "410103001001"),
        (9, "410104"),
        (10, "410105"),
    ]
    messages = dict(((line, message) for line, _code, message in errors))
    assert "6 位、9 位或 12 位" in messages[3]
    assert "省级" in messages[4]
    assert "名称为空" in messages[5]
    assert "第 2 行" in messages[6]
    assert "410102" in messages[7]
    assert "410103001" in messages[8]
    assert "列数" in messages[9]
    assert "名称为空" in messages[10]


def test_the_file_error_says_how_many_lines_are_wrong_and_survives_pickling():
    with pytest.raises(DivisionFileError) as caught:
        read("code,name\n1,a\n2,b\n")
    assert "2 行" in str(caught.value)
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes, as a task queue would do
    assert (copy.code, [(line, code) for line, code, _m in copy.errors]) == ("division_file", [(2, "1"), (3, "2")])


def test_a_quoted_name_with_a_comma_is_one_name():
    assert read('code,name\n410103,"二七区,郑州"\n') == [("410103", "二七区,郑州", "410100")]
