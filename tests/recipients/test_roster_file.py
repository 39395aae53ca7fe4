"""Opening a clerk's roster file: what it is by its content, hostile files refused, the header found among
title lines, and the data rows streamed up to the 合计 and signature lines."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from bench import synth
from recipients.roster_file import (
    HEADER_SYNONYMS,
    RosterFileError,
    ole_stream_names,
    open_roster,
)

MB = 1 << 20
HEADER = ["序号", "姓名", "身份证号码", "银行账号", "发放金额（元）"]
ZHANG = ["1", "张三", "410103199003071237", "6217001234567890128", "100"]
LI = ["2", "李四", "410103199003071245", "6217001234567890136", "100"]


def open_file(source, *, filename="名册.xlsx", max_bytes=10 * MB, max_rows=10_000, **kwargs):
    return open_roster(source, filename=filename, max_bytes=max_bytes, max_rows=max_rows, **kwargs)


def error_code(source, **kwargs) -> str:
    with pytest.raises(RosterFileError) as caught:
        open_file(source, **kwargs)
    assert str(caught.value.message)  # every refusal explains itself in Chinese
    return caught.value.code


def write_xlsx(path: Path, rows: list[list], *, merges: tuple[str, ...] = (), start_cell: str | None = None) -> Path:
    """A workbook whose first sheet holds `rows` from row 1 (or from `start_cell`), with merged ranges."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    first_row, first_col = (1, 1)
    if start_cell:
        cell = sheet[start_cell]
        first_row, first_col = cell.row, cell.column
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is not None and value != "":
                sheet.cell(row=first_row + r, column=first_col + c, value=value)
    for cell_range in merges:
        sheet.merge_cells(cell_range)
    workbook.save(path)
    return path


def rewrite_zip(source: Path, target: Path, *, replace: dict[str, bytes] | None = None, add=None) -> Path:
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info.filename)))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return target


def all_rows(sheet) -> list:
    return list(sheet.rows())


@pytest.fixture(scope="module")
def county():
    return synth.make_county(7)


@pytest.fixture
def simple_xlsx(tmp_path) -> Path:
    return write_xlsx(tmp_path / "simple.xlsx", [HEADER, ZHANG, LI])


# --- a real-looking roster -----------------------------------------------------------------------------


def test_it_reads_a_synthetic_roster_below_its_title_and_unit_lines(tmp_path, county):
    rows = list(synth.iter_roster_rows(7, county, 300, error_rate=0.05))
    path = tmp_path / "roster.xlsx"
    synth.write_roster_xlsx(rows, path, title="二七区高龄津贴发放名册", unit="填报单位：郑州市二七区民政局")

    with open_file(path) as sheet:
        assert sheet.format == "xlsx"
        assert sheet.header_row == 3
        assert {field: col.header_text for field, col in sheet.columns.items()} == {
            "seq": "序号",
            "name": "姓名",
            "id_number": "身份证号码",
            "township": "乡镇（街道）",
            "village": "村（社区）",
            "account": "银行账号",
            "bank": "开户银行",
            "amount": "发放金额（元）",
            "remark": "备注",
        }
        assert [col.header_text for col in sheet.extra_columns] == ["性别"]
        read = all_rows(sheet)

    assert len(read) == 300
    assert [raw.row for raw in read[:3]] == [4, 5, 6]
    assert read[0].values["name"] == rows[0]["姓名"]
    assert sheet.extra_values(read[0]) == {"性别": rows[0]["性别"]}
    assert sheet.declared_count == 300
    numeric = [Decimal(row["发放金额（元）"]) for row in rows if synth._as_number(row["发放金额（元）"]) is not None]
    assert sheet.declared_total == sum(numeric)
    assert sheet.trailing_rows_ignored == 0  # the signature line is expected, not a stray row


