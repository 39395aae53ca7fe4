"""Bank account and card numbers that payments are sent to: clean them, check their shape, flag a failed Luhn check."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from stdnum import luhn

from yikatong.domain._text import clean_text, is_ascii_digits, looks_like_number_rendering
from yikatong.domain.errors import DomainError, DomainWarning

MIN_LENGTH = 12
MAX_LENGTH = 30

# Hyphens and the dashes an input method may produce in their place, as people group card digits with them.
_DASHES = dict.fromkeys(map(ord, "-‐‑‒–—―−"), None)


@dataclass(frozen=True)
class BankAccount:
    number: str = field(repr=False)  # kept out of reprs so it does not reach logs and tracebacks
    luhn_valid: bool
    warnings: tuple[DomainWarning, ...] = ()


def normalize_account(raw: object) -> str:
    """The account as half-width text without spaces or hyphens. Not yet checked."""
    if raw is None:
        raise DomainError("account_missing", _("银行账号为空。"))
    if not isinstance(raw, str):
        raise _not_text()
    text = clean_text(raw).translate(_DASHES)
    if not text:
        raise DomainError("account_missing", _("银行账号为空。"))
    if looks_like_number_rendering(text):
        raise _not_text()
    return text


def parse_bank_account(raw: object) -> BankAccount:
    number = normalize_account(raw)
    if not is_ascii_digits(number) or not MIN_LENGTH <= len(number) <= MAX_LENGTH:
        raise DomainError("account_format", _("银行账号应为 12 至 30 位数字。"))
    if luhn.is_valid(number):
        return BankAccount(number=number, luhn_valid=True)
    # Card numbers carry a Luhn digit, but many passbook (存折) accounts do not: ask a person, do not refuse.
    warning = DomainWarning("account_checksum", _("银行账号未通过校验，如为存折账号可忽略，否则请核对。"))
    return BankAccount(number=number, luhn_valid=False, warnings=(warning,))


def _not_text() -> DomainError:
    return DomainError(
        "account_not_text",
        _("银行账号必须以文本形式填写：表格把它存成了数字，后几位已经丢失。请把该列设为“文本”格式后重新录入。"),
    )
