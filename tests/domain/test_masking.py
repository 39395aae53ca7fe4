import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from yikatong.domain import DomainError, mask_account, mask_id, mask_name, mask_phone

from .strategies import make_id, property_test, valid_ids

ERQI_MAN = make_id("410103", "19900307", "123")


def error_code(call, raw) -> str:
    with pytest.raises(DomainError) as caught:
        call(raw)
    return caught.value.code


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张", "*"),
        ("张三", "张*"),
        ("张小三", "张*三"),
        ("欧阳娜娜", "欧**娜"),
        ("阿卜杜热合曼·买买提", "阿**提"),
        (" 张三 ", "张*"),
        ("张\u3000三", "张*"),  # a two-character name padded for alignment
    ],
)
def test_it_masks_a_name_keeping_at_most_two_characters(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("name", ["", "  ", "\u3000", None])
def test_it_refuses_to_mask_an_empty_name(name):
    assert error_code(mask_name, name) == "mask_name_empty"


cjk_names = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=20)


@property_test
@given(cjk_names)
def test_a_masked_name_never_shows_more_than_two_of_its_characters(name):
    masked = mask_name(name)
    shown = [char for char in masked if char != "*"]
    assert len(shown) <= 2
    assert len(shown) <= len(name) - 1
    assert "".join(shown) in {"", name[0], name[0] + name[-1]}
    assert masked[0] in {"*", name[0]}
    assert len(masked) <= 4


# --- ID numbers ---------------------------------------------------------------------------------


def test_it_masks_an_id_keeping_the_region_and_the_last_four():
    assert mask_id(ERQI_MAN) == "410103********1237"


def test_it_masks_a_raw_or_legacy_id_in_its_18_digit_form():
    assert mask_id(" ４１０１０３ 19900307 1237 ") == "410103********1237"
    assert mask_id("410103900307123") == "410103********1237"
    assert mask_id("11010519491231002x") == "110105********002X"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "id_missing"),
        (4.10103199003071e17, "id_not_text"),
        ("4101031990", "id_format"),
        ("410103199003071238", "id_checksum"),
        (make_id("410103", "19900230", "123"), "id_birthdate"),
        (make_id("990103", "19900307", "123"), "id_region"),
    ],
)
def test_it_refuses_to_mask_a_malformed_id_with_the_citizen_id_error(raw, code):
    assert error_code(mask_id, raw) == code


@property_test
@given(valid_ids())
def test_a_masked_id_keeps_exactly_the_first_six_and_last_four(number):
    masked = mask_id(number)
    assert len(masked) == 18
    assert masked[:6] == number[:6]
    assert masked[-4:] == number[-4:]
    assert masked[6:14] == "*" * 8
    assert sum(char != "*" for char in masked) == 10


# --- accounts -----------------------------------------------------------------------------------


def test_it_masks_an_account_keeping_the_last_four():
    assert mask_account("6228 4800 1234 5678 903") == "****8903"


def test_it_masks_an_account_that_fails_luhn_too():
    assert mask_account("6228480012345678904") == "****8904"


@pytest.mark.parametrize(
    ("raw", "code"),
    [(None, "account_missing"), (6.22848001234568e18, "account_not_text"), ("12345", "account_format")],
)
def test_it_refuses_to_mask_a_malformed_account_with_the_account_error(raw, code):
    assert error_code(mask_account, raw) == code


@property_test
@given(st.text(alphabet="0123456789", min_size=11, max_size=29))
def test_a_masked_account_shows_only_its_last_four_digits(body):
    number = body + luhn.calc_check_digit(body)
    assert mask_account(number) == "****" + number[-4:]


# --- phone numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("＋８６１３８１２３４５６７８", "138****5678"),
        ("0371-61234567", "037*******67"),
        ("(0371) 6123 4567", "037*******67"),
        ("010-12345678", "010******78"),
        ("6123456", "612**56"),
        ("03716123456", "037******56"),  # 11 digits that are not a mobile number
    ],
)
def test_it_masks_phone_numbers(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize("raw", ["", "123456", "1381234567890", "138abcd5678", "电话", None, 13812345678])
def test_it_rejects_what_is_not_a_phone_number(raw):
    assert error_code(mask_phone, raw) == "phone_format"


@property_test
@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_a_masked_mobile_number_hides_exactly_the_middle_four(rest):
    number = "1" + rest
    masked = mask_phone(number)
    assert masked == number[:3] + "****" + number[-4:]


@property_test
@given(st.text(alphabet="0123456789", min_size=7, max_size=12))
def test_a_masked_phone_number_never_shows_more_than_seven_digits(number):
    masked = mask_phone(number)
    assert len(masked) == len(number)
    assert sum(char != "*" for char in masked) <= 7
    assert sum(char != "*" for char in masked) <= len(number) - 2
