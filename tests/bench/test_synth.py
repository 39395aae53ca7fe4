"""The synthetic data generator (bench.synth): reproducible, valid where it should be, broken where asked."""

import csv
import dataclasses
import datetime as dt
import re
import unicodedata
from collections import Counter
from decimal import Decimal, InvalidOperation

import pytest
from stdnum import luhn
from stdnum.cn import ric

from bench import synth

N = 2_000


@pytest.fixture(scope="module")
def county():
    return synth.make_county(11)


@pytest.fixture(scope="module")
def people(county):
    return list(synth.iter_people(11, county, N))


@pytest.fixture(scope="module")
def defective_rows(county):
    return list(synth.iter_roster_rows(11, county, N, error_rate=0.2))


def clean(text: str) -> str:
    """What a tolerant importer does to an ID or account cell: full-width → ASCII, no spaces, upper-case X."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).upper()


def check_char_ok(id_number: str) -> bool:
    # stdnum's calc_check_digit takes the full 18 characters and ignores the last one.
    return len(id_number) == 18 and id_number[:17].isdigit() and ric.calc_check_digit(id_number) == id_number[-1]


def birth_date_of(id_number: str) -> dt.date | None:
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def is_amount(text: str) -> Decimal | None:
    try:
        return Decimal(text.strip().removesuffix("元"))
    except InvalidOperation:
        return None


def test_the_same_seed_gives_identical_output(county, people, tmp_path):
    assert synth.make_county(11) == county
    assert list(synth.iter_people(11, county, N)) == people
    assert list(synth.iter_roster_rows(11, county, 500, error_rate=0.1)) == list(
        synth.iter_roster_rows(11, county, 500, error_rate=0.1)
    )
    assert synth.iter_policies(11) == synth.iter_policies(11)
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    synth.write_roster_csv(synth.iter_roster_rows(11, county, 500, error_rate=0.1), first)
    synth.write_roster_csv(synth.iter_roster_rows(11, county, 500, error_rate=0.1), second)
    assert first.read_bytes() == second.read_bytes()


def test_a_different_seed_gives_different_output(county, people):
    other_county = synth.make_county(12)
    assert [t.name for t in other_county.townships] != [t.name for t in county.townships]
    others = list(synth.iter_people(12, county, N))
    assert {p.id_number for p in others} != {p.id_number for p in people}
    assert sum(a.name == b.name for a, b in zip(people, others, strict=True)) < N // 10
    assert synth.iter_policies(1) != synth.iter_policies(2)


def test_every_id_has_the_18_character_form_a_valid_check_character_a_real_birth_date_and_the_right_sex(people):
    for p in people:
        assert re.fullmatch(r"[0-9]{17}[0-9X]", p.id_number), p
        assert check_char_ok(p.id_number), p
        assert birth_date_of(p.id_number) == p.birth_date
        assert dt.date(1930, 1, 1) <= p.birth_date <= dt.date(2020, 12, 31)
        assert p.sex == ("M" if int(p.id_number[16]) % 2 else "F")


def test_birth_dates_are_skewed_old_and_both_sexes_are_present(people):
    born_before_1960 = sum(p.birth_date.year < 1960 for p in people)
    assert born_before_1960 > N * 0.45
    assert 0.4 < sum(p.sex == "M" for p in people) / N < 0.6


def test_most_ids_carry_the_county_code_and_a_few_another_county_of_the_province(county, people):
    regions = Counter(p.id_number[:6] for p in people)
    assert regions[county.code] > N * 0.9
    migrants = [r for r in regions if r != county.code]
    assert migrants
    assert all(r.startswith(county.code[:2]) for r in migrants)


def test_ids_are_unique_across_20k_people(county):
    ids = [p.id_number for p in synth.iter_people(3, county, 20_000)]
    assert len(set(ids)) == len(ids)


def test_ids_are_unique_even_when_everyone_is_born_in_the_same_few_years():
    # Uniqueness is structural: the (birth date, sequence) pair is a bijection of the person index.
    county = synth.make_county(5, townships=1, villages_per_township=1)
    keys = [synth._decode_key(k) for k in range(0, 200_000, 7)]
    assert len(set(keys)) == len(keys)
    assert len({p.id_number for p in synth.iter_people(5, county, 5_000, migrant_rate=0.0)}) == 5_000


def test_slicing_with_start_gives_the_same_people_as_one_run(county, people):
    sliced = []
    for start in range(0, N, 700):
        sliced += synth.iter_people(11, county, min(700, N - start), start=start)
    assert sliced == people
    assert synth.person_at(11, county, 1234) == people[1234]


def test_accounts_are_luhn_valid_except_the_intended_passbook_share(people):
    passbooks = [p for p in people if len(p.account) == 16]
    cards = [p for p in people if len(p.account) == 19]
    assert len(passbooks) + len(cards) == N
    assert all(p.account.isdigit() for p in people)
    assert all(luhn.is_valid(p.account) for p in cards)
    assert not any(luhn.is_valid(p.account) for p in passbooks)
    assert 0.005 < len(passbooks) / N < 0.05
    assert len({p.account for p in people}) == N


def test_card_numbers_start_with_their_banks_bin(people):
    bins = {b.code: b.bin for b in synth.BANKS}
    for p in people:
        if len(p.account) == 19:
            assert p.account.startswith(bins[p.bank_code])
    assert {p.bank_code for p in people} == set(bins)


def test_phones_are_11_digit_mobile_numbers(people):
    assert all(re.fullmatch(r"1[3-9][0-9]{9}", p.phone) for p in people)


def test_names_are_chinese_and_the_holder_differs_only_for_a_small_configurable_share(county, people):
    assert all(2 <= len(p.name) <= 4 and all("\u4e00" <= ch <= "\u9fff" for ch in p.name) for p in people)
    assert sum(p.holder_name != p.name for p in people) < N * 0.05
    spouses = list(synth.iter_people(11, county, 500, holder_mismatch_rate=0.5))
    assert 150 < sum(p.holder_name != p.name for p in spouses) < 350
    assert tuple(f.name for f in dataclasses.fields(synth.Person)) == synth.PERSON_FIELDS


def test_people_are_frozen(people):
    with pytest.raises(dataclasses.FrozenInstanceError):
        people[0].name = "someone else"


def test_division_codes_are_hierarchical_and_names_end_properly(county):
    assert county.code == "410103" and county.name == "二七区"
    assert len(county.townships) == 12
    for k, township in enumerate(county.townships, start=1):
        assert township.code == f"{county.code}{k:03d}"
        assert township.name.endswith(("街道", "镇", "乡"))
        assert len(township.villages) == 10
        assert len({v.name for v in township.villages}) == 10
        for j, village in enumerate(township.villages, start=1):
            assert village.code == f"{township.code}{j:03d}"
            assert village.code.startswith(township.code) and len(village.code) == 12
            assert village.name.endswith(("村", "社区"))
    assert len({t.name for t in county.townships}) == 12
    village_codes = {v.code for v in county.villages()}
    assert len(village_codes) == 120


def test_people_live_in_the_countys_villages(county, people):
    village_codes = {v.code for v in county.villages()}
    assert all(p.village_code in village_codes for p in people)


def test_division_rows_list_parents_before_children_and_the_csv_has_a_code_name_header(county, tmp_path):
    rows = list(synth.county_division_rows(county))
    assert rows[0] == (county.code, county.name)
    assert len(rows) == 1 + 12 + 120
    seen = set()
    for code, _name in rows:
        if len(code) > 6:
            assert code[: len(code) - 3] in seen
        seen.add(code)
    path = tmp_path / "divisions.csv"
    assert synth.write_divisions_csv(county, path) == len(rows)
    with path.open(encoding="utf-8", newline="") as fh:
        read = list(csv.reader(fh))
    assert read[0] == ["code", "name"]
    assert [tuple(r) for r in read[1:]] == rows


def test_a_county_of_another_size_and_code():
    county = synth.make_county(2, code="411421", name="民权县", townships=3, villages_per_township=40)
    assert [t.code for t in county.townships] == ["411421001", "411421002", "411421003"]
    assert sum(1 for _ in county.villages()) == 120
    assert all(p.id_number[:2] == "41" for p in synth.iter_people(2, county, 300))


def test_roster_rows_have_the_clerks_columns(county):
    rows = list(synth.iter_roster_rows(11, county, 50))
    assert all(tuple(r)[:-1] == synth.COLUMNS and "_defect" in r for r in rows)
    assert [r["序号"] for r in rows] == list(range(1, 51))
    assert {r["性别"] for r in rows} <= {"男", "女"}
    assert all(r["_defect"] is None for r in rows)


def test_roster_rows_without_errors_are_all_good_after_tolerant_cleaning(county):
    rows = list(synth.iter_roster_rows(11, county, N, error_rate=0.0))
    assert all(r["_defect"] is None for r in rows)
    ids = [clean(r["身份证号码"]) for r in rows]
    assert all(check_char_ok(i) and birth_date_of(i) for i in ids)
    assert len(set(ids)) == N
    for r in rows:
        assert r["姓名"].strip()
        assert re.fullmatch(r"[0-9]{16,19}", clean(r["银行账号"]))
        assert is_amount(r["发放金额（元）"]) == Decimal("100")


def test_rows_carry_the_announced_defect_and_good_rows_none(county, defective_rows):
    by_defect = Counter(r["_defect"] for r in defective_rows)
    assert set(by_defect) == {None, *synth.DEFECTS}
    assert 0.15 * N < N - by_defect[None] < 0.25 * N
    earlier_ids = set()
    for r in defective_rows:
        defect, raw_id = r["_defect"], r["身份证号码"]
        id_text = clean(raw_id) if isinstance(raw_id, str) else None
        account, amount = clean(r["银行账号"]), is_amount(r["发放金额（元）"])
        if defect != "id_not_text":
            assert isinstance(raw_id, str)
        if defect is None:
            assert check_char_ok(id_text) and birth_date_of(id_text)
            assert r["姓名"].strip()
            assert re.fullmatch(r"[0-9]{16,19}", account)
            assert amount is not None and amount > 0
            assert id_text not in earlier_ids
        elif defect == "id_checksum":
            assert len(id_text) == 18 and not check_char_ok(id_text)
        elif defect == "id_not_text":
            assert isinstance(raw_id, float) and raw_id > 1e17
        elif defect == "id_birthdate":
            assert check_char_ok(id_text) and birth_date_of(id_text) is None
        elif defect == "name_missing":
            assert r["姓名"] == ""
        elif defect == "account_format":
            assert not re.fullmatch(r"[0-9]{16,19}", account)
        elif defect == "amount_invalid":
            assert amount is None
        elif defect == "amount_not_positive":
            assert amount is not None and amount <= 0
        elif defect == "duplicate_in_file":
            assert id_text in earlier_ids and check_char_ok(id_text)
        if defect not in {"id_checksum", "id_not_text", "id_birthdate"}:
            assert check_char_ok(id_text) and birth_date_of(id_text)
        if defect != "account_format":
            assert re.fullmatch(r"[0-9]{16,19}", account)
        if defect not in {"amount_invalid", "amount_not_positive"}:
            assert amount is not None and amount > 0
        if defect != "name_missing":
            assert r["姓名"].strip()
        if id_text is not None:
            earlier_ids.add(id_text)


def test_which_rows_are_defective_is_reproducible_and_a_small_error_rate_stays_small(county, defective_rows):
    again = [r["_defect"] for r in synth.iter_roster_rows(11, county, N, error_rate=0.2)]
    assert again == [r["_defect"] for r in defective_rows]
    few = sum(r["_defect"] is not None for r in synth.iter_roster_rows(11, county, N, error_rate=0.01))
    assert 0 < few < 0.03 * N


def test_rosters_have_the_quirks_of_real_files(county):
    rows = list(synth.iter_roster_rows(11, county, 20_000))
    ids = [r["身份证号码"] for r in rows]
    assert any(re.search("[０-９]", i) for i in ids)
    assert any(i != i.strip() for i in ids)
    assert any(r["姓名"] != r["姓名"].strip() or " " in r["姓名"] for r in rows)
    assert any(r["发放金额（元）"] == "100元" for r in rows)
    assert all(r["_defect"] is None for r in rows)
    plain = list(synth.iter_roster_rows(11, county, 2_000, quirks=False))
    assert all(r["发放金额（元）"] == "100.00" and r["身份证号码"].isascii() for r in plain)


def test_the_csv_holds_every_row_and_a_float_id_looks_like_a_spreadsheet_export(county, defective_rows, tmp_path):
    path = tmp_path / "roster.csv"
    assert synth.write_roster_csv(iter(defective_rows), path) == N
    with path.open(encoding="utf-8", newline="") as fh:
        read = list(csv.reader(fh))
    assert tuple(read[0]) == synth.COLUMNS
    assert len(read) == N + 1
    for row, line in zip(defective_rows, read[1:], strict=True):
        if row["_defect"] == "id_not_text":
            assert re.fullmatch(r"4\.[0-9]{14}e\+17", line[2])
        else:
            assert line[2] == row["身份证号码"]


def test_a_gbk_csv_can_be_written_and_read_back(county, tmp_path):
    path = tmp_path / "roster-gbk.csv"
    rows = list(synth.iter_roster_rows(11, county, 500, error_rate=0.1))
    synth.write_roster_csv(rows, path, encoding="gbk")
    with path.open(encoding="gbk", newline="") as fh:
        read = list(csv.reader(fh))
    assert [line[1] for line in read[1:]] == [r["姓名"] for r in rows]


def test_the_xlsx_opens_with_openpyxl_and_its_id_and_account_cells_are_strings(county, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = tmp_path / "roster.xlsx"
    rows = list(synth.iter_roster_rows(11, county, 400, error_rate=0.1))
    assert synth.write_roster_xlsx(iter(rows), path) == 400
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        values = list(workbook.active.iter_rows(values_only=True))
    finally:
        workbook.close()
    assert values[0][0] == "二七区高龄津贴发放名册"
    assert values[1][0].startswith("填报单位：")
    assert tuple(values[2]) == synth.COLUMNS
    data = values[3 : 3 + 400]
    for row, cells in zip(rows, data, strict=True):
        if row["_defect"] == "id_not_text":
            assert isinstance(cells[2], float)
        else:
            assert isinstance(cells[2], str) and cells[2] == row["身份证号码"]
        assert isinstance(cells[6], str) and cells[6] == row["银行账号"]
        assert (cells[1] or "") == row["姓名"]
    totals = values[3 + 400]
    assert totals[0] == "合计"
    expected = sum(
        Decimal(r["发放金额（元）"]) for r in rows if re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", r["发放金额（元）"])
    )
    assert Decimal(str(totals[8])) == expected
    assert any(row and isinstance(row[0], str) and row[0].startswith("经办人：") for row in values[-3:])


def test_policies_number_at_least_40_across_at_least_10_departments_with_unique_codes():
    for seed in range(5):
        policies = synth.iter_policies(seed)
        assert len(policies) == 45
        assert len({p["code"] for p in policies}) == 45
        assert len({p["name"] for p in policies}) == 45
        assert len({p["department"] for p in policies}) >= 10
        for p in policies:
            assert p["level"] in {"central", "provincial", "municipal", "county"}
            assert p["frequency"] in {"monthly", "quarterly", "yearly", "one_off"}
            assert Decimal(p["standard"]) > 0 and p["standard"] == f"{Decimal(p['standard']):.2f}"
            assert p["unit"].startswith("元/") and p["target_group"]
    names = {p["name"] for p in synth.iter_policies(1, n=58)}
    assert {"高龄津贴（80—89周岁）", "耕地地力保护补贴", "农村居民最低生活保障金", "重度残疾人护理补贴"} <= names


def test_more_policies_than_the_catalogue_adds_later_rounds_with_unique_codes():
    policies = synth.iter_policies(3, n=130)
    assert len(policies) == 130
    assert len({p["code"] for p in policies}) == 130


def test_the_command_line_writes_files_and_reports_the_rate(tmp_path, capsys):
    out = tmp_path / "synth" / "roster.csv"
    assert synth.main(["roster", "--seed", "1", "--rows", "300", "--out", str(out), "--error-rate", "0.05"]) == 0
    assert "300 roster rows written" in capsys.readouterr().out
    assert len(out.read_text(encoding="utf-8").splitlines()) == 301

    xlsx = tmp_path / "roster.xlsx"
    assert synth.main(["roster", "--rows", "50", "--out", str(xlsx)]) == 0
    assert xlsx.read_bytes()[:2] == b"PK"

    divisions = tmp_path / "divisions.csv"
    assert synth.main(["divisions", "--seed", "1", "--out", str(divisions)]) == 0
    assert "133 division rows" in capsys.readouterr().out

    people = tmp_path / "people.csv"
    assert synth.main(["people", "--seed", "1", "--rows", "20", "--start", "5", "--out", str(people)]) == 0
    with people.open(encoding="utf-8", newline="") as fh:
        read = list(csv.DictReader(fh))
    expected = synth.person_at(1, synth.make_county(1), 5)
    assert read[0]["id_number"] == expected.id_number and read[0]["name"] == expected.name

    policies = tmp_path / "policies.csv"
    assert synth.main(["policies", "--out", str(policies)]) == 0
    assert "45 policy rows" in capsys.readouterr().out

    with pytest.raises(SystemExit) as exc:
        synth.main(["--help"])
    assert exc.value.code == 0
    assert "roster" in capsys.readouterr().out
