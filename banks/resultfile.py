"""Reading a bank's results (回盘) — a JSON body or a result file — into plain rows, with every problem found.

Both shapes become the same tuples (``ResultRow``) that banks/results.py stages and applies; nothing here touches
the database. The file format is docs/bank-file-format.md, "Result file".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from disbursement.enums import BankResult

BEIJING = ZoneInfo("Asia/Shanghai")
STATUSES = frozenset({BankResult.PAID.value, BankResult.FAILED.value, BankResult.RETURNED.value})
MAX_ERRORS = 100  # listed in an answer; beyond that only counted
REASON_MAX = 200
TXN_MAX = 64
_REF_TAIL = re.compile(r"^([0-9]{6,7})(?:-R([0-9]{1,3}))?$")


class ResultRow(NamedTuple):
    line: int  # the item's position (JSON, from 1) or its line in the file
    row: int  # the payment's roster row, read from its reference
    attempt: int
    ref: str
    status: str
    amount_fen: int | None
    reason_code: str
    reason: str
    bank_txn_id: str
    paid_at: dt.datetime | None


@dataclass
class Problems:
    """The errors of one submission: the first MAX_ERRORS in full, all of them counted."""

    items: list[dict] = field(default_factory=list)
    total: int = 0

    def add(self, code: str, detail: str, *, line: int | None = None, ref: str | None = None) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS:
            item = {"code": code, "detail": detail}
            if line is not None:
                item["line"] = line
            if ref is not None:
                item["payment_ref"] = ref
            self.items.append(item)

    def __bool__(self) -> bool:
        return self.total > 0

    @property
    def code(self) -> str:
        """The submission's one code: the errors' own when they all share it, else ``results_invalid``."""
        codes = {item["code"] for item in self.items}
        return codes.pop() if len(codes) == 1 else "results_invalid"


class RowReader:
    """Checks one result at a time against what does not need the database: the reference's shape, the status,
    the failure reason against the catalogue, the amount, the time."""

    def __init__(self, *, payout_code: str, reason_codes: Iterable[str], problems: Problems):
        self.prefix = f"{payout_code}-"
        self.reason_codes = frozenset(reason_codes)
        self.problems = problems

    def read(
        self,
        line: int,
        ref,
        status,
        *,
        amount=None,
        reason_code="",
        reason="",
        bank_txn_id="",
        paid_at=None,
        paid_at_format: str = "iso",
    ) -> ResultRow | None:
        add = self.problems.add
        ref = ref.strip() if isinstance(ref, str) else ""
        match = _REF_TAIL.match(ref[len(self.prefix) :]) if ref.startswith(self.prefix) else None
        if match is None:
            add("payment_not_in_batch", _("发放明细编号不属于本批次。"), line=line, ref=ref or None)
            return None
        status = status.strip() if isinstance(status, str) else status
        if status not in STATUSES:
            add(
                "unknown_status",
                _("未知的回盘状态 %(s)r：只能是 paid、failed 或 returned。") % {"s": status},
                line=line,
                ref=ref,
            )
            return None
        reason_code = "" if reason_code is None else reason_code.strip() if isinstance(reason_code, str) else None
        if reason_code is None:
            add("unknown_reason_code", _("失败原因代码须为文本。"), line=line, ref=ref)
            return None
        if status == BankResult.FAILED and not reason_code:
            add("reason_code_required", _("失败的发放须给出失败原因代码。"), line=line, ref=ref)
            return None
        if reason_code and reason_code not in self.reason_codes:
            add(
                "unknown_reason_code",
                _("失败原因代码 %(c)r 不在失败原因目录中。") % {"c": reason_code},
                line=line,
                ref=ref,
            )
            return None
        if not isinstance(reason, str) or not isinstance(bank_txn_id, str):
            add("invalid_field", _("失败原因说明和银行流水号须为文本。"), line=line, ref=ref)
            return None
        if len(reason) > REASON_MAX or len(bank_txn_id) > TXN_MAX:
            add("field_too_long", _("失败原因说明最多 200 字，银行流水号最多 64 位。"), line=line, ref=ref)
            return None
        fen = None
        if amount is not None and amount != "":
            fen = _fen(amount)
            if fen is None:
                add("invalid_amount", _("金额须为正整数（分）。"), line=line, ref=ref)
                return None
        when = None
        if paid_at not in (None, ""):
            when = _when(paid_at, paid_at_format)
            if when is None:
                example = "20261123093000" if paid_at_format == "compact" else "2026-11-23T09:30:00+08:00"
                add("invalid_paid_at", _("到账时间格式不对，应如 %(e)s。") % {"e": example}, line=line, ref=ref)
                return None
        tail_row, tail_attempt = match.groups()
        return ResultRow(
            line, int(tail_row), int(tail_attempt or 1), ref, status, fen, reason_code, reason.strip(),
            bank_txn_id.strip(), when,
        )  # fmt: skip


def _fen(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        fen = int(value)
        return fen if fen > 0 else None
    return None


def _compact(value: str) -> dt.datetime | None:
    """YYYYMMDDHHMMSS, Beijing time; the constructor checks the ranges (strptime would cost a third of a
    million-line file's reading)."""
    if len(value) != 14 or not value.isascii() or not value.isdigit():
        return None
    try:
        return dt.datetime(
            int(value[:4]), int(value[4:6]), int(value[6:8]), int(value[8:10]), int(value[10:12]), int(value[12:14]),
            tzinfo=BEIJING,
        )  # fmt: skip
    except ValueError:
        return None


def _when(value, fmt: str) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    if fmt == "compact":
        return _compact(value)
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=BEIJING)


