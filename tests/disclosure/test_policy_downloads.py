"""Downloading the public policy list: the same rows as the page, Chinese file names, inert cells, no secrets."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from policies.selectors import public_entries
from tests.disclosure.helpers import csv_rows, demo_lists_seeded, entry, publish_new_list, secret_entry, xlsx_rows
from tests.policies.factories import entry_values

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_STARTS = ("=", "+", "-", "@")
CITY_DIBAO = "城市居民最低生活保障金"


@pytest.fixture(scope="module", autouse=True)
def _demo(django_db_setup, django_db_blocker):
    with demo_lists_seeded(django_db_blocker):
        yield


@pytest.fixture(autouse=True)
def _each_test_in_a_savepoint(db):
    """Everything a test adds is rolled back to the seeded demo lists."""


def _page_codes(client, url, **params) -> list[str]:
    html = client.get(url, params).content.decode()
    return re.findall(r'<td class="code" data-label="编码">([^<]+)</td>', html)


def _download(client, year, fmt, **params):
    response = client.get(f"/policies/{year}/export.{fmt}", params)
    assert response.status_code == 200
    return response


def _records(rows: list[list]) -> list[dict]:
    header, *data = rows
    return [dict(zip(header, row, strict=False)) for row in data]


def _xlsx_records(client, year, **params) -> list[dict]:
    return _records(xlsx_rows(_download(client, year, "xlsx", **params).content))


def _csv_records(client, year, **params) -> list[dict]:
    return _records(csv_rows(_download(client, year, "csv", **params).content))


def _all_cells(records: list[dict]) -> list:
    return [value for record in records for value in record.values()]


@pytest.mark.parametrize("params", [{}, {"department": "mz", "level": "central"}, {"q": "补贴"}, {"target": "老年人"}])
def test_the_xlsx_download_has_exactly_the_rows_of_the_filtered_page(client, params):
    page = _page_codes(client, "/policies/", **params)
    records = _xlsx_records(client, 2026, **params)

    assert page
    assert [record["政策编码"] for record in records] == page


@pytest.mark.parametrize("params", [{}, {"department": "nync"}, {"q": "低保", "level": "central"}])
def test_the_csv_download_is_utf8_with_a_bom_and_has_exactly_the_rows_of_the_filtered_page(client, params):
    page = _page_codes(client, "/policies/", **params)
    records = _csv_records(client, 2026, **params)

    assert page
    assert [record["政策编码"] for record in records] == page


def test_the_downloads_carry_what_the_page_says_about_a_policy(client):
    item = entry(2026, CITY_DIBAO)
    xlsx = next(r for r in _xlsx_records(client, 2026, q=CITY_DIBAO) if r["政策编码"] == item.policy.code)
    csv = next(r for r in _csv_records(client, 2026, q=CITY_DIBAO) if r["政策编码"] == item.policy.code)

    for record in (xlsx, csv):
        assert record["政策名称"] == CITY_DIBAO
        assert record["补贴对象"] == "城市低保对象"
        assert record["标准单位"] == "元/人·月"
    assert str(csv["补贴标准（元）"]) == "580.00"


def test_a_past_years_download_keeps_that_years_standard(client):
    item = entry(2025, CITY_DIBAO)
    past = next(r for r in _csv_records(client, 2025) if r["政策编码"] == item.policy.code)
    assert past["补贴标准（元）"] == "560.00"
    assert "惠民殡葬补贴" in [r["政策名称"] for r in _csv_records(client, 2025)]
    assert "惠民殡葬补贴" not in [r["政策名称"] for r in _csv_records(client, 2026)]


def test_a_download_is_typed_and_named_in_chinese(client):
    xlsx = _download(client, 2026, "xlsx")
    csv = _download(client, 2026, "csv")
    chinese_name = quote("2026年惠民惠农财政补贴政策清单")

    assert xlsx["Content-Type"] == XLSX
    assert csv["Content-Type"] == "text/csv; charset=utf-8"
    assert xlsx["Content-Disposition"] == (
        f"attachment; filename=\"policy-list-2026.xlsx\"; filename*=UTF-8''{chinese_name}.xlsx"
    )
    assert csv["Content-Disposition"].endswith(f"filename*=UTF-8''{chinese_name}.csv")
    assert xlsx["Cache-Control"] == "public, max-age=300"


def test_a_tampered_filter_is_ignored_by_the_download_as_by_the_page(client):
    assert len(_csv_records(client, 2026, level="galactic")) == public_entries(year=2026).count()


def test_a_draft_year_or_an_unknown_format_cannot_be_downloaded(client):
    assert client.get("/policies/2027/export.csv").status_code == 404
    assert client.get("/policies/2027/export.xlsx").status_code == 404
    assert client.get("/policies/2026/export.pdf").status_code == 404
    assert client.get("/policies/2026/export.csv")["Content-Type"] == "text/csv; charset=utf-8"


def test_a_cell_that_a_spreadsheet_would_run_as_a_formula_is_escaped_in_both_downloads(
    client, finance_admin, finance_reviewer
):
    department = entry(2026, CITY_DIBAO).department
    hostile = {
        "target_group": '=HYPERLINK("http://x")',
        "short_name": "+1+1",
        "business_office": "-2+3",
        "contact_office": "@SUM(A1)",
    }
    publish_new_list(
        finance_admin=finance_admin,
        finance_reviewer=finance_reviewer,
        year=2027,
        entries=[("MZ-90", entry_values(department, name="公式注入测试补贴", **hostile))],
    )

    page = client.get("/policies/", {"q": "公式注入"}).content.decode()
    assert "=HYPERLINK(&quot;http://x&quot;)" in page  # the page shows it as text, as typed
    for records in (_xlsx_records(client, 2027, q="公式注入"), _csv_records(client, 2027, q="公式注入")):
        assert len(records) == 1
        record = records[0]
        assert record["补贴对象"] == '\'=HYPERLINK("http://x")'
        assert record["简称"] == "'+1+1"
        assert record["业务科室"] == "'-2+3"
        assert record["咨询科室"] == "'@SUM(A1)"
        assert not [cell for cell in _all_cells(records) if isinstance(cell, str) and cell.startswith(FORMULA_STARTS)]


def test_a_secret_policy_is_in_no_download_of_its_year(client):
    secret = secret_entry()

    for params in [{}, {"department": secret.department.code}, {"q": secret.name}]:
        for records in (_xlsx_records(client, 2026, **params), _csv_records(client, 2026, **params)):
            text = " ".join(str(cell) for cell in _all_cells(records))
            assert secret.name not in text
            assert secret.policy.code not in text


def test_a_public_policy_does_not_reveal_the_code_of_a_secret_policy_it_excludes(
    client, finance_admin, finance_reviewer
):
    department = entry(2026, CITY_DIBAO).department
    public_code = entry(2026, "农村居民最低生活保障金").policy.code
    publish_new_list(
        finance_admin=finance_admin,
        finance_reviewer=finance_reviewer,
        year=2027,
        entries=[
            ("MZ-91", entry_values(department, name="某涉密救助", is_secret=True)),
            ("MZ-92", entry_values(department, name="某公开救助", exclusive_with=["MZ-91", public_code])),
        ],
    )

    detail = client.get("/policies/2027/MZ-92/").content.decode()
    assert f'href="/policies/2027/{public_code}/"' in detail
    assert "MZ-91" not in detail
    assert "某涉密救助" not in detail
    for records in (_xlsx_records(client, 2027, q="某公开救助"), _csv_records(client, 2027, q="某公开救助")):
        assert [record["政策编码"] for record in records] == ["MZ-92"]
        assert records[0]["不得同时享受的政策编码"] == public_code
        assert "MZ-91" not in " ".join(str(cell) for cell in _all_cells(records))


def test_public_downloads_leave_out_the_internal_secrecy_column(client):
    text = client.get("/policies/2026/export.csv").content.decode("utf-8-sig")
    header = text.splitlines()[0].split(",")
    assert "涉密" not in header
    assert "政策编码" in header and "补贴标准（元）" in header
