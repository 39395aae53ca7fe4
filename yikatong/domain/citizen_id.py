"""Resident identity numbers (GB 11643): clean what people and spreadsheets typed, check it, and read
the birth date, sex and region it carries."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _
from stdnum.cn import ric

from yikatong.domain._text import clean_text, is_ascii_digits, looks_like_number_rendering
from yikatong.domain.divisions import PROVINCES
from yikatong.domain.errors import DomainError, DomainWarning

# Birth dates in ID numbers are Beijing dates; the server clock may well run on UTC.
_CHINA = ZoneInfo("Asia/Shanghai")
_EARLIEST_BIRTH = date(1900, 1, 1)
_CHECK_CHARS = frozenset("0123456789X")


@dataclass(frozen=True)
class CitizenId:
    number: str = field(repr=False)  # kept out of reprs so it does not reach logs and tracebacks
    birth_date: date
    sex: str  # "M" or "F"
    region_code: str
    province_code: str
    converted_from_15: bool = False
    warnings: tuple[DomainWarning, ...] = ()

    def age_on(self, day: date) -> int:
        """Age in full years (周岁) on `day`; someone born on 29 February turns a year older on 1 March."""
        if day < self.birth_date:
            raise DomainError("age_before_birth", _("所给日期早于出生日期。"))
        not_yet = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - not_yet


def normalize_id(raw: object) -> str:
    """The ID as text in its canonical form: half-width, no spaces, upper-case X. Not yet checked."""
    if raw is None:
        raise DomainError("id_missing", _("身份证号码为空。"))
    if not isinstance(raw, str):
        raise _not_text()
    text = clean_text(raw)
    if not text:
        raise DomainError("id_missing", _("身份证号码为空。"))
    if looks_like_number_rendering(text):
        raise _not_text()
    return text.upper()


def calc_check_char(first17: str) -> str:
    """The 18th character (0–9 or X) for the first 17 digits."""
    if len(first17) != 17 or not is_ascii_digits(first17):
        raise DomainError("id_format", _("计算校验位需要 17 位数字。"))
    # stdnum expects the whole number and ignores its last character, so any placeholder will do.
    return ric.calc_check_digit(first17 + "0")


def parse_citizen_id(
    raw: object,
    *,
    today: date | None = None,
    known_regions: Container[str] | None = None,
) -> CitizenId:
    """Check an 18-digit (or legacy 15-digit) ID number; a 15-digit one comes back converted to 18."""
    number = normalize_id(raw)
    converted = False
    if len(number) == 15 and is_ascii_digits(number):
        # The 15-digit form was issued only to people born in the 1900s and has no check character.
        first17 = number[:6] + "19" + number[6:]
        number = first17 + calc_check_char(first17)
        converted = True
    elif len(number) != 18 or not is_ascii_digits(number[:17]) or number[17] not in _CHECK_CHARS:
        raise DomainError("id_format", _("身份证号码应为 18 位（前 17 位为数字，末位为数字或 X），或旧式 15 位数字。"))
    elif number[17] != calc_check_char(number[:17]):
        raise DomainError("id_checksum", _("身份证号码校验位不符，可能有数字录入错误。"))

    if number[:2] not in PROVINCES:
        raise DomainError("id_region", _("身份证号码前两位不是有效的省级行政区划代码。"))
    birth_date = _birth_date(number, today=today or datetime.now(_CHINA).date())

    warnings: tuple[DomainWarning, ...] = ()
    # Only a warning: a number keeps the county code it was issued under, even after that county was merged away.
    if known_regions is not None and number[:6] not in known_regions:
        warnings = (
            DomainWarning(
                "id_region_unknown",
                _("身份证号码前六位的地区代码不在现行区划表中（可能是已撤并的旧县区代码），请核实。"),
            ),
        )
    return CitizenId(
        number=number,
        birth_date=birth_date,
        sex="M" if int(number[16]) % 2 else "F",
        region_code=number[:6],
        province_code=number[:2],
        converted_from_15=converted,
        warnings=warnings,
    )


def _birth_date(number: str, *, today: date) -> date:
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise DomainError("id_birthdate", _("身份证号码中的出生日期不是有效日期。")) from None
    if born > today:
        raise DomainError("id_birthdate", _("身份证号码中的出生日期晚于今天。"))
    if born < _EARLIEST_BIRTH:
        raise DomainError("id_birthdate", _("身份证号码中的出生日期早于 1900 年。"))
    return born


def _not_text() -> DomainError:
    return DomainError(
        "id_not_text",
        _("身份证号码必须以文本形式填写：表格把它存成了数字，后几位已经丢失。请把该列设为“文本”格式后重新录入。"),
    )
