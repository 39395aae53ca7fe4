"""The error report a clerk downloads: their own rows that need fixing, with a column saying why."""

from __future__ import annotations

import io
from collections import defaultdict
from urllib.parse import quote

import xlsxwriter

from recipients import storage
from recipients.models import Roster, RosterIssue
from recipients.roster_file import RosterFileError, open_roster
from yikatong.spreadsheet import escape_formula


def error_report_filename(roster: Roster) -> str:
    name = f"{roster.payout.code}-名册问题-{roster.pk}.xlsx"
    return f"attachment; filename=\"roster-{roster.pk}-errors.xlsx\"; filename*=UTF-8''{quote(name)}"


def error_report_xlsx(roster: Roster) -> bytes:
    problems: dict[int, list[str]] = defaultdict(list)
    for row, column, message, warning in (
        RosterIssue.objects.filter(roster=roster)
        .order_by("row", "id")
        .values_list("row", "column", "message", "warning")
    ):
        problems[row].append(f"{'【提示】' if warning else ''}{column}：{message}" if column else message)

    output = io.BytesIO()
    book = xlsxwriter.Workbook(output, {"constant_memory": True, "in_memory": True})
    sheet = book.add_worksheet("问题行")
    text = book.add_format({"num_format": "@"})
    bold = book.add_format({"bold": True})
    if roster.file_error_code:
        sheet.write_row(0, 0, ["文件问题", "代码"], bold)
        sheet.write_row(1, 0, [roster.file_error_message, roster.file_error_code])
        book.close()
        return output.getvalue()
    try:
        sheet_in = open_roster(
            storage.load(roster.stored_file),
            filename=roster.filename,
            max_bytes=roster.size + 1,
            max_rows=max(roster.rows_read, 1) + 10,
        )
    except RosterFileError as error:
        sheet.write_row(0, 0, ["文件问题", "代码"], bold)
        sheet.write_row(1, 0, [str(error.message), error.code])
        book.close()
        return output.getvalue()
    # Every column of the clerk's own header, recognised or not, in their order: the report is their file,
    # trimmed to the rows to fix, so it can be corrected and uploaded again.
    columns = sorted([*sheet_in.columns.values(), *sheet_in.extra_columns], key=lambda column: column.index)
    last = len(columns) + 1
    sheet.write_row(0, 0, ["原行号", *[column.header_text for column in columns], "问题说明"], bold)
    out_row = 1
    if problems.get(0):
        # Findings about the file as a whole (its 合计 line disagreeing, say) come first.
        sheet.write_string(out_row, 0, "合计")
        sheet.write_string(out_row, last, "；".join(problems[0]))
        out_row += 1
    for raw in sheet_in.rows():
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
            else:
                sheet.write(out_row, position, value)
        sheet.write_string(out_row, last, "；".join(found))
        out_row += 1
    book.close()
    return output.getvalue()
