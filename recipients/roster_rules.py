"""Check each roster row — ID, name, account, amount, the policy's bounds, the same person twice — fast enough
for a million rows: a table-driven fast path for the common shape of a good row, the domain parsers for
everything else, with identical results (tests/recipients/test_roster_rules.py proves it)."""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from recipients.roster_file import FIELD_LABELS, Column, RawRow
from yikatong.domain import (
    PROVINCES,
    DomainError,
    DomainWarning,
    Message,
    calc_check_char,
    parse_amount,
    parse_citizen_id,
)
from yikatong.domain._text import clean_text
from yikatong.domain.bank_account import MAX_LENGTH as _ACCOUNT_MAX
from yikatong.domain.bank_account import MIN_LENGTH as _ACCOUNT_MIN
from yikatong.domain.bank_account import parse_bank_account

__all__ = ["ROW_CODES", "CleanRow", "Issue", "PolicyBounds", "RowValidator"]

# Every code a row can get, and whether it is only a warning (the row is still accepted). Stable: the error
# report, the API and the clerk's help page use them.
ROW_CODES: dict[str, bool] = {
    "id_missing": False,
    "id_format": False,
    "id_checksum": False,
    "id_birthdate": False,
    "id_not_text": False,  # a number cell: Excel kept 15 significant digits, the rest are gone
    "id_region": False,  # the first two digits are no province
    "id_region_unknown": True,  # county code not in `known_regions` (old, merged-away codes stay valid for life)
    "name_missing": False,
    "account_missing": False,
    "account_format": False,
    "account_not_text": False,
    "account_checksum": True,  # fails Luhn: a passbook (存折) number may, a card number may not
    "amount_missing": False,
    "amount_invalid": False,  # not a number, "一百元", more than 2 decimals, 12.345 from a float cell
    "amount_not_positive": False,
    "amount_over_standard": False,
    "quantity_invalid": False,  # a warning when the policy is not paid per unit
    "duplicate_in_file": False,
    "not_eligible": False,  # age outside the bounds, or a division code in 乡镇/村 outside the regions
    # `not_eligible` is a warning, not an error, when only the ID's county code is outside the regions:
    # the number keeps the county of its issue for life, so a resident who moved in carries another one.
}

_CHINA = ZoneInfo("Asia/Shanghai")
_EARLIEST_BIRTH = date(1900, 1, 1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643: 2^(17-i) mod 11
_CHECK_CHARS = "10X98765432"
# Positions 15–17 of an ID (the sequence number) → their share of the weighted sum; the share of the region and
# birth date (1–14) is cached per value, so a good ID costs two slices and two look-ups.
_TAIL_SUMS = {f"{n:03d}": sum(int(d) * w for d, w in zip(f"{n:03d}", _WEIGHTS[14:], strict=True)) for n in range(1000)}
_ODD_DIGITS = frozenset("13579")
# Luhn: the doubled digit's digit sum, as an ASCII digit, so that sum(bytes) does the adding in C.
_LUHN_DOUBLE = bytes.maketrans(b"0123456789", b"0246813579")
_PLAIN_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,2})?")
_QUANTITY = re.compile(r"(\d+(?:\.\d+)?)[^\d.]*")
_FEN = Decimal("0.01")
_CACHE_LIMIT = 1 << 18  # entries per cache: a hostile file can only make it forget, never grow without end
_MISS = object()

_DUPLICATE = _("与第{row}行身份证号重复。")
_NAME_MISSING = _("姓名为空。")
_OVER_STANDARD = _("发放金额 {amount} 元超过政策标准 {limit} 元。")
_OVER_UNIT_STANDARD = _("发放金额 {amount} 元超过政策标准（每单位 {standard} 元 × {quantity} = {limit} 元）。")


@dataclass(frozen=True)
class PolicyBounds:
    """What a policy allows: its standard (per person, or per unit of `quantity` when `per_unit`), the age
    range on `as_of` (today when None), and the division codes (6, 9 or 12 digits) its recipients live in."""

    standard_amount: Decimal | None = None
    per_unit: bool = False
    min_age: int | None = None
    max_age: int | None = None
    regions: tuple[str, ...] = ()
    as_of: date | None = None


