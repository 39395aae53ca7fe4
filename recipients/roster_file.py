"""Open a clerk's roster file (名册: .xlsx, .xls or .csv) without trusting it, find its header below any title
lines, and stream its data rows up to the 合计 and signature lines. Pure Python: no database, no models.

Which columns a sheet has is a `SheetLayout`: rosters by default (`ROSTER_LAYOUT`); other tables of people, such
as the reference lists of `checks.reference_rows`, pass their own."""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import struct
import tempfile
import unicodedata
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, NamedTuple

import python_calamine
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from yikatong.domain.errors import DomainError, Message
from yikatong.domain.money import parse_amount

__all__ = [
    "FIELD_LABELS",
    "HEADER_SYNONYMS",
    "REQUIRED_FIELDS",
    "ROSTER_LAYOUT",
    "Column",
    "RawRow",
    "RosterFileError",
    "RosterSheet",
    "SheetLayout",
    "ole_stream_names",
    "open_roster",
]

# The header is looked for in this many rows from the top of the sheet.
HEADER_SCAN_ROWS = 20
# An xlsx part this large that unpacks to more than MAX_ZIP_RATIO times its packed size is a zip bomb.
# Real sheets pack 8–30×; a bomb packs about 1000× (deflate's ceiling).
MAX_ZIP_RATIO = 250
_RATIO_FLOOR = 1 << 20
_MAX_ZIP_MEMBERS = 2000
# What a sheet may unpack to, per permitted row, when the caller gives no limit: ~600 bytes a row is typical.
_UNPACKED_BYTES_PER_ROW = 2048
_UNPACKED_BYTES_BASE = 64 << 20
# An XML part must reach its root element within this many bytes: a DOCTYPE can only stand before it.
_XML_PROLOG_LIMIT = 64 << 10
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_SNIFF_BYTES = 8192


class RosterFileError(DomainError):
    """A file that cannot be read as a roster; nothing of it was accepted. Codes are stable (see `CODES`)."""

    CODES = (
        "file_empty",
        "file_too_large",
        "file_not_spreadsheet",
        "file_encrypted",
        "file_zip_bomb",
        "file_xml_entities",
        "file_unreadable",
        "header_not_found",
        "too_many_rows",
        "encoding_unknown",
        "columns_missing",
    )


class Column(NamedTuple):
    index: int  # 0-based sheet column (A = 0), also the position in `RawRow.cells`
    header_text: str  # as the clerk wrote it, surrounding spaces removed


class RawRow(NamedTuple):
    row: int  # 1-based row number as Excel (or a text editor, for CSV records) shows it
    values: dict[str, object]  # recognised field → cell value as read ("" when empty)
    cells: Sequence[object]  # the whole row as read, for the error report


# Field → Chinese label, for messages about a column the file does not have.
FIELD_LABELS: dict[str, str] = {
    "name": "姓名",
    "id_number": "身份证号码",
    "account": "银行账号",
    "amount": "发放金额",
    "bank": "开户银行",
    "holder_name": "户名",
    "phone": "联系电话",
    "township": "乡镇（街道）",
    "village": "村（社区）",
    "quantity": "数量",
    "remark": "备注",
    "seq": "序号",
}
REQUIRED_FIELDS = ("name", "id_number", "account", "amount")

# Earlier synonyms win when two columns of one file name the same field (发放金额 over 发放标准).
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "户主姓名", "补贴对象姓名", "名称"),
    "id_number": ("身份证号", "身份证号码", "公民身份号码", "身份证件号码", "证件号码", "身份证"),
    "account": (
        "银行账号",
        "卡号",
        "银行卡号",
        "社会保障卡金融账号",
        "社保卡号",
        "一卡通账号",
        "账号",
        "折号",
        "银行卡账号",
    ),
    "amount": ("发放金额", "金额", "补贴金额", "应发金额", "金额（元）", "发放标准"),
    "bank": ("开户银行", "开户行", "银行", "代发银行"),
    "holder_name": ("户名", "账户名", "持卡人", "开户名"),
    "phone": ("联系电话", "电话", "手机号", "手机号码", "联系方式"),
    "township": ("乡镇", "乡镇（街道）", "街道"),
    "village": ("村", "村（社区）", "社区", "村居"),
    "quantity": ("数量", "面积", "亩数", "月数"),
    "remark": ("备注",),
    "seq": ("序号",),
}
# Merged cells in these columns (a township written once for its block of rows) fill the rows they cover.
_FILL_DOWN_FIELDS = ("township", "village", "bank")

