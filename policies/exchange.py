"""The policy list as a spreadsheet: its columns (a django-import-export resource), the export every
download uses, and ``policy_list_import``, the all-or-nothing import into a draft list.

The import is our own row loop around the resource, not import-export's ``import_data``: every cell is
cleaned by the resource's widgets (so import reads exactly what export writes), every problem is kept as
(row, column, code, message), and rows are written through the policy services' own helpers
(``_create_entry`` / ``_apply_values``) inside one transaction that is rolled back whole when any row is
bad. The file layout is documented in ``docs/policy-list-format.md``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

import python_calamine
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, TextChoices
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from audit.enums import AuditAction
from audit.services import audit_record
from org.models import Department
from policies.enums import Beneficiary, Frequency, PolicyLevel, PolicyStatus, StandardKind
from policies.fields import ENTRY_FIELDS, entry_snapshot
from policies.models import Policy, PolicyEntry, PolicyList
from policies.services import _apply_values, _create_entry, _lock_list, _require, _require_draft
from yikatong.domain.errors import DomainError
from yikatong.domain.money import parse_amount
from yikatong.spreadsheet import FORMULA_START, escape_formula

EXPORT_FORMATS = ("xlsx", "csv")
MAX_ROWS = 5000  # a county list has 50–150 policies; anything far larger is the wrong file
_HEADER_SEARCH_ROWS = 20  # how far down a title block may push the header row


# --- Cells -------------------------------------------------------------------------------------


def _unescape_formula(text: str) -> str:
    # What escape_formula added comes off again on import, so an exported file re-imports unchanged.
    # ("\n" too: XML hands a carriage return in an xlsx cell back as a line feed.)
    return text[1:] if text.startswith("'") and text[1:].startswith((*FORMULA_START, "\n")) else text


def _number_text(value: float) -> str:
    # A number cell as Excel shows it (15 significant digits), never the binary float behind it:
    # 0.1 stays "0.1" and a sum like 0.1+0.2 reads "0.3".
    return format(value, ".15g")


def _cell_text(value: Any) -> str:
    """Any cell as the text a person sees in it, trimmed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return _unescape_formula(str(value).strip())


def _key(text: str) -> str:
    """For matching choices and names: full-width to half-width, no spaces, case-insensitive."""
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _is_blank(value: Any) -> bool:
    return _cell_text(value) == ""


