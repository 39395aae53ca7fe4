"""The columns of each kind of reference file (death, household, public employees, rolls) and the check of one
row: the identity number as rosters check it, dates, division codes and statuses. Pure Python: no database."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from checks.enums import HouseholdStatus, SourceKind
from recipients.roster_file import HEADER_SYNONYMS, Column, RawRow, SheetLayout
from recipients.roster_rules import Issue
from yikatong.domain import PROVINCES, DomainError, parse_citizen_id
from yikatong.domain._text import clean_text

__all__ = ["LAYOUTS", "ROW_CODES", "TEXT_LIMITS", "CleanReference", "ReferenceRowValidator", "layout_for", "parse_date"]

# Every code a reference row can get (none is a warning yet: any of them rejects the whole file). Stable.
ROW_CODES: dict[str, bool] = {
    "id_missing": False,
    "id_format": False,
    "id_checksum": False,
    "id_birthdate": False,
    "id_not_text": False,
    "id_region": False,
    "name_missing": False,
    "date_missing": False,
    "date_invalid": False,
    "date_in_future": False,  # after the file's 数据截止日期 (as_of)
    "date_before_birth": False,  # a death before the birth date the ID carries
    "division_invalid": False,
    "status_invalid": False,
    "duplicate_id": False,
    "text_too_long": False,
}

# What `checks_referencerecord` keeps: longer text is the row's error, never a crash of the import.
TEXT_LIMITS = {"name": 64, "detail": 100}

_ID = HEADER_SYNONYMS["id_number"]
_NAME = ("姓名", "死者姓名", "逝者姓名", "人员姓名", "对象姓名")
_SEQ = ("序号",)
_REMARK = ("备注",)

LAYOUTS: dict[str, SheetLayout] = {
    SourceKind.DEATH: SheetLayout(
        synonyms={
            "id_number": _ID,
            "name": _NAME,
            "event_date": ("死亡日期", "火化日期", "死亡时间", "火化时间"),
            "seq": _SEQ,
            "remark": _REMARK,
        },
        labels={"id_number": "身份证号", "name": "姓名", "event_date": "死亡日期"},
        required=("id_number", "event_date"),
        noun="数据文件",
    ),
    SourceKind.HOUSEHOLD: SheetLayout(
        synonyms={
            "id_number": _ID,
            "name": _NAME,
            "division": ("户籍地区划代码", "区划代码", "户籍地址代码", "户籍区划代码", "行政区划代码"),
            "status": ("户籍状态", "状态", "人口状态"),
            "seq": _SEQ,
            "remark": _REMARK,
        },
        labels={"id_number": "身份证号", "name": "姓名", "division": "户籍地区划代码", "status": "户籍状态"},
        required=("id_number", "name"),
        noun="数据文件",
    ),
    SourceKind.PUBLIC_EMPLOYEE: SheetLayout(
        synonyms={
            "id_number": _ID,
            "name": _NAME,
            "detail": ("工作单位", "单位名称", "单位", "所在单位"),
            "seq": _SEQ,
            "remark": _REMARK,
        },
        labels={"id_number": "身份证号", "name": "姓名", "detail": "工作单位"},
        required=("id_number",),
        noun="数据文件",
    ),
    SourceKind.ROLL: SheetLayout(
        synonyms={
            "id_number": _ID,
            "name": _NAME,
            "event_date": ("纳入日期", "认定日期", "享受起始日期", "批准日期"),
            "detail": ("类别", "保障类别", "类型", "对象类别"),
            "seq": _SEQ,
            "remark": _REMARK,
        },
        labels={"id_number": "身份证号", "name": "姓名", "event_date": "纳入日期", "detail": "类别"},
        required=("id_number",),
        noun="数据文件",
    ),
}

# Kinds in which one person may stand only once (a death may be recorded twice: by 民政 and by the crematorium).
_UNIQUE_KINDS = frozenset({SourceKind.HOUSEHOLD, SourceKind.PUBLIC_EMPLOYEE})

_STATUS_WORDS: dict[str, str] = {
    "": HouseholdStatus.ACTIVE,
    "正常": HouseholdStatus.ACTIVE,
    "在册": HouseholdStatus.ACTIVE,
    "active": HouseholdStatus.ACTIVE,
    "迁出": HouseholdStatus.MOVED,
    "已迁出": HouseholdStatus.MOVED,
    "moved": HouseholdStatus.MOVED,
    "注销": HouseholdStatus.CANCELLED,
    "已注销": HouseholdStatus.CANCELLED,
    "cancelled": HouseholdStatus.CANCELLED,
    "canceled": HouseholdStatus.CANCELLED,
}

_CHINA = ZoneInfo("Asia/Shanghai")
_EARLIEST = date(1900, 1, 1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643
_CHECK_CHARS = "10X98765432"
# Positions 15–17 (the sequence number) → their share of the weighted sum.
_TAIL_SUMS = {f"{n:03d}": sum(int(d) * w for d, w in zip(f"{n:03d}", _WEIGHTS[14:], strict=True)) for n in range(1000)}
_CACHE_LIMIT = 1 << 18
_MISS = object()
# 2026-01-05, 2026/1/5, 2026.1.5, 2026年1月5日, each optionally followed by a time of day (死亡时间).
_DATE_PARTS = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ]?\d{1,2}[:时]\d{1,2}.*)?")
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})(?:\d{4,6})?")  # 20260105, or 20260105143000

_DATE_INVALID = _("日期格式不正确，应为 2026-01-05、2026/1/5、20260105 或 2026年1月5日。")


def layout_for(kind: str) -> SheetLayout:
    return LAYOUTS[kind]


class CleanReference(NamedTuple):
    row: int
    id_number: str  # 18 characters, upper-case X
    id_hash: str
    name: str
    event_date: date | None
    division: str
    status: str  # a HouseholdStatus for household files, else ""
    detail: str


def parse_date(value: object) -> date | DomainError | None:
    """A date from an Excel date cell or the ways people type one; None for an empty cell."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return DomainError("date_invalid", _DATE_INVALID)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        # 20260105 typed into a number cell. Excel's own serial numbers (46027) are not guessed at.
        value = str(value)
        if len(value) != 8:
            return DomainError("date_invalid", _DATE_INVALID)
    if not isinstance(value, str):
        return DomainError("date_invalid", _DATE_INVALID)
    text = clean_text(value)
    if not text:
        return None
    match = _DATE_PARTS.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
    if match is None:
        return DomainError("date_invalid", _DATE_INVALID)
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return DomainError("date_invalid", _("日期不存在（如 2 月 30 日）。"))
    if day < _EARLIEST:
        return DomainError("date_invalid", _("日期早于 1900 年。"))
    return day