_BRACKETED = re.compile(r"[(\[【][^()\[\]【】]*[)\]】]")
_BRACKETS = str.maketrans("", "", "()[]【】")


def _header_keys(text: str) -> tuple[str, str]:
    """(with the bracket characters dropped, with bracketed parts dropped): 乡镇（街道） → 乡镇街道, 乡镇."""
    key = "".join(unicodedata.normalize("NFKC", text).split()).lower().strip("*:")
    return key.translate(_BRACKETS), _BRACKETED.sub("", key)


def _synonym_table(synonyms_by_field: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for field, synonyms in synonyms_by_field.items():
        for rank, synonym in enumerate(synonyms):
            for key in _header_keys(synonym):
                table.setdefault(key, (field, rank))
    return table


@dataclass(frozen=True, eq=False)
class SheetLayout:
    """The columns one kind of sheet has: how headers name them, which must be there, which fill down.

    `synonyms`: field → header names, earlier ones winning when two columns of one file name the same field.
    `labels`: field → the Chinese name used when a message speaks of a column the file does not have.
    `total_field`: the field whose value a 合计 line declares (`RosterSheet.declared_total`), if any.
    `noun`: what the file is called in messages (名册, 数据文件).
    `footer`: whether a 合计/总计 row or a signature line ends the data (and 小计 rows are skipped). On for rosters
    and reference files alike: other departments' exports carry them too.
    """

    synonyms: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, str]
    required: tuple[str, ...]
    fill_down: tuple[str, ...] = ()
    total_field: str | None = None
    noun: str = "名册"
    footer: bool = True

    def __post_init__(self) -> None:
        unknown = [field for field in (*self.required, *self.fill_down) if field not in self.synonyms]
        if unknown or not self.required or (self.total_field and self.total_field not in self.synonyms):
            raise ValueError(f"Layout names fields it has no synonyms for: {unknown or self.total_field}")
        object.__setattr__(self, "_table", _synonym_table(self.synonyms))

    def recognise(self, text: object) -> tuple[str, int] | None:
        """(field, rank among its synonyms) for a header cell, or None."""
        if not isinstance(text, str) or not text.strip():
            return None
        flat, bare = _header_keys(text)
        table = self._table  # type: ignore[attr-defined]
        return table.get(flat) or table.get(bare)

    def column_hint(self) -> str:
        """The required columns as a message names them: “姓名”“身份证号码”…"""
        return "".join(f"“{self.labels[field]}”" for field in self.required)


ROSTER_LAYOUT = SheetLayout(
    synonyms=HEADER_SYNONYMS,
    labels=FIELD_LABELS,
    required=REQUIRED_FIELDS,
    fill_down=_FILL_DOWN_FIELDS,
    total_field="amount",
    noun="名册",
)


# --- the footer: 合计 / 总计 rows, 小计 rows, signature lines -------------------------------------------

_TOTAL, _SUBTOTAL, _SIGNATURE = "total", "subtotal", "signature"
_SIGNATURE_LINE = re.compile(
    r"(单位)?(经办人|审核人|审批人|复核人|负责人|制表人|填报人|填表人|盖章|签字|签章|填报日期|制表日期)"
)
# Cheap first test on every row: only text starting with one of these can be a footer line.
_FOOTER_FIRST_CHARS = frozenset("合总小单经审复负制填盖签")
_COUNT_IN_TEXT = re.compile(r"(\d+)\s*(?:人|户|名|条)")


def _footer_kind(text: str) -> str | None:
    compact = "".join(text.split())
    if compact.startswith(("合计", "总计")):
        return _TOTAL
    if compact.startswith("小计"):
        return _SUBTOTAL
    if _SIGNATURE_LINE.match(compact):
        return _SIGNATURE
    return None


def _is_empty(cell: object) -> bool:
    return cell is None or (isinstance(cell, str) and (not cell or cell.isspace()))


def _first_filled(cells: Iterable[object]) -> object:
    """The first non-empty cell, or `_BLANK` for a blank row."""
    for cell in cells:
        if not _is_empty(cell):
            return cell
    return _BLANK


_BLANK = object()


# --- the sheet ----------------------------------------------------------------------------------------


