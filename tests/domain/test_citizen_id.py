from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from yikatong.domain import PROVINCES, CitizenId, DomainError, calc_check_char, normalize_id, parse_citizen_id

from .strategies import TODAY, check_char, make_id, noise, property_test, to_full_width, valid_ids

# 郑州市二七区, born 1990-03-07, sequence 123 (odd: male).
ERQI_MAN = make_id("410103", "19900307", "123")
ERQI_WOMAN = make_id("410103", "19900307", "124")


def parse(raw, **kwargs) -> CitizenId:
    return parse_citizen_id(raw, today=TODAY, **kwargs)


def error_code(raw, **kwargs) -> str:
    with pytest.raises(DomainError) as caught:
        parse(raw, **kwargs)
    return caught.value.code


# --- reading a valid number -------------------------------------------------------------------


def test_it_reads_birth_date_sex_and_region_from_a_valid_id():
    assert ERQI_MAN == "410103199003071237"
    citizen = parse(ERQI_MAN)
    assert citizen.number == "410103199003071237"
    assert citizen.birth_date == date(1990, 3, 7)
    assert citizen.sex == "M"
    assert citizen.region_code == "410103"
    assert citizen.province_code == "41"
    assert citizen.converted_from_15 is False
    assert citizen.warnings == ()


def test_an_even_seventeenth_digit_means_female():
    assert parse(ERQI_WOMAN).sex == "F"


def test_it_accepts_the_example_printed_in_the_standard():
    citizen = parse("11010519491231002X")
    assert (citizen.birth_date, citizen.sex, citizen.region_code) == (date(1949, 12, 31), "F", "110105")


def test_it_rejects_the_standards_other_example_as_born_before_1900():
    assert error_code("440524188001010014") == "id_birthdate"


def test_it_accepts_a_lower_case_x_as_check_character():
    assert parse("11010519491231002x").number == "11010519491231002X"


def test_it_accepts_a_county_code_that_stdnums_birthplace_table_thinks_too_new_for_the_birth_year():
    # Why ric.validate() is not used: 余杭区 (330110) dates from 2001, but a child born in 1990 whose first
    # ID was issued there later carries this code for life; stdnum rejects such numbers.
    number = make_id("330110", "19900307", "123")
    with pytest.raises(ValidationError):
        ric.validate(number)
    assert parse(number).region_code == "330110"


def test_it_accepts_a_person_born_today_and_one_born_on_the_first_day_of_1900():
    assert parse(make_id("410103", TODAY.strftime("%Y%m%d"), "001")).birth_date == TODAY
    assert parse(make_id("410103", "19000101", "001")).birth_date == date(1900, 1, 1)


def test_it_accepts_the_29th_of_february_in_a_leap_year():
    assert parse(make_id("410103", "20000229", "501")).birth_date == date(2000, 2, 29)


def test_without_today_it_uses_the_current_date_in_china():
    assert parse_citizen_id(ERQI_MAN).birth_date == date(1990, 3, 7)
    with pytest.raises(DomainError) as caught:
        parse_citizen_id(make_id("410103", "29991231", "001"))
    assert caught.value.code == "id_birthdate"


def test_the_full_number_stays_out_of_the_repr():
    assert "199003071237" not in repr(parse(ERQI_MAN))


# --- normalising ------------------------------------------------------------------------------


def test_it_normalises_full_width_digits_spaces_and_zero_width_characters():
    assert normalize_id(" ４１０１０３ 1990\u30000307\u200b123７\t") == ERQI_MAN
    assert normalize_id("１１０１０５１９４９１２３１００２ｘ") == "11010519491231002X"


def test_normalising_does_not_check_the_number():
    assert normalize_id("abc") == "ABC"


# --- legacy 15-digit numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("110105491231002", "11010519491231002X"),  # the standard's own example, before and after
        ("130503670401001", "130503196704010016"),
        ("410103900307123", "410103199003071237"),
    ],
)
def test_it_converts_a_15_digit_id_to_18_digits(old, new):
    citizen = parse(old)
    assert citizen.number == new
    assert citizen.converted_from_15 is True


def test_a_converted_id_is_the_same_person_as_the_18_digit_one():
    old, new = parse("410103900307123"), parse(ERQI_MAN)
    assert (old.number, old.birth_date, old.sex, old.region_code) == (
        new.number,
        new.birth_date,
        new.sex,
        new.region_code,
    )


def test_it_rejects_a_15_digit_id_with_an_impossible_date():
    assert error_code("410103900230123") == "id_birthdate"


def test_it_rejects_a_15_digit_id_with_an_unknown_province():
    assert error_code("990103900307123") == "id_region"


# --- every error code -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000\u200b"])
def test_it_rejects_a_missing_id(raw):
    assert error_code(raw) == "id_missing"


@pytest.mark.parametrize("raw", [4.10103199003071e17, 410103199003071237, 410103199003071200.0])
def test_it_rejects_an_id_that_excel_turned_into_a_number(raw):
    assert error_code(raw) == "id_not_text"


@pytest.mark.parametrize(
    "raw", ["4.10103199003071E+17", "4.10103199003071e17", "410103199003071000.0", "410103900307123.0"]
)
def test_it_rejects_an_id_that_excel_rendered_as_a_number(raw):
    assert error_code(raw) == "id_not_text"


def test_the_not_text_message_tells_the_clerk_what_to_do():
    with pytest.raises(DomainError) as caught:
        parse(4.10103199003071e17)
    assert "文本" in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        "41010319900307123",  # 17 characters
        "4101031990030712370",  # 19
        "4101031990030712",  # 16
        "X10103199003071237",  # X not last
        "4101031990030712X7",
        "41010319900307123Y",  # letter other than X
        "410103-19900307-1237",
        "41010390030712X",  # 15 characters never end in X
        "410103199O03071237",  # letter O for zero
        "٤١٠١٠٣١٩٩٠٠٣٠٧١٢٣٧",  # Arabic-Indic digits are digits, but not these ones
    ],
)
def test_it_rejects_an_id_of_the_wrong_shape(raw):
    assert error_code(raw) == "id_format"