class Issue(NamedTuple):
    row: int  # 1-based sheet row
    column: str  # the header text as written in the clerk's file
    code: str  # one of ROW_CODES
    message: Message  # Chinese, lazy: rendered in the language of whoever reads it
    warning: bool = False


class CleanRow(NamedTuple):
    row: int
    id_number: str  # 18 characters, upper-case X
    name: str
    sex: str  # "M" or "F"
    birth_date: date
    account: str  # ASCII digits
    amount: Decimal  # yuan, 2 places
    bank: str
    holder_name: str
    phone: str
    township: str
    village: str
    quantity: Decimal | None


# (number, birth date, sex "M"/"F", age on the bounds' as_of or None when born after it, warnings):
# a plain tuple, as the fast path makes one per row.
_Citizen = tuple[str, date, str, int | None, tuple[DomainWarning, ...]]


class RowValidator:
    """Validates the rows of one file in order; remembers each ID's first row to report later copies.

    `fast=False` sends every value through the domain parsers (the reference the fast path is tested against).
    """

    def __init__(
        self,
        columns: Mapping[str, Column],
        bounds: PolicyBounds,
        *,
        today: date | None = None,
        known_regions: Container[str] | None = None,
        fast: bool = True,
    ) -> None:
        self.bounds = bounds
        self.today = today or datetime.now(_CHINA).date()
        self.as_of = bounds.as_of or self.today
        self.known_regions = known_regions
        self.fast = fast
        self._labels = {
            field: columns[field].header_text if field in columns else label for field, label in FIELD_LABELS.items()
        }
        self._first_row: dict[str, int] = {}
        # Caches for the ID fast path: a county's roster has a few region codes and at most ~46,000 birth dates;
        # their pairs (the first 14 characters) are what a row looks up, built from the two on a miss.
        self._head_info: dict[str, tuple | None] = {}
        self._region_info: dict[str, tuple | None] = {}
        self._birth_info: dict[str, tuple | None] = {}
        self._luhn_warning: DomainWarning | None = None  # the domain's own, kept from its first use
        self._float_amounts: dict[float, Decimal | DomainError] = {}
        self._text_amounts: dict[str, Decimal | DomainError] = {}
        self._check_age = bounds.min_age is not None or bounds.max_age is not None
        self._regions = tuple(bounds.regions)
        self._region_counties = tuple({region[:6] for region in bounds.regions})
        self._eligibility_wanted = self._check_age or bool(self._regions)
        self._quantity_wanted = "quantity" in columns or (bounds.per_unit and bounds.standard_amount is not None)
        self._flat_standard = None if bounds.per_unit else bounds.standard_amount

    # --- one row ---------------------------------------------------------------------------------------

    def validate(self, raw: RawRow) -> tuple[CleanRow | None, list[Issue]]:
        """The clean row (None when the row has an error) and every issue found in it."""
        # One function with the fast paths written inline: at 10^6 rows every call and tuple counts.
        get = raw.values.get
        row = raw.row
        labels = self._labels
        fast = self.fast
        issues: list[Issue] = []

        # ID: 18 ASCII characters, a cached region + birth date prefix, table-driven check character.
        value = get("id_number", "")
        citizen = None
        if fast and value.__class__ is str and len(value) == 18 and value.isascii():
            head = self._head_info.get(value[:14], _MISS)
            if head is _MISS:
                head = self._head(value[:14])
            if head is not None:
                tail = _TAIL_SUMS.get(value[14:17])
                if tail is not None and _CHECK_CHARS[(head[0] + tail) % 11] == value[17]:
                    citizen = (value, head[1], "M" if value[16] in _ODD_DIGITS else "F", head[2], head[3])
        if citizen is None:
            citizen = self._citizen_slow(value)
        if citizen.__class__ is not tuple:
            issues.append(Issue(row, labels["id_number"], citizen.code, citizen.message))
            citizen = None
        else:
            for warning in citizen[4]:
                issues.append(Issue(row, labels["id_number"], warning.code, warning.message, True))
            first = self._first_row.setdefault(citizen[0], row)
            if first != row:
                message = format_lazy(_DUPLICATE, row=first)
                issues.append(Issue(row, labels["id_number"], "duplicate_in_file", message))

        value = get("name", "")
        # Inner spaces go too: two-character names are often padded to three with a full-width space.
        name = (value if value.isalpha() else "".join(value.split())) if value.__class__ is str else _text(value)
        if not name:
            issues.append(Issue(row, labels["name"], "name_missing", _NAME_MISSING))

        # Account: ASCII digits of a valid length passing Luhn, summed in C over the bytes.
        value = get("account", "")
        account = None
        if (
            fast
            and value.__class__ is str
            and value.isascii()
            and value.isdigit()
            and _ACCOUNT_MIN <= len(value) <= _ACCOUNT_MAX
        ):
            digits = value.encode()
            luhn = sum(digits[-1::-2]) + sum(digits[-2::-2].translate(_LUHN_DOUBLE)) - 48 * len(digits)
            if luhn % 10 == 0:
                account = value
            elif self._luhn_warning is not None:  # a passbook number (2 % of rows): the warning is always the same
                account = value
                warning = self._luhn_warning
                issues.append(Issue(row, labels["account"], warning.code, warning.message, True))
        if account is None:
            try:
                parsed = parse_bank_account(value)
            except DomainError as error:
                issues.append(Issue(row, labels["account"], error.code, error.message))
            else:
                account = parsed.number
                for warning in parsed.warnings:
                    issues.append(Issue(row, labels["account"], warning.code, warning.message, True))
                    if warning.code == "account_checksum":
                        self._luhn_warning = warning

        # Amount: the same few values again and again (the standard): cached per cell value and type.
        value = get("amount", "")
        cls = value.__class__
        amount = None
        if fast:
            if cls is float:
                amount = self._float_amounts.get(value)
            elif cls is str:
                amount = self._text_amounts.get(value)
        if amount is None:
            amount = self._amount_miss(value)
        if amount.__class__ is not Decimal:
            issues.append(Issue(row, labels["amount"], amount.code, amount.message))
            amount = None

        quantity = None
        if self._quantity_wanted:
            quantity = self._quantity(row, get("quantity", ""), issues)
        standard = self._flat_standard
        if amount is not None:
            if standard is not None:
                if amount > standard:
                    message = format_lazy(_OVER_STANDARD, amount=amount, limit=standard)
                    issues.append(Issue(row, labels["amount"], "amount_over_standard", message))
            elif self.bounds.per_unit and self.bounds.standard_amount is not None:
                self._check_per_unit(row, amount, quantity, issues)
        if citizen is not None and self._eligibility_wanted:
            self._check_eligible(row, citizen, get, issues)

        if issues:
            for issue in issues:
                if not issue.warning:
                    return None, issues
        bank = get("bank", "")
        township = get("township", "")
        village = get("village", "")
        holder = get("holder_name", "")
        phone = get("phone", "")
        return (
            CleanRow(
                row,
                citizen[0],
                name,
                citizen[2],
                citizen[1],
                account,
                amount,
                bank.strip() if bank.__class__ is str else _text(bank),
                "".join(holder.split()) if holder.__class__ is str else _text(holder),
                (clean_text(phone).replace("-", "") if phone else "") if phone.__class__ is str else _text(phone),
                township.strip() if township.__class__ is str else _text(township),
                village.strip() if village.__class__ is str else _text(village),
                quantity,
            ),
            issues,
        )

    # --- the slow paths and the caches behind the fast ones ---------------------------------------------

    def _head(self, head: str) -> tuple | None:
        """(weighted sum, birth date, age, warnings) for a valid region + birth date prefix, else None."""
        region = self._region_info.get(head[:6], _MISS)
        if region is _MISS:
            region = self._region(head[:6])
        born = self._birth_info.get(head[6:], _MISS)
        if born is _MISS:
            born = self._birth(head[6:])
        info = None if region is None or born is None else (region[0] + born[0], born[1], born[2], region[1])
        if len(self._head_info) >= _CACHE_LIMIT:
            self._head_info.clear()
        self._head_info[head] = info
        return info

    def _region(self, code: str) -> tuple[int, tuple[DomainWarning, ...]] | None:
        """(weighted sum of the 6 digits, warnings) for a region code with a valid province, else None."""
        if len(self._region_info) >= _CACHE_LIMIT:
            self._region_info.clear()
        info = None
        if code.isdigit() and code[:2] in PROVINCES:
            partial = sum(int(d) * w for d, w in zip(code, _WEIGHTS[:6], strict=True))
            warnings: tuple[DomainWarning, ...] = ()
            if self.known_regions is not None and code not in self.known_regions:
                # Take the warning from the domain itself, so both paths say exactly the same.
                first17 = code + "19700101000"
                sample = first17 + calc_check_char(first17)
                warnings = parse_citizen_id(sample, today=self.today, known_regions=self.known_regions).warnings
            info = (partial, warnings)
        self._region_info[code] = info
        return info

    def _birth(self, digits: str) -> tuple[int, date, int | None] | None:
        """(weighted sum of the 8 digits, birth date, age on as_of) for a valid YYYYMMDD, else None."""
        if len(self._birth_info) >= _CACHE_LIMIT:
            self._birth_info.clear()
        info = None
        if digits.isdigit():
            try:
                born = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            except ValueError:
                born = None
            if born is not None and _EARLIEST_BIRTH <= born <= self.today:
                partial = sum(int(d) * w for d, w in zip(digits, _WEIGHTS[6:14], strict=True))
                info = (partial, born, _age(born, self.as_of))
        self._birth_info[digits] = info
        return info

    def _citizen_slow(self, value: object) -> _Citizen | DomainError:
        try:
            citizen = parse_citizen_id(value, today=self.today, known_regions=self.known_regions)
        except DomainError as error:
            return error
        # The domain's own age rule, so the fast path's `_age` is checked against something independent.
        age = citizen.age_on(self.as_of) if self.as_of >= citizen.birth_date else None
        return (citizen.number, citizen.birth_date, citizen.sex, age, citizen.warnings)

    # --- account and amount ----------------------------------------------------------------------------

    def _amount_miss(self, value: object) -> Decimal | DomainError:
        cls = value.__class__
        result = _amount_plain(value) if self.fast and cls is str else None
        if result is None:
            result = _amount_slow(value)
        if self.fast and cls in (float, str):
            cache = self._float_amounts if cls is float else self._text_amounts
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[value] = result
        return result

    def _quantity(self, row: int, value: object, issues: list[Issue]) -> Decimal | None:
        quantity = _quantity(value)
        if quantity.__class__ is Decimal:
            return quantity
        # Only a policy paid per unit (per mu, per month) needs the quantity; for others it is information.
        if self.bounds.per_unit:
            issues.append(Issue(row, self._labels["quantity"], "quantity_invalid", quantity.message))
        elif quantity.code != "quantity_missing":
            issues.append(Issue(row, self._labels["quantity"], "quantity_invalid", quantity.message, True))
        return None

    # --- the policy's bounds ---------------------------------------------------------------------------

    def _check_per_unit(self, row: int, amount: Decimal, quantity: Decimal | None, issues: list[Issue]) -> None:
        if quantity is None:
            return  # already reported as quantity_invalid
        standard = self.bounds.standard_amount
        limit = standard * quantity  # exact: a limit rounded up would let a fen too much through
        if amount > limit:
            shown = limit.quantize(_FEN) if limit == limit.quantize(_FEN) else limit
            message = format_lazy(_OVER_UNIT_STANDARD, amount=amount, standard=standard, quantity=quantity, limit=shown)
            issues.append(Issue(row, self._labels["amount"], "amount_over_standard", message))

    def _check_eligible(self, row: int, citizen: _Citizen, get: Callable, issues: list[Issue]) -> None:
        bounds = self.bounds
        label = self._labels["id_number"]
        if self._check_age:
            age = citizen[3]
            if (
                age is None
                or (bounds.min_age is not None and age < bounds.min_age)
                or (bounds.max_age is not None and age > bounds.max_age)
            ):
                if bounds.max_age is None:
                    allowed = format_lazy(_("{low} 周岁及以上"), low=bounds.min_age)
                elif bounds.min_age is None:
                    allowed = format_lazy(_("{high} 周岁及以下"), high=bounds.max_age)
                else:
                    allowed = format_lazy(_("{low}–{high} 周岁"), low=bounds.min_age, high=bounds.max_age)
                if age is None:
                    message = format_lazy(
                        _("{day} 时尚未出生，不符合政策规定的年龄（{allowed}）。"), day=self.as_of, allowed=allowed
                    )
                else:
                    message = format_lazy(
                        _("按 {day} 计算年龄为 {age} 周岁，不符合政策规定的年龄（{allowed}）。"),
                        day=self.as_of,
                        age=age,
                        allowed=allowed,
                    )
                issues.append(Issue(row, label, "not_eligible", message))
        if not self._regions:
            return
        # A division code typed in 乡镇/村 says where the person lives: it must be inside the policy's regions.
        for field in ("village", "township"):
            code = get(field, "")
            if code.__class__ is str and len(code) in (9, 12) and code.isascii() and code.isdigit():
                if not code.startswith(self._regions):
                    message = format_lazy(_("行政区划代码 {code} 不在本政策的发放区域内。"), code=code)
                    issues.append(Issue(row, self._labels[field], "not_eligible", message))
                return
        # Without one, only the ID's county code is known, and a resident who moved in carries another: a warning.
        if not citizen[0].startswith(self._region_counties):
            message = _("身份证号码的地区代码不在本政策的发放区域内，请核实是否为本地户籍或常住人口。")
            issues.append(Issue(row, label, "not_eligible", message, True))