class RosterSheet:
    """The sheet of a roster file whose header was found: its columns, and `rows()` to stream the data rows.

    `declared_total`, `declared_count` and `trailing_rows_ignored` are known once `rows()` has run to the end.
    Close it (or use it as a context manager) to release the file.
    """

    def __init__(
        self,
        *,
        format: str,
        filename: str,
        sheet_name: str,
        encoding: str | None,
        header_row: int,
        data_start: int,
        columns: dict[str, Column],
        extra_columns: tuple[Column, ...],
        max_rows: int,
        open_cells: Callable[[], Iterator[Sequence[object]]],
        merged: Sequence[tuple[int, int, int, int]] = (),
        closer: Callable[[], None] | None = None,
        layout: SheetLayout = ROSTER_LAYOUT,
    ) -> None:
        self.layout = layout
        self.format = format
        self.filename = filename
        self.sheet_name = sheet_name
        self.encoding = encoding
        self.header_row = header_row
        self.columns = columns
        self.extra_columns = extra_columns
        self.max_rows = max_rows
        self.declared_total: Decimal | None = None
        self.declared_count: int | None = None
        self.trailing_rows_ignored = 0
        self.rows_read = 0
        self._data_start = data_start  # 0-based index of the first row below the header
        self._open_cells = open_cells
        self._closer = closer
        self._fill = self._fill_ranges(merged)

    def _fill_ranges(self, merged: Sequence[tuple[int, int, int, int]]) -> list[tuple[str, list[int], list[int]]]:
        """Per fill-down column: the merged ranges (first row, last row) that cover it, sorted."""
        result = []
        for field in self.layout.fill_down:
            column = self.columns.get(field)
            if column is None:
                continue
            spans = sorted((r0, r1) for r0, c0, r1, c1 in merged if c0 <= column.index <= c1 and r1 > r0)
            if spans:
                result.append((field, [s for s, _ in spans], [e for _, e in spans]))
        return result

    def __enter__(self) -> RosterSheet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None

    def extra_values(self, raw: RawRow) -> dict[str, object]:
        """The row's cells in the columns that are not recognised roster fields, keyed by header text."""
        cells = raw.cells
        return {col.header_text: cells[col.index] if col.index < len(cells) else "" for col in self.extra_columns}

    def rows(self) -> Iterator[RawRow]:
        """The data rows, blank rows skipped, up to the footer. Raises `too_many_rows` past `max_rows`."""
        self.declared_total = None
        self.declared_count = None
        self.trailing_rows_ignored = 0
        self.rows_read = 0
        fields = tuple(self.columns)
        indexes = tuple(col.index for col in self.columns.values())
        width = max(indexes) + 1
        if len(indexes) > 1:
            pick = itemgetter(*indexes)  # a tuple for two or more
        else:
            only = indexes[0]

            def pick(cells: Sequence[object]) -> tuple[object, ...]:
                return (cells[only],)

        # A row empty in every required column (and everywhere but 序号) is an unfilled template row.
        lead, *others = sorted(self.layout.required, key=lambda field: field != "id_number")
        seq = self.columns["seq"].index if "seq" in self.columns else -1
        fill = self._fill
        last_filled: dict[str, object] = {}
        max_rows = self.max_rows
        footer_first = _FOOTER_FIRST_CHARS if self.layout.footer else frozenset()
        count = 0
        index = self._data_start
        cells_iter = islice(self._open_cells(), index, None)
        for cells in cells_iter:
            index += 1
            first = cells[0] if cells else ""
            if first.__class__ is str or first is None:
                if _is_empty(first):
                    first = _first_filled(cells)
                    if first is _BLANK:
                        continue
                if first.__class__ is str and first.lstrip()[:1] in footer_first:
                    kind = _footer_kind(first)
                    if kind == _SUBTOTAL:
                        continue
                    if kind is not None:
                        self._read_footer(kind, cells)
                        self._count_trailing(cells_iter)
                        break
            if len(cells) < width:
                cells = [*cells, *[""] * (width - len(cells))]
            values = dict(zip(fields, pick(cells), strict=False))
            if (
                values[lead] == ""
                and all(values[field] == "" for field in others)
                and all(_is_empty(cell) for i, cell in enumerate(cells) if i != seq)
            ):
                continue  # a numbered but empty template row
            if fill:
                position = index - 1  # calamine's merged ranges count rows from 0
                for field, starts, ends in fill:
                    if _is_empty(values[field]):
                        k = bisect_right(starts, position) - 1
                        if k >= 0 and starts[k] < position <= ends[k]:
                            values[field] = last_filled.get(field, "")
                    last_filled[field] = values[field]
            count += 1
            if count > max_rows:
                raise RosterFileError(
                    "too_many_rows",
                    format_lazy(
                        _("{noun}超过 {limit} 行的上限，请拆分成多个文件上传。"), noun=self.layout.noun, limit=max_rows
                    ),
                )
            self.rows_read = count
            yield RawRow(index, values, cells)

    def _read_footer(self, kind: str, cells: Sequence[object]) -> None:
        if kind != _TOTAL:
            return
        total_field = self.layout.total_field
        if total_field is not None and total_field in self.columns:
            amount_column = self.columns[total_field].index
            if amount_column < len(cells):
                self.declared_total = _declared_amount(cells[amount_column])
        for cell in cells:
            if isinstance(cell, str) and (match := _COUNT_IN_TEXT.search(cell)):
                self.declared_count = int(match.group(1))
                break

    def _count_trailing(self, cells_iter: Iterator[Sequence[object]]) -> None:
        """Rows after the footer that look like data: the clerk may have meant them, so the importer can say so."""
        for cells in cells_iter:
            first = _first_filled(cells)
            if first is _BLANK:
                continue
            if isinstance(first, str) and first.lstrip()[:1] in _FOOTER_FIRST_CHARS and _footer_kind(first):
                continue
            self.trailing_rows_ignored += 1