def test_it_rejects_an_id_with_a_wrong_check_character():
    assert error_code("410103199003071238") == "id_checksum"
    assert error_code("41010319900307123X") == "id_checksum"


@pytest.mark.parametrize(
    "birth",
    [
        "19900230",  # no 30 February
        "19900001",  # no month 0
        "19901301",
        "19900100",
        "19000229",  # 1900 was not a leap year
        "18991231",  # before 1900
        "20260602",  # the day after TODAY
        "99991231",
    ],
)
def test_it_rejects_an_id_whose_birth_date_is_impossible(birth):
    assert error_code(make_id("410103", birth, "123")) == "id_birthdate"


@pytest.mark.parametrize(
    "province", ["00", "10", "16", "20", "24", "30", "38", "40", "47", "55", "66", "72", "83", "99"]
)
def test_it_rejects_an_id_whose_province_does_not_exist(province):
    assert error_code(make_id(province + "0103", "19900307", "123")) == "id_region"


def test_it_checks_the_checksum_before_the_region_and_the_date():
    assert error_code("990103199002301230") == "id_checksum"


def test_an_unknown_county_code_is_only_a_warning():
    citizen = parse(ERQI_MAN, known_regions={"410102", "410104"})
    assert citizen.number == ERQI_MAN
    assert [warning.code for warning in citizen.warnings] == ["id_region_unknown"]
    assert "核实" in str(citizen.warnings[0])


def test_a_known_county_code_gives_no_warning():
    assert parse(ERQI_MAN, known_regions={"410103"}).warnings == ()


# --- check character helper and age ------------------------------------------------------------


def test_calc_check_char_matches_the_standards_examples():
    assert calc_check_char("11010519491231002") == "X"
    assert calc_check_char("44052418800101001") == "4"


@pytest.mark.parametrize("first17", ["1101051949123100", "110105194912310021", "1101051949123100X", ""])
def test_calc_check_char_refuses_anything_but_17_digits(first17):
    with pytest.raises(DomainError) as caught:
        calc_check_char(first17)
    assert caught.value.code == "id_format"


@pytest.mark.parametrize(
    ("day", "age"),
    [
        (date(1990, 3, 7), 0),
        (date(2008, 3, 6), 17),
        (date(2008, 3, 7), 18),
        (date(2026, 6, 1), 36),
    ],
)
def test_age_counts_full_years(day, age):
    assert parse(ERQI_MAN).age_on(day) == age


def test_someone_born_on_29_february_turns_a_year_older_on_1_march_in_common_years():
    citizen = parse(make_id("410103", "20000229", "501"))
    assert citizen.age_on(date(2018, 2, 28)) == 17
    assert citizen.age_on(date(2018, 3, 1)) == 18
    assert citizen.age_on(date(2020, 2, 29)) == 20


def test_age_before_birth_is_an_error():
    with pytest.raises(DomainError) as caught:
        parse(ERQI_MAN).age_on(date(1990, 3, 6))
    assert caught.value.code == "age_before_birth"


# --- properties -------------------------------------------------------------------------------


@property_test
@given(valid_ids())
def test_every_valid_id_parses_and_round_trips(number):
    citizen = parse(number)
    assert citizen.number == number
    assert parse(citizen.number) == citizen
    assert citizen.birth_date.strftime("%Y%m%d") == number[6:14]
    assert citizen.sex == ("M" if int(number[16]) % 2 else "F")
    assert citizen.region_code == number[:6]
    assert citizen.province_code in PROVINCES


@property_test
@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_calc_check_char_agrees_with_the_weights_in_the_standard(first17):
    assert calc_check_char(first17) == check_char(first17)


@property_test
@given(valid_ids(), st.integers(min_value=0, max_value=17), st.sampled_from("0123456789X"))
def test_changing_any_one_character_of_a_valid_id_is_never_accepted(number, position, replacement):
    assume(number[position] != replacement)
    changed = number[:position] + replacement + number[position + 1 :]
    assert error_code(changed) in {"id_checksum", "id_format"}


@property_test
@given(valid_ids(), st.lists(st.booleans(), min_size=18, max_size=18), st.lists(noise, min_size=19, max_size=19))
def test_full_width_and_padded_variants_normalise_to_the_same_id(number, widen, gaps):
    typed = gaps[0] + "".join(
        (to_full_width(char) if wide else char) + gap for char, wide, gap in zip(number, widen, gaps[1:], strict=True)
    )
    assert normalize_id(typed) == number
    assert parse(typed.lower()).number == number


@property_test
@given(valid_ids())
def test_every_valid_id_is_rejected_once_excel_has_made_it_a_number(number):
    assume(not number.endswith("X"))
    as_float = float(number)
    assert error_code(as_float) == "id_not_text"
    assert error_code(repr(as_float)) == "id_not_text"
    assert error_code(f"{as_float:.14E}") == "id_not_text"


@property_test
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(1999, 12, 31)), st.integers(0, 999))
def test_every_15_digit_id_converts_to_the_18_digit_id_of_the_same_person(born, seq):
    old = "410103" + born.strftime("%y%m%d") + f"{seq:03d}"
    citizen = parse(old)
    assert citizen.number == make_id("410103", born.strftime("%Y%m%d"), f"{seq:03d}")
    assert citizen.birth_date == born
    assert citizen.converted_from_15