def _decimal(value: Any) -> Decimal | None:
    """A number from a cell: a float via its Excel text (never Decimal(float)), text as written."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        text = _number_text(value)
    elif isinstance(value, int | Decimal):
        return Decimal(value)
    else:
        text = unicodedata.normalize("NFKC", _cell_text(value)).replace(",", "")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


# --- Widgets: one column's value both ways -----------------------------------------------------


class TextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs) -> str:
        return _cell_text(value)

    def render(self, value, obj=None, **kwargs) -> str:
        return "" if value is None else str(value)


class CodeWidget(TextWidget):
    """A policy code: the slug that identifies a policy across years."""

    def clean(self, value, row=None, **kwargs) -> str:
        code = unicodedata.normalize("NFKC", _cell_text(value))
        if code:
            _check_policy_code(code)
        return code


_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_CODE_MAX = Policy._meta.get_field("code").max_length


def _check_policy_code(code: str) -> None:
    if not _SLUG.fullmatch(code) or len(code) > _CODE_MAX:
        raise DomainError(
            "code_invalid",
            _("政策编码“%(code)s”无效：只能用字母、数字、“-”和“_”，最长 %(max)s 位。")
            % {"code": code, "max": _CODE_MAX},
        )


class ChoiceWidget(widgets.Widget):
    """A choice written as its Chinese label; the code value ("central") and a few aliases are accepted too."""

    def __init__(
        self,
        choices: type[TextChoices],
        *,
        default: str | None = None,
        error_code: str = "choice_unknown",
        aliases: dict[str, str] | None = None,
    ):
        super().__init__(coerce_to_string=False)
        self.choices = choices
        self.default = default
        self.error_code = error_code
        self.aliases = aliases or {}

    def _lookup(self) -> dict[str, str]:
        table = {_key(alias): value for alias, value in self.aliases.items()}
        for value, label in self.choices.choices:
            table[_key(str(label))] = value
            table[_key(value)] = value
        return table

    def clean(self, value, row=None, **kwargs) -> str | None:
        text = _cell_text(value)
        if not text:
            return self.default
        found = self._lookup().get(_key(text))
        if found is None:
            labels = "、".join(str(label) for label in self.choices.labels)
            raise DomainError(
                self.error_code, _("“%(value)s”不是可选值（%(labels)s）。") % {"value": text, "labels": labels}
            )
        return found

    def render(self, value, obj=None, **kwargs) -> str:
        if not value:
            return ""
        try:
            return str(self.choices(value).label)
        except ValueError:
            return str(value)


_AMBIGUOUS = object()


def department_lookup() -> dict[str, dict[str, Any]]:
    """Departments by code, by full name and by short name (a short name two departments share is ambiguous)."""
    tables: dict[str, dict[str, Any]] = {"code": {}, "name": {}, "short_name": {}}
    for department in Department.objects.all():
        for attribute, table in tables.items():
            key = _key(getattr(department, attribute))
            if key:
                table[key] = _AMBIGUOUS if key in table else department
    return tables


class DepartmentWidget(widgets.ForeignKeyWidget):
    """Exported as the full name; imported by code, full name or short name."""

    def __init__(self):
        super().__init__(Department, field="code")

    def clean(self, value, row=None, departments=None, **kwargs) -> Department | None:
        text = _cell_text(value)
        if not text:
            return None
        tables = departments if departments is not None else department_lookup()
        for attribute in ("code", "name", "short_name"):
            found = tables[attribute].get(_key(text))
            if found is _AMBIGUOUS:
                raise DomainError(
                    "department_unknown",
                    _("主管部门“%(value)s”对应多个部门，请填写全称或编码。") % {"value": text},
                )
            if found is not None:
                return found
        raise DomainError(
            "department_unknown", _("主管部门“%(value)s”不存在（可填部门编码、全称或简称）。") % {"value": text}
        )

    def render(self, value, obj=None, **kwargs) -> str:
        return value.name if value is not None else ""


class AmountWidget(widgets.DecimalWidget):
    """Yuan, exact to the fen; a number cell is read through its text so 0.1 stays 0.10."""

    _MAX = Decimal("9999999999.99")  # max_digits=12, decimal_places=2

    def clean(self, value, row=None, **kwargs) -> Decimal | None:
        if _is_blank(value):
            return None
        raw = _number_text(value) if isinstance(value, float) else value
        if isinstance(raw, str):
            raw = _cell_text(raw)
        try:
            amount = parse_amount(raw)
        except DomainError as exc:
            raise DomainError(
                "amount_invalid",
                _("补贴标准“%(value)s”无效：%(reason)s（须为大于零的金额，最多两位小数）")
                % {"value": _cell_text(value), "reason": exc.message},
            ) from None
        if amount > self._MAX:
            raise DomainError("amount_invalid", _("补贴标准“%(value)s”过大。") % {"value": _cell_text(value)})
        return amount

    def render(self, value, obj=None, **kwargs):
        return value


class PercentWidget(widgets.DecimalWidget):
    """A funding share in percent, 0–100, at most two decimals; "80" and "80%" both mean eighty percent."""

    def clean(self, value, row=None, **kwargs) -> Decimal:
        text = _cell_text(value)
        if not text:
            return Decimal("0")
        number = _decimal(text.removesuffix("%").removesuffix("％") if isinstance(value, str) else value)
        if number is None or not (0 <= number <= 100) or number != number.quantize(Decimal("0.01")):
            raise DomainError(
                "number_invalid", _("“%(value)s”不是 0–100 之间、最多两位小数的百分比。") % {"value": text}
            )
        return number

    def render(self, value, obj=None, **kwargs):
        return value


class AgeWidget(widgets.IntegerWidget):
    def clean(self, value, row=None, **kwargs) -> int | None:
        text = _cell_text(value)
        if not text:
            return None
        number = _decimal(value)
        if number is None or number != number.to_integral_value() or not (0 <= number <= 150):
            raise DomainError("number_invalid", _("年龄“%(value)s”应为 0–150 的整数。") % {"value": text})
        return int(number)

    def render(self, value, obj=None, **kwargs):
        return value


_DATE_TEXT = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+0{1,2}:00(?::00)?)?")
_DATE_DIGITS = re.compile(r"(\d{4})(\d{2})(\d{2})")


class DateWidget(widgets.DateWidget):
    """A date cell, or text such as 2025-01-31, 2025/1/31, 2025.1.31, 2025年1月31日 or 20250131."""

    def clean(self, value, row=None, **kwargs) -> dt.date | None:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        text = unicodedata.normalize("NFKC", _cell_text(value))
        if not text:
            return None
        match = _DATE_TEXT.fullmatch(text) or _DATE_DIGITS.fullmatch(text)
        try:
            if match is None:
                raise ValueError(text)
            return dt.date(*(int(part) for part in match.groups()))
        except ValueError:
            raise DomainError(
                "date_invalid", _("日期“%(value)s”无效，请写成 2025-01-31 这样的日期。") % {"value": text}
            ) from None

    def render(self, value, obj=None, **kwargs):
        return value


_LIST_SEPARATORS = re.compile(r"[,，、;；\s]+")
_REGION_CODE = re.compile(r"\d{6}|\d{9}|\d{12}")


class CodeListWidget(widgets.Widget):
    """A comma-separated list (，、; and spaces work too) of region codes or policy codes."""

    def __init__(self, kind: str):
        super().__init__(coerce_to_string=False)
        self.kind = kind

    def clean(self, value, row=None, **kwargs) -> list[str]:
        text = unicodedata.normalize("NFKC", _cell_text(value))
        items: list[str] = []
        for item in _LIST_SEPARATORS.split(text):
            if item and item not in items:
                items.append(item)
        for item in items:
            if self.kind == "region" and not _REGION_CODE.fullmatch(item):
                raise DomainError("region_invalid", _("区划代码“%(value)s”应为 6、9 或 12 位数字。") % {"value": item})
            if self.kind == "policy":
                _check_policy_code(item)
        return items

    def render(self, value, obj=None, **kwargs) -> str:
        return ",".join(str(item) for item in value or ())


class YesNoWidget(widgets.BooleanWidget):
    """是/否 (Y/N, true/false, 1/0 are read too); an empty cell is 否."""

    _YES = frozenset({"是", "y", "yes", "true", "1", "√", "✓"})
    _NO = frozenset({"否", "n", "no", "false", "0", "×", "✗"})

    def clean(self, value, row=None, **kwargs) -> bool:
        text = _cell_text(value)
        key = _key(text)
        if not key or key in self._NO:
            return False
        if key in self._YES:
            return True
        raise DomainError("choice_unknown", _("“%(value)s”应填“是”或“否”。") % {"value": text})

    def render(self, value, obj=None, **kwargs) -> str:
        return "是" if value else "否"


# --- The resource: the columns, in file order ---------------------------------------------------


def _column(attribute: str, header: str, widget: widgets.Widget | None = None) -> fields.Field:
    return fields.Field(attribute=attribute, column_name=header, widget=widget or TextWidget())


_LEVEL_ALIASES = {
    "中央级": PolicyLevel.CENTRAL,
    "省": PolicyLevel.PROVINCIAL,
    "省级": PolicyLevel.PROVINCIAL,
    "市": PolicyLevel.MUNICIPAL,
    "县": PolicyLevel.COUNTY,
    "区": PolicyLevel.COUNTY,
    "县级": PolicyLevel.COUNTY,
    "区级": PolicyLevel.COUNTY,
    "县区": PolicyLevel.COUNTY,
    "县区级": PolicyLevel.COUNTY,
    "县(区)": PolicyLevel.COUNTY,
}
_FREQUENCY_ALIASES = {
    "每月": Frequency.MONTHLY,
    "月": Frequency.MONTHLY,
    "按季度": Frequency.QUARTERLY,
    "每季": Frequency.QUARTERLY,
    "每季度": Frequency.QUARTERLY,
    "季": Frequency.QUARTERLY,
    "每年": Frequency.YEARLY,
    "年": Frequency.YEARLY,
    "按年度": Frequency.YEARLY,
    "一次": Frequency.ONE_OFF,
}
_BENEFICIARY_ALIASES = {"人": Beneficiary.PERSON, "个人": Beneficiary.PERSON, "户": Beneficiary.HOUSEHOLD}
_STANDARD_ALIASES = {
    "单价x数量": StandardKind.PER_UNIT,
    "单价*数量": StandardKind.PER_UNIT,
    "按数量": StandardKind.PER_UNIT,
    "固定": StandardKind.FIXED,
    "定额标准": StandardKind.FIXED,
}


_CLASSIFIED_HEADER = "涉密"


class PolicyEntryResource(resources.ModelResource):
    """One list entry per row, under Chinese headers. Import through ``policy_list_import`` only."""

    code = _column("policy__code", "政策编码", CodeWidget())
    name = _column("name", "政策名称")
    short_name = _column("short_name", "简称")
    department = _column("department", "主管部门", DepartmentWidget())
    business_office = _column("business_office", "业务科室")
    level = _column("level", "政策层级", ChoiceWidget(PolicyLevel, error_code="level_unknown", aliases=_LEVEL_ALIASES))
    share_central = _column("share_central", "中央分担%", PercentWidget())
    share_provincial = _column("share_provincial", "省级分担%", PercentWidget())
    share_municipal = _column("share_municipal", "市级分担%", PercentWidget())
    share_county = _column("share_county", "县级分担%", PercentWidget())
    beneficiary = _column(
        "beneficiary",
        "发放到",
        ChoiceWidget(Beneficiary, default=Beneficiary.PERSON, aliases=_BENEFICIARY_ALIASES),
    )
    target_group = _column("target_group", "补贴对象")
    scope = _column("scope", "补贴范围")
    basis_title = _column("basis_title", "政策依据文件")
    basis_number = _column("basis_number", "文号")
    basis_issuer = _column("basis_issuer", "发文机关")
    basis_date = _column("basis_date", "发文日期", DateWidget())
    standard_kind = _column(
        "standard_kind",
        "标准类型",
        ChoiceWidget(StandardKind, default=StandardKind.FIXED, aliases=_STANDARD_ALIASES),
    )
    standard_amount = _column("standard_amount", "补贴标准（元）", AmountWidget())
    standard_unit = _column("standard_unit", "标准单位")
    quantity_unit = _column("quantity_unit", "数量单位")
    frequency = _column("frequency", "发放频次", ChoiceWidget(Frequency, aliases=_FREQUENCY_ALIASES))
    min_age = _column("min_age", "最低年龄", AgeWidget())
    max_age = _column("max_age", "最高年龄", AgeWidget())
    eligible_regions = _column("eligible_regions", "限定区划代码", CodeListWidget("region"))
    exclusive_with = _column("exclusive_with", "不得同时享受的政策编码", CodeListWidget("policy"))
    excludes_public_employees = _column("excludes_public_employees", "财政供养人员不得享受", YesNoWidget())
    restrictions = _column("restrictions", "其他限制条件")
    valid_from = _column("valid_from", "执行起始日", DateWidget())
    valid_to = _column("valid_to", "执行截止日", DateWidget())
    status = _column("status", "执行状态", ChoiceWidget(PolicyStatus, default=PolicyStatus.ACTIVE))
    is_secret = _column("is_secret", _CLASSIFIED_HEADER, YesNoWidget())
    contact_office = _column("contact_office", "咨询科室")
    contact_phone = _column("contact_phone", "咨询电话")

    class Meta:
        model = PolicyEntry
        # The entry's own fields in their one declared order (policies.fields), after the code; the basis
        # document is a file, kept in the admin rather than a spreadsheet cell.
        fields = ("code", *(name for name in ENTRY_FIELDS if name != "basis_file"))
        export_order = fields
        import_id_fields = ("code",)

    def export_field(self, field, instance, **kwargs):
        value = super().export_field(field, instance, **kwargs)
        if isinstance(value, str):
            # openpyxl refuses control characters; a leading formula character must never run.
            return escape_formula(ILLEGAL_CHARACTERS_RE.sub("", value))
        return value

    def import_data(self, *args, **kwargs):
        # import-export's own import would write rows past the services' rules, permissions and audit.
        raise NotImplementedError("Import policy lists with policies.exchange.policy_list_import.")


COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (name, PolicyEntryResource.fields[name].column_name) for name in PolicyEntryResource.Meta.fields
)
HEADERS: dict[str, str] = dict(COLUMNS)
# What a row must fill in; the file must have these columns.
REQUIRED = (
    "code",
    "name",
    "department",
    "level",
    "target_group",
    "basis_title",
    "standard_amount",
    "standard_unit",
    "frequency",
)
_SHARES = ("share_central", "share_provincial", "share_municipal", "share_county")


# --- Export ------------------------------------------------------------------------------------


def export_entries(entries: Iterable[PolicyEntry], fmt: str, *, public: bool = False) -> bytes:
    """The entries as an .xlsx workbook or a UTF-8 (with BOM, for Excel) .csv file, in the given order.

    Every text cell that a spreadsheet could run as a formula is prefixed with "'"; numbers and dates
    stay numbers and dates in xlsx. This function exports exactly what it is given: leaving out secret
    (涉密) entries, or another department's, is the caller's job (public callers pass
    ``policies.selectors.public_entries(...)``). ``public`` also drops the 涉密 column, which says nothing to
    the public (it would only ever read 否) and belongs to the internal list.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {EXPORT_FORMATS}.")
    if isinstance(entries, QuerySet):
        entries = entries.select_related("policy", "department")
    dataset = PolicyEntryResource().export(queryset=entries)
    if public:
        del dataset[_CLASSIFIED_HEADER]
    dataset.title = "政策清单"
    if fmt == "xlsx":
        return dataset.export("xlsx")
    return ("\ufeff" + dataset.export("csv")).encode("utf-8")