def _declared_amount(cell: object) -> Decimal | None:
    try:
        if isinstance(cell, float):
            return parse_amount(Decimal(repr(cell)), positive=False)
        if isinstance(cell, int | str | Decimal) and not isinstance(cell, bool):
            return parse_amount(cell, positive=False)
    except (DomainError, InvalidOperation):
        return None
    return None


# --- header detection ---------------------------------------------------------------------------------


class _Header(NamedTuple):
    header_row: int  # 1-based
    data_start: int  # 0-based index of the first data row
    columns: dict[str, Column]
    extra_columns: tuple[Column, ...]


def _recognised(cells: Sequence[object], layout: SheetLayout) -> dict[int, tuple[str, int]]:
    found = {}
    recognise = layout.recognise
    for index, cell in enumerate(cells):
        hit = recognise(cell)
        if hit is not None:
            found[index] = hit
    return found


def _find_header(top: list[Sequence[object]], layout: SheetLayout = ROSTER_LAYOUT) -> _Header | None:
    """The row with the most recognised header names (the first of equals), with a second header row
    merged in when the header spans two rows (a merged 银行信息 above 开户行 | 账号)."""
    scored = [_recognised(cells, layout) for cells in top]
    best = max(range(len(top)), key=lambda i: (len(scored[i]), -i), default=None)
    if best is None or len(scored[best]) < 2:
        return None
    hits = {index: (field, rank, best) for index, (field, rank) in scored[best].items()}
    fields = {field for field, _rank in scored[best].values()}
    last_header = best
    for neighbour in (best - 1, best + 1):
        if not 0 <= neighbour < len(top) or not scored[neighbour]:
            continue
        if {field for field, _rank in scored[neighbour].values()} & fields:
            continue  # a second header row only adds what the first lacks
        for index, (field, rank) in scored[neighbour].items():
            if index not in hits:
                hits[index] = (field, rank, neighbour)
                fields.add(field)
        last_header = max(last_header, neighbour)

    chosen: dict[str, tuple[int, int]] = {}  # field → (rank, column)
    for index, (field, rank, _row) in sorted(hits.items()):
        if field not in chosen or rank < chosen[field][0]:
            chosen[field] = (rank, index)
    columns = {
        field: Column(index, str(top[hits[index][2]][index]).strip())
        for field, (_rank, index) in sorted(chosen.items(), key=lambda item: item[1][1])
    }
    used = {column.index for column in columns.values()}
    extras = tuple(
        Column(index, _cell_text(cell))
        for index, cell in enumerate(top[best])
        if index not in used and not _is_empty(cell)
    )
    return _Header(best + 1, last_header + 1, columns, extras)


def _cell_text(cell: object) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a year or a number typed as a column name
    return str(cell).strip()


def _check_required(columns: dict[str, Column], layout: SheetLayout) -> None:
    missing = [layout.labels[field] for field in layout.required if field not in columns]
    if missing:
        raise RosterFileError(
            "columns_missing",
            format_lazy(
                _("表头中找不到必需的列：{missing}。请检查表头名称（如{hint}）。"),
                missing="、".join(missing),
                hint=layout.column_hint(),
            ),
        )


# --- the source: size first, then what the bytes are --------------------------------------------------


