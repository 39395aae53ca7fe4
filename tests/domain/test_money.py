from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yikatong.domain import DomainError, fen_to_yuan, format_yuan, parse_amount, yuan_to_fen

from .strategies import property_test, to_full_width


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as caught:
        call(*args, **kwargs)
    return caught.value.code


two_places = st.decimals(min_value=Decimal("-9999999999.99"), max_value=Decimal("9999999999.99"), places=2)


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("100", "100.00"),
        (" 100.5 ", "100.50"),
        ("100元", "100.00"),
        ("￥1,000.00", "1000.00"),
        ("¥ 1,234,567.8", "1234567.80"),
        ("1，000.00", "1000.00"),
        ("１２３．４５", "123.45"),
        ("0.01", "0.01"),
        ("100.500", "100.50"),  # more digits, but still an exact fen
        (Decimal("99.9"), "99.90"),
        (Decimal("1E+2"), "100.00"),
        (250, "250.00"),
    ],
)
def test_it_reads_an_amount_exactly_to_the_fen(raw, amount):
    parsed = parse_amount(raw)
    assert parsed == Decimal(amount)
    assert str(parsed) == amount


@pytest.mark.parametrize("raw", [100.5, 0.1, float("nan"), float("inf")])
def test_it_rejects_a_float_because_money_is_never_float(raw):
    assert error_code(parse_amount, raw) == "amount_float"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "一百",
        "1,5",  # a comma that is not a thousands separator
        "1,0000.00",
        "1.2.3",
        "1e3",
        "NaN",
        "Infinity",
        "100 美元",
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("1E+40"),  # more digits than can be held exactly
        True,
        None,
        [100],
    ],
)
def test_it_rejects_text_that_is_not_an_amount(raw):
    assert error_code(parse_amount, raw) == "amount_invalid"


@pytest.mark.parametrize("raw", ["100.001", "0.005", Decimal("1.999")])
def test_it_rejects_an_amount_finer_than_a_fen(raw):
    assert error_code(parse_amount, raw) == "amount_precision"


@pytest.mark.parametrize("raw", ["0", "0.00", "-1", "-0.01", Decimal("-5"), 0])
def test_it_rejects_a_zero_or_negative_amount_by_default(raw):
    assert error_code(parse_amount, raw) == "amount_not_positive"


def test_it_accepts_zero_and_negative_amounts_when_asked_to():
    assert parse_amount("-12.3", positive=False) == Decimal("-12.30")
    assert str(parse_amount("-0", positive=False)) == "0.00"


def test_it_converts_between_yuan_and_fen():
    assert yuan_to_fen(Decimal("1234.56")) == 123456
    assert yuan_to_fen(Decimal("0.01")) == 1
    assert yuan_to_fen(7) == 700
    assert fen_to_yuan(123456) == Decimal("1234.56")
    assert str(fen_to_yuan(100)) == "1.00"
    assert str(fen_to_yuan(0)) == "0.00"


def test_yuan_to_fen_refuses_half_a_fen():
    assert error_code(yuan_to_fen, Decimal("0.005")) == "amount_precision"


@pytest.mark.parametrize("call", [yuan_to_fen, fen_to_yuan, format_yuan])
def test_the_conversions_refuse_floats(call):
    assert error_code(call, 1.0) == "amount_float"


@pytest.mark.parametrize("call", [yuan_to_fen, fen_to_yuan, format_yuan])
def test_the_conversions_refuse_what_is_not_a_number(call):
    assert error_code(call, "100") == "amount_invalid"
    assert error_code(call, True) == "amount_invalid"


def test_fen_to_yuan_takes_only_whole_fen():
    assert error_code(fen_to_yuan, Decimal("1.5")) == "amount_invalid"


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("1234.5"), "1,234.50"),
        (Decimal("0"), "0.00"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("999"), "999.00"),
        (Decimal("1000000"), "1,000,000.00"),
        (Decimal("-1234.56"), "-1,234.56"),
        (12, "12.00"),
    ],
)
def test_it_formats_yuan_with_thousands_separators_and_two_places(amount, text):
    assert format_yuan(amount) == text


def test_format_yuan_never_rounds_an_amount_finer_than_a_fen():
    assert error_code(format_yuan, Decimal("1.005")) == "amount_precision"
    assert error_code(format_yuan, Decimal("NaN")) == "amount_invalid"


@property_test
@given(two_places)
def test_formatted_amounts_parse_back_to_the_same_amount(amount):
    assert parse_amount(format_yuan(amount), positive=False) == amount
    assert parse_amount("￥" + to_full_width(format_yuan(amount)) + "元", positive=False) == amount


@property_test
@given(two_places)
def test_yuan_to_fen_and_back_is_exact(amount):
    fen = yuan_to_fen(amount)
    assert fen == int(amount * 100)
    assert fen_to_yuan(fen) == amount


@property_test
@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_fen_to_yuan_and_back_is_exact(fen):
    yuan = fen_to_yuan(fen)
    assert yuan.as_tuple().exponent == -2
    assert yuan_to_fen(yuan) == fen


@property_test
@given(two_places.filter(lambda amount: amount > 0))
def test_every_positive_two_place_amount_parses_as_itself(amount):
    assert parse_amount(amount) == amount
    assert parse_amount(str(amount)) == amount


@property_test
@given(st.floats(allow_nan=True, allow_infinity=True), st.booleans())
def test_any_float_is_rejected(value, positive):
    assert error_code(parse_amount, value, positive=positive) == "amount_float"


@property_test
@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=3).filter(lambda d: d != d.quantize(Decimal("0.01"))),
)
def test_any_amount_with_a_third_decimal_is_rejected_as_text_or_decimal(amount):
    assert error_code(parse_amount, amount, positive=False) == "amount_precision"
    assert error_code(parse_amount, str(amount), positive=False) == "amount_precision"
