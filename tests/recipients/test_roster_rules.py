"""Checking roster rows: every problem reported with its sheet row, the clerk's own column header, a stable code
and a Chinese message; and the fast path giving exactly what the domain parsers give."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import luhn

from bench import synth
from recipients.roster_file import Column, RawRow, open_roster
from recipients.roster_rules import ROW_CODES, CleanRow, PolicyBounds, RowValidator
from tests.domain.strategies import TODAY, make_id, noise, to_full_width, valid_ids
from yikatong.domain import DomainError, parse_amount, parse_bank_account, parse_citizen_id

COLUMNS = {
    "seq": Column(0, "序号"),
    "name": Column(1, "户主姓名"),
    "id_number": Column(2, "公民身份号码"),
    "account": Column(3, "社会保障卡金融账号"),
    "amount": Column(4, "金额（元）"),
    "bank": Column(5, "开户行"),
    "holder_name": Column(6, "户名"),
    "phone": Column(7, "联系电话"),
    "township": Column(8, "乡镇（街道）"),
    "village": Column(9, "村（社区）"),
}
ERQI_MAN = make_id("410103", "19500307", "123")  # born 1950-03-07, 76 on TODAY
ERQI_WOMAN = make_id("410103", "19900307", "124")
MIGRANT = make_id("411081", "19500307", "125")  # 禹州市: issued elsewhere, lives here
CARD = "621700123456789012" + luhn.calc_check_digit("621700123456789012")
PASSBOOK = "711000123456789" + str((int(luhn.calc_check_digit("711000123456789")) + 1) % 10)
GOOD = {
    "seq": 1.0,
    "name": "张三",
    "id_number": ERQI_MAN,
    "account": CARD,
    "amount": 100.0,
    "bank": "二七区农村商业银行",
    "holder_name": "",
    "phone": "",
    "township": "马寨镇",
    "village": "王村",
}


def raw(row: int = 5, **values) -> RawRow:
    return RawRow(row, GOOD | values, ())


def validator(columns=COLUMNS, *, fast: bool = True, known_regions=None, **bounds) -> RowValidator:
    return RowValidator(
        columns, PolicyBounds(**({"as_of": TODAY} | bounds)), today=TODAY, known_regions=known_regions, fast=fast
    )


def found(row_values: dict, **bounds) -> list[tuple[int, str, str, bool]]:
    """(row, column, code, warning) of every issue in one row, for a fresh validator."""
    _clean, issues = validator(**bounds).validate(raw(**row_values))
    return [(issue.row, issue.column, issue.code, issue.warning) for issue in issues]


def rendered(result: tuple[CleanRow | None, list]) -> tuple:
    clean, issues = result
    return clean, [(i.row, i.column, i.code, str(i.message), i.warning) for i in issues]


# --- a good row ----------------------------------------------------------------------------------------


def test_a_good_row_becomes_a_clean_row_with_sex_and_birth_date_from_the_id():
    clean, issues = validator(standard_amount=Decimal("100")).validate(raw(7))
    assert issues == []
    assert clean == CleanRow(
        row=7,
        id_number=ERQI_MAN,
        name="张三",
        sex="M",
        birth_date=date(1950, 3, 7),
        account=CARD,
        amount=Decimal("100.00"),
        bank="二七区农村商业银行",
        holder_name="",
        phone="",
        township="马寨镇",
        village="王村",
        quantity=None,
    )


def test_what_people_and_spreadsheets_do_to_text_is_undone():
    typed = {
        "name": " 欧阳\u3000娜 ",
        "id_number": " " + to_full_width(ERQI_WOMAN[:-1]) + ERQI_WOMAN[-1].lower(),
        "account": " ".join(CARD[i : i + 4] for i in range(0, len(CARD), 4)),
        "amount": "１００元",
        "holder_name": "欧阳 娜",
        "phone": 13812345678.0,
        "bank": " 农商行 ",
    }
    clean, issues = validator().validate(raw(**typed))
    assert issues == []
    assert (clean.name, clean.id_number, clean.sex, clean.account) == ("欧阳娜", ERQI_WOMAN, "F", CARD)
    assert (clean.amount, clean.holder_name, clean.phone, clean.bank) == (
        Decimal("100.00"),
        "欧阳娜",
        "13812345678",
        "农商行",
    )


@pytest.mark.parametrize(
    ("cell", "amount"),
    [
        (0.1, "0.10"),
        (100.0, "100.00"),
        (1250.5, "1250.50"),
        (100, "100.00"),
        ("100", "100.00"),
        ("¥1,000.5", "1000.50"),
    ],
)
def test_an_amount_from_a_number_cell_is_converted_exactly(cell, amount):
    clean, issues = validator().validate(raw(amount=cell))
    assert issues == []
    assert clean.amount == Decimal(amount)
    assert str(clean.amount) == amount


def test_an_account_that_fails_luhn_is_only_a_warning():
    clean, issues = validator().validate(raw(account=PASSBOOK))
    assert clean is not None
    assert clean.account == PASSBOOK
    assert [(i.code, i.column, i.warning) for i in issues] == [("account_checksum", "社会保障卡金融账号", True)]
    assert "存折" in str(issues[0].message)


def test_a_legacy_15_digit_id_is_read_as_its_18_digit_form():
    old = ERQI_MAN[:6] + ERQI_MAN[8:17]
    clean, issues = validator().validate(raw(id_number=old))
    assert issues == []
    assert clean.id_number == ERQI_MAN


# --- every row error, with its row and the clerk's column ----------------------------------------------

ID_COLUMN = "公民身份号码"


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "id_missing"),
        (None, "id_missing"),
        ("41010319500307123", "id_format"),
        ("4101031950030712377", "id_format"),
        ("41010319500307123A", "id_format"),
        (ERQI_MAN[:-2] + str((int(ERQI_MAN[-2]) + 1) % 10) + ERQI_MAN[-1], "id_checksum"),
        (make_id("410103", "19500230", "123"), "id_birthdate"),
        (make_id("410103", "20300101", "123"), "id_birthdate"),
        (make_id("410103", "18991231", "123"), "id_birthdate"),
        (make_id("990103", "19500307", "123"), "id_region"),
        (4.10103195003071e17, "id_not_text"),
        (410103195003071230.0, "id_not_text"),  # looks complete, but a float has lost the last digits
        (410103195003071237, "id_not_text"),
        ("4.10103195003071E+17", "id_not_text"),
    ],
)
def test_a_bad_id_is_reported_in_the_id_column(cell, code):
    assert found({"id_number": cell}) == [(5, ID_COLUMN, code, False)]


def test_a_float_id_is_never_accepted_even_when_it_holds_every_digit():
    # Floats this large are 64 apart: find a valid ID that one of them holds exactly.
    exact = next(
        number
        for seq in range(1000)
        if (number := make_id("410103", "19500307", f"{seq:03d}"))[-1] != "X" and int(number) % 64 == 0
    )
    assert int(float(int(exact))) == int(exact)
    assert found({"id_number": float(int(exact))}) == [(5, ID_COLUMN, "id_not_text", False)]


def test_a_missing_name_is_reported_in_the_name_column():
    assert found({"name": " \u3000"}) == [(5, "户主姓名", "name_missing", False)]
    assert found({"name": None}) == [(5, "户主姓名", "name_missing", False)]


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "account_missing"),
        ("621700123456", "account_checksum"),  # 12 digits: a possible passbook number, only warned
        ("62170012345", "account_format"),
        ("62170012345678901O3", "account_format"),
        (6.217001234567891e18, "account_not_text"),
    ],
)
def test_a_bad_account_is_reported_in_the_account_column(cell, code):
    expected_warning = ROW_CODES[code]
    if code == "account_checksum" and luhn.is_valid(cell):
        pytest.skip("the sample happens to pass Luhn")
    assert found({"account": cell}) == [(5, "社会保障卡金融账号", code, expected_warning)]


@pytest.mark.parametrize(
    ("cell", "code"),
    [
        ("", "amount_missing"),
        ("一百元", "amount_invalid"),
        ("壹佰元整", "amount_invalid"),
        ("待定", "amount_invalid"),
        ("12.345", "amount_invalid"),
        (12.345, "amount_invalid"),
        (100.00000000000001, "amount_invalid"),  # a formula's float noise is not rounded away
        (float("nan"), "amount_invalid"),
        (float("inf"), "amount_invalid"),
        ("1,5", "amount_invalid"),
        (True, "amount_invalid"),
        ("0", "amount_not_positive"),
        (0.0, "amount_not_positive"),
        (-100.0, "amount_not_positive"),
        ("-100.00", "amount_not_positive"),
    ],
)
def test_a_bad_amount_is_reported_in_the_amount_column(cell, code):
    assert found({"amount": cell}) == [(5, "金额（元）", code, False)]


def test_an_amount_over_the_standard_is_an_error():
    assert found({"amount": 100.01}, standard_amount=Decimal("100")) == [
        (5, "金额（元）", "amount_over_standard", False)
    ]
    assert found({"amount": 100.0}, standard_amount=Decimal("100")) == []


def test_a_per_unit_standard_is_multiplied_by_the_quantity():
    columns = COLUMNS | {"quantity": Column(10, "面积（亩）")}
    checker = RowValidator(
        columns, PolicyBounds(Decimal("95.50"), True, None, None, (), TODAY), today=TODAY
    )  # 95.50 元/亩
    clean, issues = checker.validate(raw(6, amount="334.25", quantity="3.5亩"))
    assert issues == [] and clean.quantity == Decimal("3.5")
    _clean, issues = checker.validate(raw(7, id_number=ERQI_WOMAN, amount=334.26, quantity=3.5))
    assert [(i.row, i.column, i.code) for i in issues] == [(7, "金额（元）", "amount_over_standard")]
    assert "334.25" in str(issues[0].message)
    _clean, issues = checker.validate(raw(8, id_number=MIGRANT, quantity="三亩"))
    assert [(i.row, i.column, i.code, i.warning) for i in issues] == [(8, "面积（亩）", "quantity_invalid", False)]


def test_a_bad_quantity_is_only_a_warning_when_the_policy_is_not_paid_per_unit():
    columns = COLUMNS | {"quantity": Column(10, "月数")}
    clean, issues = RowValidator(columns, PolicyBounds(as_of=TODAY), today=TODAY).validate(raw(quantity="?"))
    assert clean is not None
    assert [(i.column, i.code, i.warning) for i in issues] == [("月数", "quantity_invalid", True)]


def test_a_per_unit_policy_without_a_quantity_column_rejects_the_row_naming_the_missing_column():
    assert found({}, standard_amount=Decimal("10"), per_unit=True) == [(5, "数量", "quantity_invalid", False)]


def test_the_second_copy_of_an_id_is_an_error_naming_the_first_row():
    checker = validator()
    assert checker.validate(raw(4))[1] == []
    assert checker.validate(raw(5, id_number=ERQI_WOMAN))[1] == []
    clean, issues = checker.validate(raw(9, id_number=" " + ERQI_MAN.lower()))
    assert clean is None
    assert [(i.row, i.column, i.code) for i in issues] == [(9, ID_COLUMN, "duplicate_in_file")]
    assert str(issues[0].message) == "与第4行身份证号重复。"
    _clean, issues = checker.validate(raw(12))
    assert str(issues[0].message) == "与第4行身份证号重复。"


def test_an_id_in_a_row_with_other_errors_still_counts_for_duplicates():
    checker = validator()
    assert [i.code for i in checker.validate(raw(4, amount="一百"))[1]] == ["amount_invalid"]
    assert [i.code for i in checker.validate(raw(6))[1]] == ["duplicate_in_file"]


def test_every_problem_in_a_row_is_reported_at_once():
    row = {"id_number": "123", "name": "", "account": "", "amount": "一百元"}
    assert [code for _row, _col, code, _w in found(row)] == [
        "id_format",
        "name_missing",
        "account_missing",
        "amount_invalid",
    ]


# --- eligibility -----------------------------------------------------------------------------------------


def test_an_age_outside_the_bounds_is_not_eligible():
    assert found({}, min_age=80) == [(5, ID_COLUMN, "not_eligible", False)]
    assert found({}, min_age=76, max_age=76) == []
    assert found({"id_number": ERQI_WOMAN}, max_age=35) == [(5, ID_COLUMN, "not_eligible", False)]
    _clean, issues = validator(min_age=80).validate(raw())
    assert str(issues[0].message) == "按 2026-06-01 计算年龄为 76 周岁，不符合政策规定的年龄（80 周岁及以上）。"


def test_age_is_counted_in_full_years_on_the_as_of_date():
    assert found({}, min_age=76, as_of=date(2026, 3, 7)) == []
    assert found({}, min_age=76, as_of=date(2026, 3, 6)) == [(5, ID_COLUMN, "not_eligible", False)]


def test_someone_born_after_the_as_of_date_is_not_eligible_for_an_age_bound():
    baby = make_id("410103", "20260301", "123")
    assert found({"id_number": baby}, max_age=6, as_of=date(2026, 1, 1)) == [(5, ID_COLUMN, "not_eligible", False)]


def test_a_division_code_outside_the_policy_regions_is_not_eligible():
    rows = {"village": "410104001002"}
    assert found(rows, regions=("410103",)) == [(5, "村（社区）", "not_eligible", False)]
    assert found({"village": "410103001002"}, regions=("410103001",)) == []


def test_an_id_issued_in_another_county_is_only_a_warning_when_no_division_code_says_where_they_live():
    assert found({"id_number": MIGRANT}, regions=("410103",)) == [(5, ID_COLUMN, "not_eligible", True)]
    assert found({}, regions=("410103001",)) == []  # a township inside the county: the county prefix counts


def test_an_unknown_county_code_is_a_warning_when_a_region_table_is_given():
    _clean, issues = validator(known_regions={"410103"}).validate(raw(id_number=MIGRANT))
    assert [(i.code, i.warning) for i in issues] == [("id_region_unknown", True)]


def test_every_documented_code_is_stable():
    assert set(ROW_CODES) >= {
        "id_format",
        "id_checksum",
        "id_birthdate",
        "id_not_text",
        "id_region",
        "name_missing",
        "account_format",
        "account_missing",
        "account_checksum",
        "amount_invalid",
        "amount_not_positive",
        "amount_over_standard",
        "duplicate_in_file",
        "not_eligible",
    }


# --- a synthetic roster, read and checked end to end ---------------------------------------------------


def test_every_labelled_defect_in_a_synthetic_roster_is_found_on_its_row(tmp_path):
    county = synth.make_county(3)
    rows = list(synth.iter_roster_rows(3, county, 1500, error_rate=0.08))
    path = tmp_path / "roster.xlsx"
    synth.write_roster_xlsx(rows, path)

    with open_roster(path, filename="roster.xlsx", max_bytes=50 << 20, max_rows=2000) as sheet:
        checker = RowValidator(sheet.columns, PolicyBounds(Decimal("100"), as_of=TODAY), today=TODAY)
        results = {raw.row: checker.validate(raw) for raw in sheet.rows()}

    assert len(results) == 1500
    defects = Counter()
    for index, row in enumerate(rows):
        clean, issues = results[index + 4]
        errors = {issue.code for issue in issues if not issue.warning}
        defect = row["_defect"]
        if defect is None:
            assert clean is not None, (index, issues)
        else:
            assert errors == {defect}, (index, defect, issues)
            column = sheet.columns[_field_of(defect)].header_text
            assert all(issue.column == column for issue in issues if not issue.warning)
        defects[defect] += 1
    assert len(defects) == len(synth.DEFECTS) + 1  # every kind of defect, and good rows


def _field_of(code: str) -> str:
    return {"name": "name", "acco": "account", "amou": "amount"}.get(code[:4], "id_number")


# --- the fast path gives what the domain parsers give --------------------------------------------------


def _mutate(text: str, position: int, char: str) -> str:
    position %= len(text) + 1
    return text[:position] + char + text[position + 1 :]


id_cells = st.one_of(
    valid_ids(),
    valid_ids().map(str.lower),
    valid_ids().map(to_full_width),
    st.builds(lambda a, b, c: a + b + c, noise, valid_ids(), noise),
    st.builds(_mutate, valid_ids(), st.integers(0, 18), st.sampled_from("0123456789Xx 一")),
    st.builds(lambda s, n: s[:n], valid_ids(), st.integers(0, 17)),
    valid_ids().map(lambda s: s[:6] + s[8:17]),  # legacy 15 digits
    st.builds(
        lambda region, born, seq: make_id(region, born, seq),
        st.text("0123456789", min_size=6, max_size=6),
        st.text("0123456789", min_size=8, max_size=8),
        st.text("0123456789", min_size=3, max_size=3),
    ),
    st.floats(),
    st.integers(),
    st.none(),
    st.text(max_size=20),
)


def _luhn(body: str) -> str:
    return body + luhn.calc_check_digit(body)


account_cells = st.one_of(
    st.text("0123456789", min_size=1, max_size=33).map(lambda s: _luhn(s)),
    st.text("0123456789", min_size=1, max_size=33),
    st.text("0123456789", min_size=12, max_size=30),
    st.text("0123456789", min_size=12, max_size=30),
    st.text("0123456789", min_size=11, max_size=31).map(lambda s: _luhn(s)).map(to_full_width),
    st.builds(
        lambda s, sep: sep.join(s[i : i + 4] for i in range(0, len(s), 4)),
        st.text("0123456789", min_size=12, max_size=20),
        st.sampled_from([" ", "-", "—"]),
    ),
    st.builds(_mutate, st.text("0123456789", min_size=12, max_size=30), st.integers(0, 30), st.sampled_from("O .eE")),
    st.floats(),
    st.integers(),
    st.none(),
    st.text(max_size=20),
)

amount_cells = st.one_of(
    st.floats(),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: round(x, 2)),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-(10**6), max_value=10**9).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**12), 10**12),
    st.integers(0, 10**6).map(lambda n: f"{n}元"),
    st.integers(0, 10**9).map(lambda n: f"¥{n:,}.00"),
    st.sampled_from(["", " ", "一百元", "100.", ".5", "1e2", "100.00", "１００", "+5", "0.001", None, True]),
    st.text(max_size=12),
)


def _domain_amount(value):
    """The documented reading: an Excel number through its shortest repr, precision errors called invalid."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "amount_missing"
    try:
        return parse_amount(Decimal(repr(value)) if isinstance(value, float) else value)
    except DomainError as error:
        return "amount_invalid" if error.code in ("amount_precision", "amount_float") else error.code


