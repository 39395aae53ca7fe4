"""Reading reference sources and loads as the asking user may see them, and a load's error report."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from urllib.parse import quote

import xlsxwriter

from checks.models import ReferenceIssue, ReferenceLoad, ReferenceSource
from checks.reference_rows import layout_for
from recipients import storage
from recipients.roster_file import RosterFileError, open_roster
from yikatong.spreadsheet import escape_formula


def reference_sources_visible_to(user):
    """Sources of the user's own department (all of them for county-wide roles), with their current load."""
    return ReferenceSource.objects.visible_to(user).select_related("department", "policy", "current_load")


def reference_loads_visible_to(user):
    return ReferenceLoad.objects.visible_to(user).select_related("source", "job", "uploaded_by")


def reference_issues(load: ReferenceLoad):
    return ReferenceIssue.objects.filter(load=load).order_by("row", "id")


def reference_error_report_filename(load: ReferenceLoad) -> str:
    name = f"{load.source.name}-{load.as_of:%Y%m%d}-问题行-{load.pk}.xlsx"
    return f"attachment; filename=\"reference-{load.pk}-errors.xlsx\"; filename*=UTF-8''{quote(name)}"


def reference_error_report_xlsx(load: ReferenceLoad) -> bytes:
    """The uploader's own rows that need fixing, every column of their header, plus a 问题说明 column.

    Like a roster's report it holds ID numbers as typed: it is the file the department corrects and sends again.
    """
    problems: dict[int, list[str]] = defaultdict(list)
    for row, column, message, warning in reference_issues(load).values_list("row", "column", "message", "warning"):
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

    if load.file_error_code:
        return file_problem(load.file_error_message, load.file_error_code)
    try:
        sheet_in = open_roster(
            storage.load(load.stored_file),
            filename=load.filename,
            max_bytes=load.size + 1,
            max_rows=max(load.rows_read, 1) + 10,
            layout=layout_for(load.source.kind),
        )
    except RosterFileError as error:
        return file_problem(str(error.message), error.code)
    with sheet_in:
        columns = sorted([*sheet_in.columns.values(), *sheet_in.extra_columns], key=lambda column: column.index)
        last = len(columns) + 1
        sheet.write_row(0, 0, ["原行号", *[column.header_text for column in columns], "问题说明"], bold)
        out_row = 1
        if problems:
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
                        # ID numbers stay text, so Excel does not eat their digits.
                        sheet.write_string(out_row, position, escape_formula(value), text)
                    elif isinstance(value, dt.date):
                        sheet.write_string(out_row, position, value.isoformat(), text)
                    else:
                        sheet.write(out_row, position, value)
                sheet.write_string(out_row, last, "；".join(found))
                out_row += 1
    book.close()
    return output.getvalue()
