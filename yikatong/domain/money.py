"""Money as `Decimal` yuan with two places or `int` fen — never float — and the one way to read and write it."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

from yikatong.domain._text import clean_text
from yikatong.domain.errors import DomainError

_FEN = Decimal("0.01")
_PLAIN = re.compile(r"[+-]?\d+(\.\d+)?")
# Commas only as thousands separators: "1,5" is a typo (or a European decimal), not fifteen yuan.
_GROUPED = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")


def parse_amount(raw: object, *, positive: bool = True) -> Decimal:
    """An amount in yuan from a Decimal, an int or text such as "￥1,000.00" or "100元"; exact to the fen."""
    if isinstance(raw, float):
        raise _float_error()
    if isinstance(raw, bool):
        raise _invalid()
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        value = _parse_text(raw)
    else:
        raise _invalid()
    amount = _to_fen_places(value)
    if positive and amount <= 0:
        raise DomainError("amount_not_positive", _("金额必须大于零。"))
    return amount


def yuan_to_fen(amount: Decimal | int) -> int:
    value = _exact(amount)
    fen = value.scaleb(2)
    if fen != fen.to_integral_value():
        raise _precision_error()
    return int(fen)


def fen_to_yuan(fen: int) -> Decimal:
    if isinstance(fen, float):
        raise _float_error()
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise _invalid()
    return Decimal(fen).scaleb(-2)


def format_yuan(amount: Decimal | int) -> str:
    """ "1,234.50"; an amount finer than a fen is an error, never rounded away."""
    return f"{_to_fen_places(_exact(amount)):,.2f}"


def _parse_text(raw: str) -> Decimal:
    text = clean_text(raw)  # full-width digits and commas become ASCII, ￥ becomes ¥
    text = text.removeprefix("¥").removesuffix("元")
    if not (_PLAIN.fullmatch(text) or _GROUPED.fullmatch(text)):
        raise _invalid()
    return Decimal(text.replace(",", ""))


def _exact(amount: object) -> Decimal:
    if isinstance(amount, float):
        raise _float_error()
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise _invalid()
    value = Decimal(amount)
    if not value.is_finite():
        raise _invalid()
    return value


def _to_fen_places(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise _invalid()
    try:
        amount = value.quantize(_FEN)
    except InvalidOperation:  # more digits than Decimal's working precision: no real amount is that large
        raise _invalid() from None
    if amount != value:
        raise _precision_error()
    return amount.copy_abs() if amount == 0 else amount  # no "-0.00"


def _float_error() -> DomainError:
    return DomainError(
        "amount_float", _("金额不能是浮点数：请传入文本或 Decimal（读取表格时用单元格的文本或 Decimal(str(x)))。")
    )


def _invalid() -> DomainError:
    return DomainError("amount_invalid", _("金额格式不正确。"))


def _precision_error() -> DomainError:
    return DomainError("amount_precision", _("金额最多保留两位小数（精确到分）。"))