equivalence_test = settings(deadline=None, max_examples=600)


@equivalence_test
@given(id_cells)
def test_the_fast_path_reads_any_id_cell_exactly_as_parse_citizen_id(cell):
    clean, issues = validator().validate(raw(id_number=cell))
    try:
        citizen = parse_citizen_id(cell, today=TODAY)
    except DomainError as error:
        assert clean is None
        assert [(i.code, str(i.message)) for i in issues] == [(error.code, str(error.message))]
    else:
        assert issues == []
        assert (clean.id_number, clean.birth_date, clean.sex) == (citizen.number, citizen.birth_date, citizen.sex)


@equivalence_test
@given(account_cells)
def test_the_fast_path_reads_any_account_cell_exactly_as_parse_bank_account(cell):
    clean, issues = validator().validate(raw(account=cell))
    try:
        account = parse_bank_account(cell)
    except DomainError as error:
        assert clean is None
        assert [(i.code, str(i.message)) for i in issues] == [(error.code, str(error.message))]
    else:
        assert clean.account == account.number
        assert [(i.code, str(i.message), i.warning) for i in issues] == [
            (w.code, str(w.message), True) for w in account.warnings
        ]


@equivalence_test
@given(amount_cells)
def test_the_fast_path_reads_any_amount_cell_exactly_as_parse_amount(cell):
    checker = validator()
    for _ in range(2):  # the second time from the cache
        clean, issues = checker.validate(raw(amount=cell))
        checker._first_row.clear()
        expected = _domain_amount(cell)
        if isinstance(expected, Decimal):
            assert issues == []
            assert clean.amount == expected and str(clean.amount) == str(expected)
        else:
            assert [i.code for i in issues] == [expected]