def test_an_id_typed_as_a_number_reaches_the_validator_as_the_float_excel_stored(tmp_path, county):
    rows = [row for row in synth.iter_roster_rows(7, county, 400, error_rate=0.2) if row["_defect"] == "id_not_text"]
    path = tmp_path / "floats.xlsx"
    synth.write_roster_xlsx(rows[:3], path)
    with open_file(path) as sheet:
        values = [raw.values["id_number"] for raw in sheet.rows()]
    assert all(isinstance(value, float) for value in values)
    assert values == pytest.approx([row["身份证号码"] for row in rows[:3]], rel=1e-15)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_it_reads_a_csv_in_utf8_with_or_without_bom_and_in_gbk(tmp_path, county, encoding):
    rows = list(synth.iter_roster_rows(7, county, 50))
    path = tmp_path / f"roster-{encoding}.csv"
    synth.write_roster_csv(rows, path, encoding=encoding)

    with open_file(path, filename="名册.csv") as sheet:
        read = all_rows(sheet)
        assert sheet.format == "csv"
        assert sheet.encoding == {"gbk": "gb18030"}.get(encoding, encoding)
        assert sheet.header_row == 1
        assert sheet.columns["id_number"].header_text == "身份证号码"
    assert [raw.values["name"] for raw in read] == [row["姓名"] for row in rows]
    assert read[0].row == 2


def test_a_csv_with_a_title_line_and_tab_separators_is_read(tmp_path):
    text = "二七区补贴名册\n" + "\n".join("\t".join(row) for row in (HEADER, ZHANG, LI)) + "\n"
    with open_file(text.encode("gb18030"), filename="名册.txt") as sheet:
        read = all_rows(sheet)
    assert sheet.header_row == 2
    assert [raw.row for raw in read] == [3, 4]
    assert read[1].values["account"] == "6217001234567890136"


def test_the_format_is_decided_by_content_not_by_the_name(simple_xlsx):
    with open_file(simple_xlsx.read_bytes(), filename="名册.csv") as sheet:
        assert sheet.format == "xlsx"
    text = "\n".join(",".join(row) for row in (HEADER, ZHANG)).encode()
    with open_file(text, filename="名册.xlsx") as sheet:
        assert sheet.format == "csv"