def _age(born: date, day: date) -> int | None:
    if day < born:
        return None
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def _amount_plain(text: str) -> Decimal | None:
    """ "100", "100.5", "100.50": the exact value, without NFKC and regexes for 元 and ¥; None otherwise."""
    if text.isascii() and _PLAIN_AMOUNT.fullmatch(text):
        amount = Decimal(text).quantize(_FEN)
        if amount > 0:
            return amount
    return None


def _amount_slow(value: object) -> Decimal | DomainError:
    """The domain's `parse_amount`, after turning an Excel number into its exact shortest decimal:
    0.1 → 0.10 and 100.0 → 100.00, while 12.345 stays 12.345 and is refused (precision)."""
    if value is None or (value.__class__ is str and not value.strip()):
        return DomainError("amount_missing", _("发放金额为空。"))
    try:
        if isinstance(value, float):
            value = Decimal(repr(value))
        return parse_amount(value)
    except DomainError as error:
        if error.code in ("amount_precision", "amount_float"):
            return DomainError("amount_invalid", error.message)
        return error


def _quantity(value: object) -> Decimal | DomainError:
    if value is None or (value.__class__ is str and not value.strip()):
        return DomainError("quantity_missing", _("按数量计发的政策需要填写数量（如面积、月数）。"))
    try:
        if isinstance(value, float):
            quantity = Decimal(repr(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            quantity = Decimal(value)
        elif isinstance(value, str) and (match := _QUANTITY.fullmatch(clean_text(value))):
            quantity = Decimal(match.group(1))  # "3.5亩", "12个月"
        else:
            raise InvalidOperation
    except InvalidOperation:
        return DomainError("quantity_invalid", _("数量格式不正确，应为数字（如 3.5 或 3.5亩）。"))
    if not quantity.is_finite() or quantity <= 0:
        return DomainError("quantity_invalid", _("数量必须大于零。"))
    return quantity


def _text(value: object) -> str:
    if value is None:
        return ""
    if value.__class__ is float and value.is_integer():
        return str(int(value))
    return str(value).strip()