# --- Import ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # the row number the clerk sees in the sheet (1-based); 0 for the file as a whole
    column: str  # the Chinese header, or "" when the problem is not one cell's
    code: str
    message: str


@dataclass
class ImportReport:
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Rejected(Exception):
    """Leaves the import's transaction so that it rolls back."""


class _FileProblem(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)
        self.code = code
        self.message = message


def _header_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for name, header in COLUMNS:
        keys[_key(header)] = name
        # "补贴标准（元）" may be written "补贴标准"; hints in brackets after a header are ignored.
        keys.setdefault(_key(re.sub(r"[（(][^（）()]*[）)]$", "", header)), name)
        keys.setdefault(_key(header.removesuffix("%")), name)  # "中央分担(%)" is read as "中央分担%"
    keys[_key("涉密（不公开）")] = "is_secret"
    return keys


_BRACKET_SUFFIX = re.compile(r"\([^()]*\)$")


def _match_header(cell: Any, keys: dict[str, str]) -> str | None:
    text = _key(_cell_text(cell)).rstrip("*")  # a "*" marks a required column in templates
    if text in keys:
        return keys[text]
    stripped = _BRACKET_SUFFIX.sub("", text)
    return keys.get(stripped) if stripped else None


def _read_grid(file_bytes: bytes, filename: str) -> list[list[Any]]:
    """All rows of the sheet (row 0 is sheet row 1), from .xlsx/.xlsm/.xls or .csv."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls") or (not suffix and file_bytes[:2] == b"PK"):
        return _read_workbook(file_bytes)
    if suffix in (".csv", ".txt") or not suffix:
        return _read_csv(file_bytes)
    raise _FileProblem("file_type", _("只能导入 Excel（.xlsx）或 CSV 文件，收到的是“%(name)s”。") % {"name": filename})


def _read_workbook(file_bytes: bytes) -> list[list[Any]]:
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(file_bytes))
        sheets = [
            workbook.get_sheet_by_name(meta.name)
            for meta in workbook.sheets_metadata
            if meta.visible == python_calamine.SheetVisibleEnum.Visible
            and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
        ]
        grids = [sheet.to_python(skip_empty_area=False, nrows=MAX_ROWS + _HEADER_SEARCH_ROWS + 1) for sheet in sheets]
    except (python_calamine.CalamineError, ValueError, OSError) as exc:
        raise _FileProblem("file_unreadable", _("无法读取该 Excel 文件：%(error)s") % {"error": exc}) from None
    if not grids:
        raise _FileProblem("file_unreadable", _("该 Excel 文件没有工作表。"))
    # The list is the first sheet that has the header row (a cover or notes sheet may come first).
    return next((grid for grid in grids if _find_header(grid)[0] is not None), grids[0])


def _read_csv(file_bytes: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "gb18030"):  # gb18030 reads GBK and GB2312, as saved by Excel/WPS in China
        try:
            text = file_bytes.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise _FileProblem("file_unreadable", _("CSV 文件编码无法识别，请另存为 UTF-8 或 GBK 编码。"))
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise _FileProblem("file_unreadable", _("CSV 文件格式错误：%(error)s") % {"error": exc}) from None


def _find_header(grid: list[list[Any]]) -> tuple[int | None, dict[str, int], list[RowError]]:
    """The header row's index and each known column's position; a title block above it is skipped."""
    keys = _header_keys()
    for index, cells in enumerate(grid[:_HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        problems: list[RowError] = []
        for position, cell in enumerate(cells):
            name = _match_header(cell, keys)
            if name is None:
                continue  # extra columns (序号, 备注 …) are ignored
            if name in columns:
                problems.append(
                    RowError(index + 1, HEADERS[name], "header_duplicate", _("表头“%s”出现了两次。") % HEADERS[name])
                )
                continue
            columns[name] = position
        if len(columns) >= 3:
            return index, columns, problems
    return None, {}, []


@dataclass
class _Row:
    number: int
    code: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    def error(self, name: str, code: str, message: str) -> None:
        self.errors.append(RowError(self.number, HEADERS.get(name, ""), code, str(message)))


def _parse_row(
    number: int, cells: list[Any], columns: dict[str, int], resource: PolicyEntryResource, departments
) -> _Row:
    row = _Row(number)
    by_header = {HEADERS[name]: cells[at] if at < len(cells) else None for name, at in columns.items()}
    for name in columns:
        raw = by_header[HEADERS[name]]
        if name in REQUIRED and _is_blank(raw):
            row.error(name, "required", _("“%s”必须填写。") % HEADERS[name])
            continue
        try:
            value = resource.fields[name].clean(by_header, departments=departments)
        except DomainError as exc:
            row.error(name, exc.code, exc.message)
            continue
        if name == "code":
            row.code = value
        elif name == "department":
            row.values["department_id"] = value.pk
        else:
            row.values[name] = value
    return row


def _default(name: str) -> Any:
    return PolicyEntry._meta.get_field(name).get_default()


def _check_row(row: _Row, existing: PolicyEntry | None) -> None:
    """The rules that span cells, checked on the entry as it would be, with a message a clerk understands."""

    def final(name: str) -> Any:
        if name in row.values:
            return row.values[name]
        return getattr(existing, name) if existing is not None else _default(name)

    failed = {error.column for error in row.errors}
    if not failed & {HEADERS[name] for name in _SHARES}:
        total = sum((Decimal(final(name)) for name in _SHARES), Decimal("0"))
        if total != 100:
            hint = _("（单元格若设成了百分比格式，请改填数字，如 80 表示 80%）") if total == 1 else ""
            row.error(
                "share_county",
                "shares_sum",
                _("中央、省、市、县四级分担比例合计为 %(total)s%%，应为 100%%。%(hint)s")
                % {"total": f"{total.normalize():f}", "hint": hint},
            )
    low, high = final("min_age"), final("max_age")
    if low is not None and high is not None and low > high and not failed & {HEADERS["min_age"], HEADERS["max_age"]}:
        row.error("min_age", "age_range", _("最低年龄 %(low)s 大于最高年龄 %(high)s。") % {"low": low, "high": high})
    start, end = final("valid_from"), final("valid_to")
    if start and end and start > end and not failed & {HEADERS["valid_from"], HEADERS["valid_to"]}:
        row.error("valid_to", "date_range", _("执行截止日早于执行起始日。"))


# Where a service's own error belongs when it names no field.
_SERVICE_CODE_COLUMNS = {"code_other_department": "code", "duplicate_code": "code", "department_change": "department"}
_CONSTRAINT_CODES = {
    "policyentry_shares_sum_to_100": ("share_county", "shares_sum"),
    "policyentry_standard_positive": ("standard_amount", "amount_invalid"),
    "policyentry_age_range": ("min_age", "age_range"),
    "policyentry_valid_range": ("valid_to", "date_range"),
}


def _service_errors(row: _Row, exc: ValidationError) -> None:
    """A ValidationError from the services or the model, onto the row's cells."""
    pairs = exc.error_dict.items() if hasattr(exc, "error_dict") else [(NON_FIELD_ERRORS, exc.error_list)]
    for name, errors in pairs:
        for error in errors:
            message = " ".join(error.messages)
            code = error.code or "invalid"
            column = "department" if name == "department_id" else name
            if name == NON_FIELD_ERRORS:
                column = _SERVICE_CODE_COLUMNS.get(code, "")
                for constraint, (constraint_column, constraint_code) in _CONSTRAINT_CODES.items():
                    if constraint in message:
                        column, code = constraint_column, constraint_code
            if code in ("blank", "null"):
                code = "required"
            row.error(column, code, message)