class _Source:
    """The upload as a seekable binary file, its size known before anything is read into memory."""

    def __init__(self, source: str | Path | bytes | BinaryIO, max_bytes: int) -> None:
        self.path: str | None = None
        self._owned = True
        if isinstance(source, str | Path):
            self.path = os.fspath(source)
            try:
                self.size = os.stat(self.path).st_size
                self._check_size(max_bytes)
                self.file: BinaryIO = open(self.path, "rb")  # noqa: SIM115 — closed by close()
            except OSError as error:
                raise RosterFileError("file_unreadable", _("无法打开上传的文件。")) from error
        elif isinstance(source, bytes | bytearray | memoryview):
            self.size = len(source)
            self._check_size(max_bytes)
            self.file = io.BytesIO(source)
        else:
            self._owned = False
            self.file = source
            self.size = self._size_of(source)
            if self.size is None:
                self.file = self._spool(source, max_bytes)
                self._owned = True
            else:
                self._check_size(max_bytes)
        self.file.seek(0)
        self.head = self.file.read(_SNIFF_BYTES)
        if not self.head:
            raise RosterFileError("file_empty", _("上传的文件是空的。"))

    @staticmethod
    def _size_of(stream: BinaryIO) -> int | None:
        size = getattr(stream, "size", None)  # Django's UploadedFile knows it without reading
        if isinstance(size, int):
            return size
        try:
            if stream.seekable():
                stream.seek(0, io.SEEK_END)
                size = stream.tell()
                stream.seek(0)
                return size
        except (OSError, AttributeError):
            pass
        return None

    def _spool(self, stream: BinaryIO, max_bytes: int) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(max_size=8 << 20)  # noqa: SIM115 — closed by close()
        size = 0
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                spool.close()
                self.size = size
                raise _too_large(max_bytes)
            spool.write(chunk)
        self.size = size
        if size == 0:
            spool.close()
            raise RosterFileError("file_empty", _("上传的文件是空的。"))
        return spool  # type: ignore[return-value]

    def _check_size(self, max_bytes: int) -> None:
        if self.size == 0:
            raise RosterFileError("file_empty", _("上传的文件是空的。"))
        if self.size > max_bytes:
            raise _too_large(max_bytes)

    def close(self) -> None:
        if self._owned:
            self.file.close()


def _too_large(max_bytes: int) -> RosterFileError:
    return RosterFileError(
        "file_too_large",
        format_lazy(_("文件超过 {limit} MB 的上限，请拆分成多个文件上传。"), limit=f"{max_bytes / (1 << 20):.0f}"),
    )


_OTHER_FORMATS = (
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"%PDF", "PDF"),
    (b"Rar!", "RAR"),
    (b"7z\xbc\xaf", "7z"),
    (b"\x1f\x8b", "gzip"),
    (b"{\\rtf", "RTF"),
)


def _not_spreadsheet(detail: Message | None = None) -> RosterFileError:
    message = _("上传的文件不是 Excel（.xlsx、.xls）或 CSV 表格，请用 Excel 另存为 .xlsx 后重新上传。")
    if detail is not None:
        message = format_lazy("{detail}{message}", detail=detail, message=message)
    return RosterFileError("file_not_spreadsheet", message)


def open_roster(
    source: str | Path | bytes | BinaryIO,
    *,
    filename: str,
    max_bytes: int,
    max_rows: int,
    max_unpacked_bytes: int | None = None,
    layout: SheetLayout = ROSTER_LAYOUT,
) -> RosterSheet:
    """Open a roster (or another table of people, by its `layout`); the format is decided by the content, never
    by `filename` (kept for the report).

    Raises `RosterFileError` with one of `RosterFileError.CODES`. The sheet holds the file open: close it.
    `max_unpacked_bytes` bounds what an xlsx may unpack to (default: 2 KiB per permitted row + 64 MiB).
    """
    src = _Source(source, max_bytes)
    try:
        head = src.head
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            limit = max_unpacked_bytes or max_rows * _UNPACKED_BYTES_PER_ROW + _UNPACKED_BYTES_BASE
            _inspect_xlsx(src.path or src.file, max_unpacked_bytes=limit)
            return _open_with_calamine(src, "xlsx", filename, max_rows, layout)
        if head.startswith(_OLE_MAGIC):
            names = ole_stream_names(src.file)
            if names is None:  # a damaged directory: look for the stream names the way a hex viewer would
                names = _ole_names_by_scan(src.file)
            lowered = {name.lower() for name in names}
            if {"encryptioninfo", "encryptedpackage"} & lowered:
                raise _encrypted()
            if not {"workbook", "book"} & lowered:
                raise _not_spreadsheet(_("这是一个 Office 文件，但不是 Excel 工作簿。"))
            return _open_with_calamine(src, "xls", filename, max_rows, layout)
        for magic, name in _OTHER_FORMATS:
            if head.startswith(magic):
                raise _not_spreadsheet(format_lazy(_("文件内容是 {kind} 格式。"), kind=name))
        return _open_csv(src, filename, max_rows, layout)
    except BaseException:
        src.close()
        raise


