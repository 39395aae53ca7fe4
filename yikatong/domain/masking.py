"""What the public may see of a person: names, ID, account and phone numbers with most characters starred."""

from __future__ import annotations

import re

from django.utils.translation import gettext_lazy as _

from yikatong.domain._text import clean_text, is_ascii_digits
from yikatong.domain.bank_account import parse_bank_account
from yikatong.domain.citizen_id import parse_citizen_id
from yikatong.domain.errors import DomainError

_PHONE_SEPARATORS = re.compile(r"[-()]")


def mask_name(name: object) -> str:
    """At most two real characters survive: 张* · 张*三 · 欧**娜."""
    # Inner whitespace goes too: two-character names are often padded to three with a full-width space.
    text = "".join(name.split()) if isinstance(name, str) else ""
    if not text:
        raise DomainError("mask_name_empty", _("姓名为空，无法脱敏。"))
    if len(text) == 1:
        return "*"
    if len(text) == 2:
        return text[0] + "*"
    if len(text) == 3:
        return text[0] + "*" + text[2]
    return text[0] + "**" + text[-1]


def mask_id(number: object) -> str:
    """Region (6) and last 4 kept, birth date and sequence hidden; a malformed ID raises its citizen-id error."""
    full = parse_citizen_id(number).number
    return full[:6] + "*" * 8 + full[-4:]


def mask_account(number: object) -> str:
    """Only the last 4 digits, as on a bank slip; a malformed account raises its bank-account error."""
    return "****" + parse_bank_account(number).number[-4:]


def mask_phone(raw: object) -> str:
    """Mobile 138****5678; a landline keeps its first 3 and last 2 digits."""
    digits = _PHONE_SEPARATORS.sub("", clean_text(raw)) if isinstance(raw, str) else ""
    digits = digits.removeprefix("+86")
    if not is_ascii_digits(digits):
        raise DomainError("phone_format", _("电话号码格式不正确。"))
    if len(digits) == 11 and digits.startswith("1"):
        return digits[:3] + "****" + digits[-4:]
    if 7 <= len(digits) <= 12:
        return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]
    raise DomainError("phone_format", _("电话号码格式不正确。"))
