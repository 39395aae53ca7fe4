"""The error report a clerk downloads: their own rows that need fixing, with a column saying why."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from urllib.parse import quote

import xlsxwriter

from recipients import storage
from recipients.models import Roster, RosterIssue
from recipients.roster_file import ROSTER_LAYOUT, RosterFileError, SheetLayout, open_roster
from yikatong.spreadsheet import escape_formula


def error_report_filename(roster: Roster) -> str:
    name = f"{roster.payout.code}-名册问题-{roster.pk}.xlsx"
    return f"attachment; filename=\"roster-{roster.pk}-errors.xlsx\"; filename*=UTF-8''{quote(name)}"


def error_report_xlsx(roster: Roster) -> bytes:
    return problem_report_xlsx(
        issues=RosterIssue.objects.filter(roster=roster),
        stored_file=roster.stored_file,
        filename=roster.filename,
        size=roster.size,
        rows_read=roster.rows_read,
        file_error=(roster.file_error_code, roster.file_error_message),
    )


def problem_report_xlsx(
    *, issues, stored_file: str, filename: str, size: int, rows_read: int, file_error: tuple[str, str],
    layout: SheetLayout = ROSTER_LAYOUT,
) -> bytes:  # fmt: skip
    """The uploader's own rows that need fixing — every column of their header, in their order, plus 问题说明 —
    read again from the stored file: the report is their file trimmed to the rows to fix, to correct and send
    again. Rosters and reference files alike (`issues`: their issue rows; `layout`: how the file was read)."""
    problems: dict[int, list[str]] = defaultdict(list)
    for row, column, message, warning in issues.order_by("row", "id").values_list(
        "row", "column", "message", "warning"
    ):
        problems[row].append(f"{'【提示】' if warning else ''}{column}：{message}" if column else message)

    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"constant_memory": True, "in_memory": True})
    sheet = book.add_worksheet("问题行")
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"bold": True})

    def file_problem(message: str, code: str) -> bytes:
        sheet.write_row(0, 0, ["文件问题", "代码"], bold)
        sheet.write_row(1, 0, [message, code])
        book.close()
        return output.getvalue()

    code, message = file_error
    if code:
        return file_problem(message, code)
    try:
        sheet_in = open_roster(
            storage.load(stored_file),
            filename=filename,
            max_bytes=size + 1,
            max_rows=max(rows_read, 1) + 10,
            layout=layout,
        )
    except RosterFileError as error:
        return file_problem(str(error.message), error.code)
    with sheet_in:
        columns = sorted([*sheet_in.columns.values(), *sheet_in.extra_columns], key=lambda column: column.index)
        last = len(columns) + 1
        sheet.write_row(0, 0, ["原行号", *[column.header_text for column in columns], "问题说明"], bold)
        out_row = 1
        if problems.get(0):
            # Findings about the file as a whole (its 合计 line disagreeing, say) come first.
            sheet.write_string(out_row, 0, "合计")
            sheet.write_string(out_row, last, "；".join(problems[0]))
            out_row += 1
        for raw in sheet_in.rows() if problems else ():
            found = problems.get(raw.row)
            if not found:
                continue
            sheet.write_number(out_row, 0, raw.row)
            for position, column in enumerate(columns, start=1):
                value = raw.cells[column.index] if column.index < len(raw.cells) else None
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    # Identity and account numbers stay text, so Excel does not eat their digits.
                    sheet.write_string(out_row, position, escape_formula(value), text)
                elif isinstance(value, dt.date):
                    sheet.write_string(out_row, position, value.isoformat(), text)
                else:
                    sheet.write(out_row, position, value)
            sheet.write_string(out_row, last, "；".join(found))
            out_row += 1
    book.close()
    return output.getvalue()