def _encrypted() -> RosterFileError:
    return RosterFileError("file_encrypted", _("文件设置了打开密码（已加密），请在 Excel 中取消密码后重新上传。"))


# --- xlsx: the zip directory and the XML prologs, before calamine sees anything -----------------------


def _inspect_xlsx(file: str | BinaryIO, *, max_unpacked_bytes: int) -> None:
    try:
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            if len(infos) > _MAX_ZIP_MEMBERS:
                raise _zip_bomb()
            names = {info.filename for info in infos}
            if len(names) != len(infos):
                raise RosterFileError("file_unreadable", _("文件结构异常（压缩包内有重名部件），无法读取。"))
            if "xl/workbook.xml" not in names:
                if "xl/workbook.bin" in names:
                    raise _not_spreadsheet(_("这是 Excel 二进制工作簿（.xlsb）。"))
                raise _not_spreadsheet(_("这是一个压缩包，但不是 Excel 工作簿。"))
            total = 0
            for info in infos:
                if info.flag_bits & 0x1:
                    raise _encrypted()
                total += info.file_size
                if total > max_unpacked_bytes:
                    raise _zip_bomb()
                if info.file_size > _RATIO_FLOOR and info.file_size > info.compress_size * MAX_ZIP_RATIO:
                    raise _zip_bomb()
            for info in infos:
                if info.filename.lower().endswith((".xml", ".rels", ".vml")) and info.file_size:
                    _check_xml_prolog(archive, info)
    except RosterFileError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError) as error:
        raise RosterFileError("file_unreadable", _("文件已损坏或不完整，无法读取。")) from error


def _zip_bomb() -> RosterFileError:
    return RosterFileError("file_zip_bomb", _("文件解压后异常巨大（疑似“压缩炸弹”），已拒绝。"))