def test_it_accepts_a_path_a_string_bytes_a_seekable_and_an_unseekable_stream(simple_xlsx):
    class Unseekable(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            data = self._inner.read(len(buffer))
            buffer[: len(data)] = data
            return len(data)

    data = simple_xlsx.read_bytes()
    for source in (simple_xlsx, str(simple_xlsx), data, io.BytesIO(data), Unseekable(data)):
        with open_file(source) as sheet:
            assert [raw.values["name"] for raw in sheet.rows()] == ["张三", "李四"]


def test_rows_can_be_read_twice(tmp_path):
    text = "\n".join(",".join(row) for row in (HEADER, ZHANG, LI)).encode()
    with open_file(text, filename="名册.csv") as sheet:
        assert len(all_rows(sheet)) == len(all_rows(sheet)) == 2


# --- header detection ----------------------------------------------------------------------------------

DEFAULT_HEADER = {"name": "姓名", "id_number": "身份证号码", "account": "银行账号", "amount": "发放金额"}
SYNONYM_CASES = [(field, synonym) for field, synonyms in HEADER_SYNONYMS.items() for synonym in synonyms]


@pytest.mark.parametrize(("field", "synonym"), SYNONYM_CASES)
def test_each_header_synonym_is_recognised(tmp_path, field, synonym):
    header = DEFAULT_HEADER | {field: synonym}  # replaces a required column's name or adds an optional one
    path = write_xlsx(tmp_path / "h.xlsx", [list(header.values()), ["x"] * len(header)])
    with open_file(path) as sheet:
        assert sheet.columns[field].header_text == synonym
        assert sheet.extra_columns == ()


@pytest.mark.parametrize(
    ("written", "field"),
    [
        ("身 份 证 号 码", "id_number"),
        ("身份证号码（18位）", "id_number"),
        ("金额(元)", "amount"),
        ("发放金额\n（元）", "amount"),
        ("*姓名", "name"),
        ("姓名：", "name"),
        ("乡镇(街道)", "township"),
        ("村【社区】", "village"),
        ("银行账号（卡号）", "account"),
        ("　银行账号　", "account"),
    ],
)
def test_header_names_are_matched_without_spaces_brackets_or_units(tmp_path, written, field):
    header = [written] + [name for key, name in DEFAULT_HEADER.items() if key != field]
    path = write_xlsx(tmp_path / "h.xlsx", [header, ["x"] * len(header)])
    with open_file(path) as sheet:
        assert sheet.columns[field].header_text == written.strip()


def test_the_header_is_the_row_with_most_known_names_below_titles(tmp_path):
    rows = [
        ["二七区2026年11月高龄津贴发放名册"],
        ["填报单位：郑州市二七区民政局", "", "", "填报日期：2026年11月5日"],
        ["姓名说明：请填写户籍姓名"],
        [*HEADER, "性别", "家庭人口"],
        ZHANG,
    ]
    path = write_xlsx(tmp_path / "t.xlsx", rows, merges=("A1:E1",))
    with open_file(path) as sheet:
        assert sheet.header_row == 4
        assert [col.header_text for col in sheet.extra_columns] == ["性别", "家庭人口"]
        assert [raw.row for raw in sheet.rows()] == [5]


def test_a_header_over_two_rows_is_merged(tmp_path):
    rows = [
        ["序号", "姓名", "身份证号码", "银行信息", "", "发放金额"],
        ["", "", "", "开户行", "账号", ""],
        ["1", "张三", "410103199003071237", "农商银行", "6217001234567890128", "100"],
    ]
    path = write_xlsx(tmp_path / "two.xlsx", rows, merges=("D1:E1", "A1:A2", "B1:B2", "C1:C2", "F1:F2"))
    with open_file(path) as sheet:
        assert sheet.header_row == 1
        assert sheet.columns["account"].header_text == "账号"
        assert sheet.columns["bank"].header_text == "开户行"
        read = all_rows(sheet)
    assert [raw.row for raw in read] == [3]
    assert read[0].values["account"] == "6217001234567890128"


def test_when_two_columns_name_one_field_the_more_specific_name_wins(tmp_path):
    rows = [["姓名", "身份证号码", "银行账号", "发放标准", "发放金额"], ["张三", "x", "y", "100", "80"]]
    with open_file(write_xlsx(tmp_path / "two.xlsx", rows)) as sheet:
        assert sheet.columns["amount"].header_text == "发放金额"
        assert [col.header_text for col in sheet.extra_columns] == ["发放标准"]
        assert next(sheet.rows()).values["amount"] == "80"


def test_a_sheet_that_starts_in_column_b_keeps_sheet_column_numbers(tmp_path):
    path = write_xlsx(tmp_path / "b.xlsx", [HEADER, ZHANG], start_cell="B2")
    with open_file(path) as sheet:
        assert sheet.header_row == 2
        assert sheet.columns["name"].index == 2  # column C
        raw = next(sheet.rows())
    assert raw.row == 3
    assert raw.cells[2] == "张三"


# --- rows: blanks, merged cells, footers ---------------------------------------------------------------


def test_blank_rows_and_numbered_empty_template_rows_are_skipped(tmp_path):
    rows = [HEADER, ZHANG, [], ["", "  ", ""], LI, [3], [4]]
    with open_file(write_xlsx(tmp_path / "blank.xlsx", rows)) as sheet:
        assert [raw.row for raw in sheet.rows()] == [2, 5]


def test_merged_township_cells_fill_the_rows_they_cover_but_other_columns_stay_empty(tmp_path):
    header = ["乡镇", "村", "姓名", "身份证号码", "银行账号", "发放金额", "开户银行"]
    rows = [
        header,
        ["马寨镇", "王村", "张三", "410103199003071237", "6217001234567890128", 100, "农商行"],
        ["", "", "李四", "410103199003071245", "6217001234567890136", 100, ""],
        ["", "李村", "", "410103199003071253", "6217001234567890144", 100, ""],
        ["侯寨乡", "", "王五", "410103199003071261", "6217001234567890151", 100, ""],
    ]
    merges = ("A2:A4", "B2:B3", "C3:C4")
    with open_file(write_xlsx(tmp_path / "merged.xlsx", rows, merges=merges)) as sheet:
        read = all_rows(sheet)
    assert [raw.values["township"] for raw in read] == ["马寨镇", "马寨镇", "马寨镇", "侯寨乡"]
    assert [raw.values["village"] for raw in read] == ["王村", "王村", "李村", ""]
    assert [raw.values["name"] for raw in read] == ["张三", "李四", "", "王五"]  # names are never invented
    assert [raw.values["bank"] for raw in read] == ["农商行", "", "", ""]  # not merged: not filled


def test_the_totals_row_ends_the_data_and_its_total_and_count_are_kept(tmp_path):
    rows = [
        HEADER,
        ZHANG,
        LI,
        ["小计", "", "", "", 200],
        ["3", "王五", "410103199003071253", "6217001234567890144", 50.5],
        ["合　计", "共3人", "", "", 250.5],
        [],
        ["经办人：", "", "审核人："],
        ["单位负责人：王局长"],
        ["4", "赵六", "410103199003071261", "6217001234567890151", 100],
    ]
    with open_file(write_xlsx(tmp_path / "footer.xlsx", rows)) as sheet:
        read = all_rows(sheet)
        assert [raw.values["name"] for raw in read] == ["张三", "李四", "王五"]
        assert sheet.declared_total == Decimal("250.50")
        assert sheet.declared_count == 3
        assert sheet.trailing_rows_ignored == 1  # 赵六, below the signatures
        assert sheet.rows_read == 3


def test_a_totals_row_with_its_label_in_a_later_column_is_found(tmp_path):
    rows = [HEADER, ZHANG, ["", "总计", "", "", "100"], ["制表人：李四"]]
    with open_file(write_xlsx(tmp_path / "total.xlsx", rows)) as sheet:
        assert len(all_rows(sheet)) == 1
        assert sheet.declared_total == Decimal("100.00")
        assert sheet.declared_count is None


def test_a_signature_line_alone_ends_the_data(tmp_path):
    rows = [HEADER, ZHANG, ["填报人：张", "", "", "单位盖章"], LI]
    with open_file(write_xlsx(tmp_path / "sign.xlsx", rows)) as sheet:
        assert [raw.values["name"] for raw in sheet.rows()] == ["张三"]
        assert sheet.declared_total is None
        assert sheet.trailing_rows_ignored == 1


def test_full_width_digits_and_amounts_with_yuan_arrive_as_typed(tmp_path):
    rows = [HEADER, ["1", " 张三 ", "４１０１０３１９９００３０７１２３７", "6217 0012 3456 7890 128", "100元"]]
    with open_file(write_xlsx(tmp_path / "typed.xlsx", rows)) as sheet:
        values = next(sheet.rows()).values
    assert values["id_number"] == "４１０１０３１９９００３０７１２３７"  # cleaning is the validator's job
    assert values["amount"] == "100元"


# --- refusals ------------------------------------------------------------------------------------------


def test_an_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"")
    assert error_code(empty) == "file_empty"
    assert error_code(b"") == "file_empty"
    assert error_code(io.BytesIO(b"")) == "file_empty"
    assert error_code(b"\xef\xbb\xbf \r\n\r\n", filename="a.csv") == "file_empty"
    assert error_code(write_xlsx(tmp_path / "no-cells.xlsx", [])) == "file_empty"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(simple_xlsx, monkeypatch):
    size = simple_xlsx.stat().st_size
    opened = []
    monkeypatch.setattr("recipients.roster_file.open", lambda *args, **kwargs: opened.append(args), raising=False)
    assert error_code(simple_xlsx, max_bytes=size - 1) == "file_too_large"
    assert opened == []
    monkeypatch.undo()

    class Sized(io.BytesIO):
        size = 50 * MB

        def read(self, *args):
            raise AssertionError("read before the size check")

    assert error_code(Sized(b"x"), max_bytes=10 * MB) == "file_too_large"
    assert error_code(b"x" * 101, max_bytes=100) == "file_too_large"