@dataclass
class Declared:
    """What the sender says about the whole submission; checked against the rows and our amounts."""

    count: int | None = None
    total_fen: int | None = None


def json_rows(body, reader: RowReader, *, max_items: int) -> tuple[list[ResultRow], Declared]:
    """``{"results": [...], "count"?: n, "total_fen"?: fen}`` → rows; problems go to the reader's list."""
    problems = reader.problems
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        problems.add("invalid_body", _("请求体须为 JSON 对象，含 results 数组。"))
        return [], Declared()
    items = body["results"]
    if not items:
        problems.add("results_empty", _("results 为空。"))
        return [], Declared()
    if len(items) > max_items:
        problems.add(
            "too_many_results",
            _("一次最多提交 %(n)s 条 JSON 回盘；更多请用回盘文件。") % {"n": max_items},
        )
        return [], Declared()
    declared = Declared()
    for key in ("count", "total_fen"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.add("invalid_body", _("%(k)s 须为非负整数。") % {"k": key})
                return [], Declared()
            setattr(declared, key, value)
    rows = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.add("invalid_body", _("每条回盘须为 JSON 对象。"), line=position)
            continue
        row = reader.read(
            position,
            item.get("payment_ref"),
            item.get("status"),
            amount=item.get("amount_fen"),
            reason_code=item.get("reason_code") or "",
            reason=item.get("reason") or "",
            bank_txn_id=item.get("bank_txn_id") or "",
            paid_at=item.get("paid_at"),
        )
        if row is not None:
            rows.append(row)
    return rows, declared


def file_rows(lines: Iterator[bytes], reader: RowReader, *, encoding: str, batch_no: str, bank_code: str):
    """The result file, line by line → rows, as a generator; the header and trailer are checked on the way and
    their problems added to the reader's list."""
    problems = reader.problems
    state = FileState()
    number = 0
    pending_trailer = None
    prefix, reason_codes = reader.prefix, reader.reason_codes
    prefix_length, ref_tail = len(prefix), _REF_TAIL.match
    statuses, failed_status = STATUSES, BankResult.FAILED.value
    for number, raw in enumerate(lines, start=1):  # ``number`` is read after the loop
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            problems.add(
                "file_not_decodable", _("第 %(n)s 行不是 %(e)s 编码。") % {"n": number, "e": encoding}, line=number
            )
            continue
        text = text.rstrip("\r\n")
        if pending_trailer is not None:
            problems.add("trailer_not_last", _("尾记录之后还有内容。"), line=number)
            pending_trailer = None
        fields = text.split("|")
        kind = fields[0]
        if number == 1:
            if kind != "H" or len(fields) != 5:
                problems.add("missing_header", _("第 1 行须为首记录 H|批次号|银行代码|笔数|日期。"), line=1)
            else:
                if fields[1] != batch_no:
                    problems.add("batch_mismatch", _("首记录的批次号 %(b)s 不是本批次。") % {"b": fields[1]}, line=1)
                if fields[2] != bank_code:
                    problems.add("bank_mismatch", _("首记录的银行代码 %(b)s 不是本行。") % {"b": fields[2]}, line=1)
                state.header_count = _int_or_none(fields[3])
            continue
        if kind == "D":
            if len(fields) != 8:
                problems.add("bad_line", _("明细记录须有 8 个字段。"), line=number)
                continue
            state.lines += 1
            _d, ref, status, amount, code, reason, txn, paid = fields
            fen = int(amount) if amount.isascii() and amount.isdigit() else 0
            state.total_fen += fen
            # The common line, checked inline (a million of them: a call and a keyword dict each would cost
            # seconds); anything unusual goes through the reader, which says what is wrong with it.
            match = ref_tail(ref, prefix_length) if ref.startswith(prefix) else None
            if (
                match is not None
                and fen > 0
                and status in statuses
                and (code in reason_codes if code else status != failed_status)
                and len(reason) <= REASON_MAX
                and len(txn) <= TXN_MAX
                and (not paid or (len(paid) == 14 and paid.isascii() and paid.isdigit()))
            ):
                when = _compact(paid) if paid else None
                if when is not None or not paid:
                    tail_row, tail_attempt = match.groups()
                    yield ResultRow(
                        number, int(tail_row), int(tail_attempt) if tail_attempt else 1, ref, status, fen, code,
                        reason.strip(), txn.strip(), when,
                    )  # fmt: skip
                    continue
            row = reader.read(
                number, ref, status, amount=amount if amount else "x", reason_code=code, reason=reason,
                bank_txn_id=txn, paid_at=paid, paid_at_format="compact",
            )  # fmt: skip
            if row is not None:
                yield row
        elif kind == "T":
            pending_trailer = fields
            state.trailer = fields
        elif text == "" and number > 1:
            continue
        else:
            problems.add("bad_line", _("无法识别的记录类型 %(k)r。") % {"k": kind[:10]}, line=number)
    if number == 0:
        problems.add("results_empty", _("回盘文件为空。"))
        return
    trailer = state.trailer
    if trailer is None or len(trailer) != 3:
        problems.add("missing_trailer", _("最后一行须为尾记录 T|笔数|金额（分）。"))
        return
    count, total = _int_or_none(trailer[1]), _int_or_none(trailer[2])
    if count != state.lines or (state.header_count is not None and state.header_count != state.lines):
        problems.add("count_mismatch", _("首尾记录的笔数与明细行数（%(n)s）不符。") % {"n": state.lines})
    if total != state.total_fen:
        problems.add("total_mismatch", _("尾记录的总金额与明细金额之和（%(t)s 分）不符。") % {"t": state.total_fen})


@dataclass
class FileState:
    lines: int = 0
    total_fen: int = 0
    header_count: int | None = None
    trailer: list[str] | None = None


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None