def _check_xml_prolog(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Reject a DOCTYPE (and so any ENTITY): it can only stand before the root element, so read up to that."""
    buffer = b""
    verdict = None
    with archive.open(info) as part:
        while verdict is None and len(buffer) < _XML_PROLOG_LIMIT:
            chunk = part.read(4096)
            if not chunk:
                break
            buffer += chunk
            verdict = _prolog_verdict(buffer)
    if verdict == _DOCTYPE:
        raise RosterFileError("file_xml_entities", _("文件中含有 XML 实体声明（DOCTYPE/ENTITY），出于安全原因已拒绝。"))
    if verdict != _ROOT:
        raise RosterFileError("file_unreadable", _("文件已损坏或格式不受支持，无法读取。"))


_ROOT, _DOCTYPE, _MALFORMED = "root", "doctype", "malformed"


def _prolog_verdict(data: bytes) -> str | None:
    """_ROOT: the root element starts with no DOCTYPE before it; _DOCTYPE; _MALFORMED; None: read more."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16-be" if data.startswith(b"\xfe\xff") or data[:1] == b"\x00" else "utf-16-le"
        text = data.decode(encoding, errors="ignore").lstrip("\ufeff")
    else:
        text = data.decode("utf-8", errors="ignore").lstrip("\ufeff")
    lowered = text.lower()
    if "<!doctype" in lowered or "<!entity" in lowered:
        return _DOCTYPE
    pos = 0
    while True:
        if text[pos:].strip() == "":
            return None
        start = text.find("<", pos)
        if start < 0 or text[pos:start].strip():
            return _MALFORMED  # text before the root element: not XML
        if start + 1 >= len(text):
            return None
        if text.startswith("<?", start):
            end = text.find("?>", start)
            if end < 0:
                return None
            pos = end + 2
        elif text.startswith("<!--", start):
            end = text.find("-->", start)
            if end < 0:
                return None
            pos = end + 3
        elif text.startswith("<!", start):
            return _DOCTYPE  # the only declaration allowed before the root
        else:
            return _ROOT


# --- OLE2 (compound file): .xls, or an encrypted xlsx -------------------------------------------------

_FREESECT, _ENDOFCHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_MAX_DIRECTORY_SECTORS = 4096


def ole_stream_names(file: BinaryIO) -> set[str] | None:
    """The names in an OLE2 compound file's directory (MS-CFB), or None when the directory cannot be read.

    An encrypted OOXML workbook is such a file holding `EncryptionInfo` and `EncryptedPackage` streams;
    an .xls holds a `Workbook` (BIFF8) or `Book` (BIFF5) stream."""
    try:
        file.seek(0)
        header = file.read(512)
        if len(header) < 512 or not header.startswith(_OLE_MAGIC):
            return None
        sector_shift = struct.unpack_from("<H", header, 0x1E)[0]
        if sector_shift not in (9, 12):
            return None
        sector_size = 1 << sector_shift
        fat_count, first_directory = struct.unpack_from("<II", header, 0x2C)
        first_difat, difat_count = struct.unpack_from("<II", header, 0x44)
        fat_sectors = [s for s in struct.unpack_from("<109I", header, 0x4C) if s < _ENDOFCHAIN][:fat_count]
        per_sector = sector_size // 4
        seen_difat: set[int] = set()
        next_difat = first_difat
        while len(fat_sectors) < fat_count and next_difat < _ENDOFCHAIN and len(seen_difat) < difat_count:
            if next_difat in seen_difat:
                return None
            seen_difat.add(next_difat)
            entries = struct.unpack(f"<{per_sector}I", _sector(file, next_difat, sector_size))
            fat_sectors += [s for s in entries[:-1] if s < _ENDOFCHAIN]
            next_difat = entries[-1]

        fat_cache: dict[int, tuple[int, ...]] = {}

        def next_sector(sector: int) -> int:
            page, slot = divmod(sector, per_sector)
            if page >= len(fat_sectors):
                raise ValueError("sector outside the FAT")
            if page not in fat_cache:
                fat_cache[page] = struct.unpack(f"<{per_sector}I", _sector(file, fat_sectors[page], sector_size))
            return fat_cache[page][slot]

        names: set[str] = set()
        sector, visited = first_directory, set()
        while sector < _ENDOFCHAIN:
            if sector in visited or len(visited) >= _MAX_DIRECTORY_SECTORS:
                return None
            visited.add(sector)
            data = _sector(file, sector, sector_size)
            for offset in range(0, sector_size, 128):
                entry = data[offset : offset + 128]
                name_length = struct.unpack_from("<H", entry, 0x40)[0]
                kind = entry[0x42]
                if kind in (1, 2, 5) and 2 <= name_length <= 64:
                    names.add(entry[: name_length - 2].decode("utf-16-le", errors="replace"))
            sector = next_sector(sector)
        return names
    except (OSError, ValueError, struct.error):
        return None


def _sector(file: BinaryIO, sector: int, sector_size: int) -> bytes:
    file.seek((sector + 1) * sector_size)
    data = file.read(sector_size)
    if len(data) != sector_size:
        raise ValueError("truncated compound file")
    return data


def _ole_names_by_scan(file: BinaryIO) -> set[str]:
    file.seek(0)
    data = file.read(1 << 20)
    wanted = ("EncryptionInfo", "EncryptedPackage", "Workbook", "Book")
    return {name for name in wanted if name.encode("utf-16-le") in data}


# --- calamine (xlsx, xls) -----------------------------------------------------------------------------


def _open_with_calamine(src: _Source, kind: str, filename: str, max_rows: int, layout: SheetLayout) -> RosterSheet:
    try:
        src.file.seek(0)
        if src.path is not None:
            workbook = python_calamine.CalamineWorkbook.from_path(src.path)
        else:
            workbook = python_calamine.CalamineWorkbook.from_filelike(src.file)
        try:
            found = None
            any_cells = False
            worksheets = 0
            for index, meta in enumerate(workbook.sheets_metadata):
                if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                    continue
                if meta.visible != python_calamine.SheetVisibleEnum.Visible:
                    continue
                worksheets += 1
                sheet = workbook.get_sheet_by_index(index)
                if sheet.height == 0:
                    continue
                any_cells = True
                header = _find_header(_padded_top(sheet), layout)
                if header is not None:
                    found = sheet, meta.name, header
                    break
                del sheet  # a loaded sheet can be large: let it go before loading the next
        finally:
            workbook.close()
    except python_calamine.PasswordError as error:
        raise _encrypted() from error
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise RosterFileError("file_unreadable", _("文件已损坏或格式不受支持，无法读取。")) from error
    finally:
        src.close()  # calamine holds the sheet in memory now

    if found is None:
        if not worksheets:  # every workbook has a visible sheet: this one's structure is damaged
            raise RosterFileError("file_unreadable", _("文件已损坏或格式不受支持，无法读取。"))
        if not any_cells:
            raise RosterFileError("file_empty", _("工作簿中没有任何数据。"))
        raise _header_not_found(layout)
    sheet, sheet_name, header = found
    _check_required(header.columns, layout)
    offset = sheet.start[1] if sheet.start else 0

    def open_cells() -> Iterator[Sequence[object]]:
        rows = sheet.iter_rows()  # calamine pads from row 1 but starts at the first used column
        if not offset:
            return rows
        pad = [""] * offset
        return (pad + row for row in rows)

    merged = [(r0, c0, r1, c1) for (r0, c0), (r1, c1) in (sheet.merged_cell_ranges or ())]
    return RosterSheet(
        format=kind,
        filename=filename,
        sheet_name=sheet_name,
        encoding=None,
        header_row=header.header_row,
        data_start=header.data_start,
        columns=header.columns,
        extra_columns=header.extra_columns,
        max_rows=max_rows,
        open_cells=open_cells,
        merged=merged,
        layout=layout,
    )


def _padded_top(sheet: python_calamine.CalamineSheet) -> list[Sequence[object]]:
    offset = sheet.start[1] if sheet.start else 0
    top = list(islice(sheet.iter_rows(), HEADER_SCAN_ROWS))
    return [[""] * offset + row for row in top] if offset else top


def _header_not_found(layout: SheetLayout) -> RosterFileError:
    return RosterFileError(
        "header_not_found",
        format_lazy(
            _("在前 {rows} 行中找不到表头行（应含{hint}等列名）。"), rows=HEADER_SCAN_ROWS, hint=layout.column_hint()
        ),
    )


# --- CSV ----------------------------------------------------------------------------------------------


def _detect_encoding(file: BinaryIO, head: bytes) -> str:
    """UTF-8 (with or without BOM) if the whole file decodes strictly as UTF-8, else GB18030 (a superset of
    GBK, what Excel on Chinese Windows saves), else give up. Streams: the file is never held whole."""
    if head.startswith(codecs.BOM_UTF8):
        candidates = ("utf-8-sig",)
    elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ("utf-16",)  # Excel's "Unicode text"
    elif b"\x00" in head:
        raise _not_spreadsheet()
    else:
        candidates = ("utf-8", "gb18030")
    for encoding in candidates:
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        file.seek(0)
        try:
            while chunk := file.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise RosterFileError(
        "encoding_unknown", _("无法识别 CSV 文件的文字编码（应为 UTF-8 或 GBK），请用 Excel 另存为 .xlsx 后上传。")
    )


def _open_csv(src: _Source, filename: str, max_rows: int, layout: SheetLayout) -> RosterSheet:
    encoding = _detect_encoding(src.file, src.head)
    file = src.file
    file.seek(0)
    sample = io.TextIOWrapper(file, encoding=encoding, newline="")
    try:
        text = sample.read(64 << 10)
    finally:
        sample.detach()
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise RosterFileError("file_empty", _("上传的文件是空的。"))
    if stripped.startswith("<"):
        raise _not_spreadsheet(_("文件内容是网页或 XML（常见于系统导出的“假 xls”）。"))
    lines = text.splitlines()[:HEADER_SCAN_ROWS]
    delimiter = max(",\t;", key=lambda d: (sum(line.count(d) for line in lines), d == ","))

    def open_cells() -> Iterator[Sequence[object]]:
        file.seek(0)
        stream = io.TextIOWrapper(file, encoding=encoding, newline="")
        try:
            yield from csv.reader(stream, delimiter=delimiter)
        except (csv.Error, UnicodeDecodeError) as error:
            raise RosterFileError("file_unreadable", _("CSV 文件格式有误，无法继续读取。")) from error
        finally:
            stream.detach()  # the file belongs to the sheet, not to this reader

    header = _find_header(list(islice(open_cells(), HEADER_SCAN_ROWS)), layout)
    if header is None:
        raise _header_not_found(layout)  # open_roster closes the file on the way out
    _check_required(header.columns, layout)
    return RosterSheet(
        format="csv",
        filename=filename,
        sheet_name="",
        encoding=encoding,
        header_row=header.header_row,
        data_start=header.data_start,
        columns=header.columns,
        extra_columns=header.extra_columns,
        max_rows=max_rows,
        open_cells=open_cells,
        closer=src.close,
        layout=layout,
    )