def _unchanged(entry: PolicyEntry, values: dict[str, Any]) -> bool:
    return all(getattr(entry, name) == value for name, value in values.items())


def _check_codes(rows: list[_Row]) -> None:
    """A code twice in the file, or a code that belongs to another department."""
    codes = {row.code for row in rows if row.code}
    owners = dict(Policy.objects.filter(code__in=codes).values_list("code", "department_id"))
    names = dict(Department.objects.filter(pk__in=set(owners.values())).values_list("pk", "name"))
    first_row: dict[str, int] = {}
    for row in rows:
        if not row.code:
            continue
        if row.code in first_row:
            row.error(
                "code",
                "duplicate_code",
                _("政策编码 %(code)s 与第 %(row)s 行重复。") % {"code": row.code, "row": first_row[row.code]},
            )
        else:
            first_row[row.code] = row.number
        owner, department_id = owners.get(row.code), row.values.get("department_id")
        if owner is not None and department_id is not None and owner != department_id:
            row.error(
                "code",
                "code_other_department",
                _("政策编码 %(code)s 属于%(owner)s，不能登记在其他主管部门名下。")
                % {"code": row.code, "owner": names[owner]},
            )


def _write_row(
    row: _Row, entry: PolicyEntry | None, policy_list: PolicyList, report: ImportReport, created: dict, changed: dict
) -> None:
    """Through the services' helpers, so every rule they enforce applies; a savepoint keeps a failure local."""
    try:
        with transaction.atomic():
            if entry is None:
                entry = _create_entry(policy_list=policy_list, code=row.code, values=row.values)
                created[row.code] = entry_snapshot(entry)
            elif _unchanged(entry, row.values):
                report.unchanged += 1
            else:
                entry = _apply_values(entry=entry, values=row.values)
                changed[row.code] = {"before": entry._audit_before, "after": entry._audit_after}
    except ValidationError as exc:
        _service_errors(row, exc)
    except IntegrityError:
        row.error("", "invalid", _("该行数据不符合清单的约束条件。"))