row_cells = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["张三", " 李 四 ", "", "欧阳娜"]), st.text(max_size=4)),
        "id_number": st.one_of(st.sampled_from([ERQI_MAN, ERQI_WOMAN, MIGRANT]), id_cells),
        "account": account_cells,
        "amount": amount_cells,
        "township": st.sampled_from(["马寨镇", "", "410103001", "410104001"]),
        "village": st.sampled_from(["王村", "", "410103001002", "410104001002"]),
    }
)


@equivalence_test
@given(
    st.lists(row_cells, min_size=1, max_size=6),
    st.sampled_from([None, Decimal("100"), Decimal("0.5")]),
    st.sampled_from([(None, None), (60, None), (None, 40)]),
    st.sampled_from([(), ("410103",), ("410103001",)]),
    st.sampled_from([None, {"410103"}]),
)
def test_whole_rows_come_out_the_same_from_the_fast_and_the_reference_path(rows, standard, ages, regions, known):
    bounds = {"standard_amount": standard, "min_age": ages[0], "max_age": ages[1], "regions": regions}
    fast = validator(known_regions=known, **bounds)
    reference = validator(known_regions=known, fast=False, **bounds)
    for number, cells in enumerate(rows + rows, start=4):  # twice: duplicates and warm caches
        assert rendered(fast.validate(raw(number, **cells))) == rendered(reference.validate(raw(number, **cells)))


