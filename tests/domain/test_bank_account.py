import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import luhn

from yikatong.domain import BankAccount, DomainError, normalize_account, parse_bank_account

from .strategies import noise, property_test, to_full_width

CARD = "6228480012345678903"  # 19 digits with a correct Luhn digit
PASSBOOK = "6228480012345678904"  # the same digits with a wrong one


def error_code(raw) -> str:
    with pytest.raises(DomainError) as caught:
        parse_bank_account(raw)
    return caught.value.code


def test_it_accepts_a_card_number_with_a_correct_luhn_digit():
    assert parse_bank_account(CARD) == BankAccount(number=CARD, luhn_valid=True, warnings=())


def test_a_failed_luhn_check_is_a_warning_not_an_error():
    account = parse_bank_account(PASSBOOK)
    assert account.number == PASSBOOK
    assert account.luhn_valid is False
    assert [warning.code for warning in account.warnings] == ["account_checksum"]
    assert "存折" in str(account.warnings[0])


def test_it_removes_spaces_hyphens_and_full_width_digits():
    assert normalize_account(" ６２２８ 4800-1234\u30005678－903 ") == CARD
    assert parse_bank_account("6228 4800 1234 5678 903").number == CARD


def test_the_full_number_stays_out_of_the_repr():
    assert CARD not in repr(parse_bank_account(CARD))


@pytest.mark.parametrize("raw", [None, "", "  ", "-\u3000-"])
def test_it_rejects_a_missing_account(raw):
    assert error_code(raw) == "account_missing"


@pytest.mark.parametrize("raw", [6.22848001234568e18, 6228480012345678903, "6.22848001234568E+18", "622848001234567.0"])
def test_it_rejects_an_account_that_excel_turned_into_a_number(raw):
    assert error_code(raw) == "account_not_text"


@pytest.mark.parametrize(
    "raw",
    [
        "12345678901",  # 11 digits: too short
        "1" * 31,  # too long
        "62284800123456789O3",  # letter O
        "6228480012345678.903",
        "No.6228480012345678903",
    ],
)
def test_it_rejects_an_account_of_the_wrong_shape(raw):
    assert error_code(raw) == "account_format"


@pytest.mark.parametrize("length", [12, 30])
def test_it_accepts_the_shortest_and_longest_account_lengths(length):
    assert len(parse_bank_account("6" * length).number) == length


@property_test
@given(st.text(alphabet="0123456789", min_size=11, max_size=29))
def test_every_number_with_a_luhn_digit_is_valid_and_without_warnings(body):
    number = body + luhn.calc_check_digit(body)
    account = parse_bank_account(number)
    assert (account.number, account.luhn_valid, account.warnings) == (number, True, ())


@property_test
@given(st.text(alphabet="0123456789", min_size=12, max_size=30))
def test_every_12_to_30_digit_number_is_accepted_and_luhn_decides_only_the_warning(number):
    account = parse_bank_account(number)
    assert account.number == number
    assert account.luhn_valid == luhn.is_valid(number)
    assert bool(account.warnings) != account.luhn_valid


@property_test
@given(
    st.text(alphabet="0123456789", min_size=12, max_size=30),
    st.data(),
)
def test_full_width_and_grouped_variants_normalise_to_the_same_account(number, data):
    typed = "".join(
        (to_full_width(char) if data.draw(st.booleans()) else char) + data.draw(st.sampled_from(["", "", "-", " "]))
        for char in number
    )
    assert normalize_account(data.draw(noise) + typed + data.draw(noise)) == number


@property_test
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers())
def test_any_number_type_is_rejected_as_not_text(value):
    assert error_code(value) == "account_not_text"