def policy_list_import(*, acting_user, policy_list: PolicyList, file_bytes: bytes, filename: str) -> ImportReport:
    """Import a list file into a draft list: new codes are added, codes already in the list are updated.

    All or nothing: when any row has an error, nothing is written and the report lists every error.
    Entries of the list that the file does not mention are left alone (the import never removes).
    """
    _require(acting_user, "policies.add_policyentry")
    report = ImportReport()
    try:
        with transaction.atomic():
            policy_list = _lock_list(policy_list)
            _require_draft(policy_list)
            audit = _import_rows(acting_user, policy_list, file_bytes, filename, report)
            if report.errors:
                raise _Rejected
            audit_record(acting_user=acting_user, action=AuditAction.POLICY_LIST_IMPORT, obj=policy_list, after=audit)
    except _Rejected:
        report.created = report.updated = report.unchanged = 0
    report.errors.sort(key=lambda error: error.row)
    return report


def _import_rows(
    acting_user, policy_list: PolicyList, file_bytes: bytes, filename: str, report: ImportReport
) -> dict[str, Any] | None:
    """Check and write every row (in the caller's transaction); return the audit payload."""
    try:
        grid = _read_grid(file_bytes, filename)
    except _FileProblem as problem:
        report.errors.append(RowError(0, "", problem.code, problem.message))
        return None
    header_index, columns, problems = _find_header(grid)
    if header_index is None:
        report.errors.append(
            RowError(1, HEADERS["code"], "header_missing", _("没有找到表头行（应包含“政策编码”“政策名称”等列名）。"))
        )
        return None
    report.errors.extend(problems)
    missing = [name for name in REQUIRED if name not in columns]
    for name in missing:
        report.errors.append(
            RowError(header_index + 1, HEADERS[name], "header_missing", _("缺少“%s”列。") % HEADERS[name])
        )
    if report.errors:
        return None

    filled = [index for index in range(header_index + 1, len(grid)) if not all(_is_blank(cell) for cell in grid[index])]
    report.rows_read = len(filled)
    if not filled:
        report.errors.append(RowError(header_index + 1, "", "no_rows", _("表头下面没有数据行。")))
        return None
    if len(filled) > MAX_ROWS:
        report.errors.append(
            RowError(0, "", "too_many_rows", _("一次最多导入 %(max)s 行，本文件超过了。") % {"max": MAX_ROWS})
        )
        return None
    resource = PolicyEntryResource()
    departments = department_lookup()
    rows = [_parse_row(index + 1, grid[index], columns, resource, departments) for index in filled]

    codes = {row.code for row in rows if row.code}
    in_list = PolicyEntry.objects.filter(policy_list=policy_list, policy__code__in=codes).select_related("policy")
    existing = {entry.policy.code: entry for entry in in_list}
    if existing:
        _require(acting_user, "policies.change_policyentry")
    _check_codes(rows)

    created: dict[str, dict] = {}
    changed: dict[str, dict] = {}
    for row in rows:
        entry = existing.get(row.code)
        _check_row(row, entry)
        if not row.errors:
            _write_row(row, entry, policy_list, report, created, changed)
        report.errors.extend(row.errors)
    report.created, report.updated = len(created), len(changed)
    return {
        "year": policy_list.year,
        "filename": filename,
        "rows_read": report.rows_read,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "entries_created": created,
        "entries_changed": changed,
    }