class ReferenceRowValidator:
    """Checks the rows of one reference file in order, for one source kind and one 数据截止日期 (`as_of`).

    `hasher` is the registry's keyed hash of an ID number (`pii.keyed_hasher(purpose="id_number")`): rules join
    on equal hashes, and duplicates are found by it without keeping any ID number in memory.
    """

    def __init__(
        self,
        kind: str,
        columns: Mapping[str, Column],
        *,
        as_of: date,
        hasher: Callable[[str], str],
        today: date | None = None,
    ) -> None:
        self.kind = kind
        self.layout = LAYOUTS[kind]
        self.as_of = as_of
        self.today = today or max(as_of, datetime.now(_CHINA).date())
        self.hasher = hasher
        labels = self.layout.labels
        self._labels = {field: columns[field].header_text if field in columns else labels.get(field, field)
                        for field in self.layout.synonyms}  # fmt: skip
        self._wanted = frozenset(columns)
        self._date_required = "event_date" in self.layout.required
        self._name_required = "name" in self.layout.required
        self._unique = kind in _UNIQUE_KINDS
        # First 64 bits of the keyed hash → the row it was first seen on: ~100 bytes a person, no ID kept.
        self._first_row: dict[int, int] = {}
        self._heads: dict[str, tuple[int, date] | None] = {}

    def validate(self, raw: RawRow) -> tuple[CleanReference | None, list[Issue]]:
        """The clean row (None when the row has an error) and every issue found in it."""
        get = raw.values.get
        row = raw.row
        labels = self._labels
        issues: list[Issue] = []

        number, born = self._citizen(get("id_number", ""), row, issues)
        id_hash = ""
        if number is not None:
            id_hash = self.hasher(number)
            if self._unique:
                first = self._first_row.setdefault(int(id_hash[:16], 16), row)
                if first != row:
                    message = format_lazy(_("与第{row}行身份证号重复。"), row=first)
                    issues.append(Issue(row, labels["id_number"], "duplicate_id", message))

        name = _text(get("name", ""), squeeze=True)
        if not name and self._name_required:
            issues.append(Issue(row, labels["name"], "name_missing", _("姓名为空。")))
        elif len(name) > TEXT_LIMITS["name"]:
            issues.append(_too_long(row, labels["name"], TEXT_LIMITS["name"]))

        event_date = None
        if "event_date" in self._wanted:  # a required column is always there (else: columns_missing)
            event_date = self._date(get("event_date", ""), row, born, issues)

        division = ""
        if "division" in self._wanted:
            division = self._division(get("division", ""), row, issues)

        status = ""
        if self.kind == SourceKind.HOUSEHOLD:
            status = self._status(get("status", ""), row, issues)

        detail = ""
        if "detail" in self._wanted:
            detail = _text(get("detail", ""))
            if len(detail) > TEXT_LIMITS["detail"]:
                issues.append(_too_long(row, labels["detail"], TEXT_LIMITS["detail"]))

        if issues or number is None:
            return None, issues
        return CleanReference(row, number, id_hash, name, event_date, division, status, detail), issues

    # --- the parts of a row ---------------------------------------------------------------------------

    def _citizen(self, value: object, row: int, issues: list[Issue]) -> tuple[str | None, date | None]:
        # Fast path for the common shape (18 ASCII characters): a cached region + birth date prefix and the
        # check character; everything else goes through the domain parser, which names the exact problem.
        if value.__class__ is str and len(value) == 18 and value.isascii():
            head = self._heads.get(value[:14], _MISS)
            if head is _MISS:
                head = self._head(value[:14])
            tail = _TAIL_SUMS.get(value[14:17])
            if head is not None and tail is not None and _CHECK_CHARS[(head[0] + tail) % 11] == value[17]:
                return value, head[1]
        try:
            citizen = parse_citizen_id(value, today=self.today)
        except DomainError as error:
            issues.append(Issue(row, self._labels["id_number"], error.code, error.message))
            return None, None
        return citizen.number, citizen.birth_date

    def _head(self, head: str) -> tuple[int, date] | None:
        if len(self._heads) >= _CACHE_LIMIT:
            self._heads.clear()
        info = None
        if head.isdigit():
            try:
                born = date(int(head[6:10]), int(head[10:12]), int(head[12:14]))
            except ValueError:
                born = None
            if head[:2] in PROVINCES and born is not None and _EARLIEST <= born <= self.today:
                info = (sum(int(d) * w for d, w in zip(head, _WEIGHTS[:14], strict=True)), born)
        self._heads[head] = info
        return info

    def _date(self, value: object, row: int, born: date | None, issues: list[Issue]) -> date | None:
        label = self._labels["event_date"]
        day = parse_date(value)
        if day is None:
            if self._date_required:
                issues.append(Issue(row, label, "date_missing", format_lazy(_("{label}为空。"), label=label)))
            return None
        if isinstance(day, DomainError):
            issues.append(Issue(row, label, day.code, day.message))
            return None
        if day > self.as_of:
            message = format_lazy(
                _("日期 {day} 晚于数据截止日期 {as_of}。"), day=day.isoformat(), as_of=self.as_of.isoformat()
            )
            issues.append(Issue(row, label, "date_in_future", message))
            return None
        if self.kind == SourceKind.DEATH and born is not None and day < born:
            message = format_lazy(_("死亡日期 {day} 早于身份证号码中的出生日期。"), day=day.isoformat())
            issues.append(Issue(row, label, "date_before_birth", message))
            return None
        return day

    def _division(self, value: object, row: int, issues: list[Issue]) -> str:
        if value is None:
            return ""
        if value.__class__ is float and value.is_integer():
            value = int(value)
        if value.__class__ is int:
            value = str(value)
        text = clean_text(value) if isinstance(value, str) else None
        if text is None or (text and not (text.isascii() and text.isdigit() and len(text) in (6, 9, 12))):
            message = _("区划代码应为 6、9 或 12 位数字（县、乡镇、村）。")
            issues.append(Issue(row, self._labels["division"], "division_invalid", message))
            return ""
        return text

    def _status(self, value: object, row: int, issues: list[Issue]) -> str:
        if value is None:
            value = ""
        text = clean_text(value).lower() if isinstance(value, str) else None
        status = _STATUS_WORDS.get(text) if text is not None else None
        if status is None:
            message = _("户籍状态应为“正常”“迁出”或“注销”（留空视为正常）。")
            issues.append(Issue(row, self._labels["status"], "status_invalid", message))
            return ""
        return str(status)


def _too_long(row: int, column: str, limit: int) -> Issue:
    return Issue(row, column, "text_too_long", format_lazy(_("内容过长：最多 {n} 个字符。"), n=limit))


def _text(value: object, *, squeeze: bool = False) -> str:
    """Cell text, trimmed; `squeeze` also drops inner spaces (names padded to three characters)."""
    if value is None:
        return ""
    if value.__class__ is float and value.is_integer():
        return str(int(value))
    text = value if isinstance(value, str) else str(value)
    return "".join(text.split()) if squeeze else text.strip()