def test_every_sequence_number_and_every_digit_in_every_place_gives_what_parse_citizen_id_gives():
    # The fast path's tables are small enough to check whole, with every check character, not only by sampling.
    first17s = [f"41010319500307{seq:03d}" for seq in range(1000)]
    first17s += [ERQI_MAN[:i] + digit + ERQI_MAN[i + 1 : 17] for i in range(17) for digit in "0123456789"]
    first17s += [f"{province:02d}0103" + "19500307123" for province in range(100)]
    births = ["18991231", "19000101", "19000229", "20000229", "20250229", "20260601", "20260602", "00000000"]
    first17s += [f"410103{born}123" for born in births]
    fast, reference = validator(min_age=60), validator(min_age=60, fast=False)
    for number, first17 in enumerate(first17s):
        for check in "0123456789X":
            cell = first17 + check
            assert rendered(fast.validate(raw(number, id_number=cell))) == rendered(
                reference.validate(raw(number, id_number=cell))
            ), cell


@pytest.mark.parametrize(
    "cell",
    ["0.001", "100.001", "100.", ".5", "1e2", "1E+2", "+5", "-0", "0.00", "007", "9" * 16, "9" * 15 + ".99",
     "100.10", "1,000", "1 000", "100元", "100 元", "¥100", "１００.５", "100\u3000", "nan", "Infinity"],
)  # fmt: skip
def test_tricky_amount_texts_come_out_the_same_from_the_fast_and_the_reference_path(cell):
    fast, reference = validator(), validator(fast=False)
    for number in (4, 5, 6):  # then from the cache
        values = {"id_number": make_id("410103", "19500307", f"{number:03d}"), "amount": cell}
        assert rendered(fast.validate(raw(number, **values))) == rendered(reference.validate(raw(number, **values)))


@pytest.mark.parametrize("days", [-1, 0, 1])
@pytest.mark.parametrize("bound", ["min_age", "max_age"])
def test_ages_around_a_birthday_come_out_the_same_from_the_fast_and_the_reference_path(days, bound):
    as_of = date(2026, 3, 1)
    for born in ("19560229", "19560301", "19560228", "20260301", "20260302"):
        cell = make_id("410103", born, "123")
        for day in (date(2026, 2, 28), as_of, date(2026, 3, 2)):
            limits = {bound: 70 + days}
            fast = validator(as_of=day, **limits)
            reference = validator(as_of=day, fast=False, **limits)
            assert rendered(fast.validate(raw(id_number=cell))) == rendered(reference.validate(raw(id_number=cell)))