def test_an_unsized_stream_is_cut_off_at_the_limit():
    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            buffer[:] = b"a" * len(buffer)
            return len(buffer)

    assert error_code(Endless(), max_bytes=3 * MB) == "file_too_large"


def test_a_picture_renamed_to_xlsx_is_not_a_spreadsheet(tmp_path):
    png = tmp_path / "photo.xlsx"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert error_code(png) == "file_not_spreadsheet"
    assert error_code(b"%PDF-1.7\n...", filename="名册.xls") == "file_not_spreadsheet"
    assert error_code(b"\x00\x01\x02binary", filename="名册.csv") == "file_not_spreadsheet"


def test_a_web_page_saved_as_xls_is_not_a_spreadsheet():
    page = "<html><body><table><tr><td>姓名</td></tr></table></body></html>".encode()
    with pytest.raises(RosterFileError) as caught:
        open_file(page, filename="导出.xls")
    assert caught.value.code == "file_not_spreadsheet"
    assert "网页" in str(caught.value.message)


def test_a_zip_that_is_no_workbook_is_not_a_spreadsheet(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    assert error_code(buffer.getvalue()) == "file_not_spreadsheet"


def ole2_file(*stream_names: str) -> bytes:
    """A minimal compound file (MS-CFB version 3): header, one FAT sector, one directory sector."""
    free, end, fat_sector = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<III", header, 0x2C, 1, 1, 0)  # FAT sectors, first directory sector, transaction
    struct.pack_into("<IIIII", header, 0x38, 4096, end, 0, end, 0)  # mini cutoff, mini FAT, DIFAT
    struct.pack_into("<109I", header, 0x4C, 0, *[free] * 108)
    fat = struct.pack("<128I", fat_sector, end, *[free] * 126)
    entries = b""
    names = [(5, "Root Entry"), *[(2, name) for name in stream_names]]
    for number, (kind, name) in enumerate(names):
        entry = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry[: len(encoded)] = encoded
        struct.pack_into("<HBB", entry, 0x40, len(encoded), kind, 1)
        right = number + 1 if 0 < number < len(names) - 1 else free
        child = 1 if number == 0 and len(names) > 1 else free
        struct.pack_into("<III", entry, 0x44, free, right, child)
        struct.pack_into("<I", entry, 0x74, end)
        entries += entry
    return bytes(header) + fat + entries.ljust(512, b"\x00")


def test_an_encrypted_workbook_is_refused_as_encrypted():
    encrypted = ole2_file("EncryptionInfo", "EncryptedPackage")
    assert ole_stream_names(io.BytesIO(encrypted)) == {"Root Entry", "EncryptionInfo", "EncryptedPackage"}
    with pytest.raises(RosterFileError) as caught:
        open_file(encrypted, filename="名册.xlsx")
    assert caught.value.code == "file_encrypted"
    assert "密码" in str(caught.value.message)


def test_an_encrypted_workbook_with_a_damaged_directory_is_still_recognised():
    damaged = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600 + "EncryptedPackage".encode("utf-16-le")
    assert ole_stream_names(io.BytesIO(damaged)) is None
    assert error_code(damaged) == "file_encrypted"


def test_an_office_file_that_is_no_workbook_is_not_a_spreadsheet():
    assert error_code(ole2_file("WordDocument"), filename="名册.xls") == "file_not_spreadsheet"


def test_a_damaged_xls_is_unreadable():
    # The directory says "Workbook", but there is no BIFF stream behind it.
    assert error_code(ole2_file("Workbook"), filename="名册.xls") == "file_unreadable"


def test_a_zip_bomb_is_refused_before_it_is_unpacked(simple_xlsx, tmp_path):
    zeros = b"0" * (20 * MB)
    bomb = rewrite_zip(simple_xlsx, tmp_path / "bomb.xlsx", add={"xl/worksheets/sheet2.xml": zeros})
    assert bomb.stat().st_size < MB
    assert error_code(bomb) == "file_zip_bomb"


def test_a_workbook_unpacking_beyond_the_limit_is_refused(simple_xlsx):
    assert error_code(simple_xlsx, max_unpacked_bytes=4096) == "file_zip_bomb"


@pytest.mark.parametrize(
    "prolog",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>',
        b'<?xml version="1.0"?>\n<!-- ' + b"<a>" * 2000 + b' -->\n<!DOCTYPE x SYSTEM "file:///etc/passwd">',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>'.encode("utf-16"),
    ],
    ids=["entity", "doctype-after-a-long-comment", "utf-16"],
)
def test_an_xml_part_declaring_a_doctype_is_refused(simple_xlsx, tmp_path, prolog):
    with zipfile.ZipFile(simple_xlsx) as archive:
        workbook_xml = archive.read("xl/workbook.xml")
    body = workbook_xml[workbook_xml.index(b"?>") + 2 :] if workbook_xml.startswith(b"<?xml") else workbook_xml
    if prolog.startswith((b"\xff\xfe", b"\xfe\xff")):
        body = body.decode().encode("utf-16-le")
    hostile = rewrite_zip(simple_xlsx, tmp_path / "xxe.xlsx", replace={"xl/workbook.xml": prolog + body})
    assert error_code(hostile) == "file_xml_entities"


