"""Administrative division codes (GB/T 2260, extended to 9-digit townships and 12-digit villages):
levels, parents, and the reference file that lists them."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from yikatong.domain._text import clean_text, is_ascii_digits
from yikatong.domain.errors import DomainError, Message

PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    "71": "台湾省",
    "81": "香港特别行政区",
    "82": "澳门特别行政区",
}


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


@dataclass(frozen=True)
class DivisionCode:
    code: str
    level: Level
    parent_code: str | None


def parse_division_code(raw: object) -> DivisionCode:
    """Read the level and the parent from the code alone; whether the unit exists is the reference table's business."""
    code = clean_text(raw) if isinstance(raw, str) else ""
    if len(code) not in (6, 9, 12) or not is_ascii_digits(code):
        raise DomainError("division_format", _("行政区划代码应为 6 位、9 位或 12 位数字。"))
    if code[:2] not in PROVINCES:
        raise DomainError("division_province", _("行政区划代码的前两位不是有效的省级代码。"))
    if len(code) == 12:
        return DivisionCode(code, Level.VILLAGE, code[:9])
    if len(code) == 9:
        return DivisionCode(code, Level.TOWNSHIP, code[:6])
    if code.endswith("0000"):
        return DivisionCode(code, Level.PROVINCE, None)
    if code.endswith("00"):
        return DivisionCode(code, Level.CITY, code[:2] + "0000")
    return DivisionCode(code, Level.COUNTY, code[:4] + "00")


class DivisionFileProblem(NamedTuple):
    line: int
    code: str
    message: Message


class DivisionFileError(DomainError):
    """A division file with bad lines; `errors` lists every one, so the file can be fixed in one pass."""

    def __init__(self, errors: Iterable[tuple[int, str, Message]]) -> None:
        self.errors = [DivisionFileProblem(*error) for error in errors]
        super().__init__(
            "division_file",
            format_lazy(_("行政区划文件有 {count} 行有误，未导入任何内容。"), count=len(self.errors)),
        )

    def __reduce__(self):
        return type(self), (self.errors,)


_HEADERS = (["code", "name"], ["code", "name", "parent_code"])


def read_division_file(stream: Iterable[str]) -> list[tuple[str, str, str | None]]:
    """Read a `code,name[,parent_code]` CSV; all rows or, on any bad line, `DivisionFileError` and nothing."""
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None or [cell.strip().lstrip("\ufeff").lower() for cell in header] not in _HEADERS:
        raise DivisionFileError([(1, "", _("表头应为 code,name（可选第三列 parent_code）。"))])
    width = len(header)

    problems: list[DivisionFileProblem] = []
    rows: list[tuple[int, DivisionCode, str]] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines, usually at the end of the file
        code_text = row[0].strip()
        try:
            division = parse_division_code(code_text)
        except DomainError as error:
            problems.append(DivisionFileProblem(line, code_text, error.message))
            continue
        name = row[1].strip() if len(row) > 1 else ""
        if division.code in first_line:
            message = format_lazy(_("代码重复，与第 {line} 行相同。"), line=first_line[division.code])
            problems.append(DivisionFileProblem(line, division.code, message))
            continue
        first_line[division.code] = line
        if len(row) > width:
            problems.append(DivisionFileProblem(line, division.code, _("列数多于表头。")))
        elif not name:
            problems.append(DivisionFileProblem(line, division.code, _("名称为空。")))
        else:
            rows.append((line, division, name))

    # Only the two levels below the county are checked: a county or city may be loaded without its parent.
    for line, division, _name in rows:
        if division.level in (Level.TOWNSHIP, Level.VILLAGE) and division.parent_code not in first_line:
            message = format_lazy(_("上级区划 {parent} 不在文件中。"), parent=division.parent_code)
            problems.append(DivisionFileProblem(line, division.code, message))

    if problems:
        raise DivisionFileError(sorted(problems, key=lambda problem: problem.line))
    return [(division.code, name, division.parent_code) for _line, division, name in rows]