def test_a_truncated_or_corrupt_workbook_is_unreadable(simple_xlsx, tmp_path):
    data = simple_xlsx.read_bytes()
    assert error_code(data[: len(data) // 2]) == "file_unreadable"
    corrupt = rewrite_zip(simple_xlsx, tmp_path / "corrupt.xlsx", replace={"xl/workbook.xml": b"<workbook><sheets"})
    assert error_code(corrupt) == "file_unreadable"
    not_xml = rewrite_zip(simple_xlsx, tmp_path / "not-xml.xlsx", replace={"xl/workbook.xml": b"PK\x00garbage"})
    assert error_code(not_xml) == "file_unreadable"


def test_a_sheet_without_a_recognisable_header_is_refused(tmp_path):
    rows = [["说明"], ["本表用于……"], ["甲", "乙", "丙"], ["1", "2", "3"]]
    assert error_code(write_xlsx(tmp_path / "none.xlsx", rows)) == "header_not_found"
    assert error_code(b"a,b,c\n1,2,3\n", filename="x.csv") == "header_not_found"


def test_a_header_lower_than_the_scan_window_is_not_found(tmp_path):
    rows = [[f"说明第{i}行"] for i in range(20)] + [HEADER, ZHANG]
    assert error_code(write_xlsx(tmp_path / "low.xlsx", rows)) == "header_not_found"


def test_missing_required_columns_are_named(tmp_path):
    rows = [["序号", "姓名", "身份证号码", "备注"], ["1", "张三", "x", ""]]
    with pytest.raises(RosterFileError) as caught:
        open_file(write_xlsx(tmp_path / "cols.xlsx", rows))
    assert caught.value.code == "columns_missing"
    message = str(caught.value.message)
    assert "银行账号" in message
    assert "发放金额" in message
    assert "姓名、" not in message


def test_more_rows_than_allowed_are_refused_while_streaming(tmp_path, county):
    path = tmp_path / "many.xlsx"
    synth.write_roster_xlsx(synth.iter_roster_rows(7, county, 30), path)
    with open_file(path, max_rows=30) as sheet:
        assert len(all_rows(sheet)) == 30
    with open_file(path, max_rows=29) as sheet, pytest.raises(RosterFileError) as caught:
        all_rows(sheet)
    assert caught.value.code == "too_many_rows"
    assert "29" in str(caught.value.message)


def test_a_csv_in_an_unknown_encoding_is_refused(tmp_path):
    path = tmp_path / "latin.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([HEADER, ZHANG])
    data = path.read_bytes() + b"\x81 \xff\n"  # neither UTF-8 nor GB18030
    assert error_code(data, filename="名册.csv") == "encoding_unknown"
