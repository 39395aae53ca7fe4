"""The public policy list as a visitor sees it: this year and past years, filters, changes, one policy, secrecy."""

from __future__ import annotations

import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from policies.models import PolicyEntry
from policies.selectors import public_entries
from policies.services import policy_entry_update
from tests.disclosure.helpers import demo_lists_seeded, draft_list, entry, publish_new_list, secret_entry
from tests.policies.factories import entry_values

CITY_DIBAO = "城市居民最低生活保障金"
RURAL_DIBAO = "农村居民最低生活保障金"


@pytest.fixture(scope="module", autouse=True)
def _demo(django_db_setup, django_db_blocker):
    with demo_lists_seeded(django_db_blocker):
        yield


@pytest.fixture(autouse=True)
def _each_test_in_a_savepoint(db):
    """Everything a test adds is rolled back to the seeded demo lists."""


def _page(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, url
    return response.content.decode()


def _table(html: str) -> str:
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""


def _rows(html: str) -> list[str]:
    """The visible text of each policy row of the list table."""
    return [_text(row).strip() for row in _table(html).split("<tr>")[1:]]


def _row(html: str, name: str) -> str:
    matches = [row for row in _rows(html) if f" {name} " in f" {row} "]
    assert len(matches) == 1, name
    return matches[0]


def _changes_section(html: str) -> str:
    return html.split('id="changes-heading"', 1)[1].split("</section>", 1)[0]


def _without_echo(html: str) -> str:
    """The page less the form and download links, which echo back what the visitor typed."""
    return re.sub(r'<form.*?</form>|<p class="downloads">.*?</p>', "", html, flags=re.S)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# --- The current list --------------------------------------------------------------------------


def test_the_current_list_shows_every_public_2026_policy_with_its_standard_and_a_count(client):
    html = _page(client, "/policies/")

    expected = list(public_entries(year=2026))
    assert len(expected) >= 40
    assert "2026年惠民惠农财政补贴政策清单" in html
    assert f"共 {len(expected)} 项政策" in html
    assert len(_rows(html)) == len(expected)
    for item in expected:
        assert item.name in html
    row = _row(html, CITY_DIBAO)
    assert row.split()[0] == entry(2026, CITY_DIBAO).policy.code
    assert "二七区民政局" in row
    assert "中央" in row
    assert "580.00 元/人·月" in row
    assert "按月" in row
    assert "城市低保对象" in row


def test_filtering_by_department_shows_only_that_departments_policies(client):
    html = _page(client, "/policies/", department="nync")

    expected = public_entries(year=2026, department="nync")
    assert 0 < expected.count() < public_entries(year=2026).count()
    assert f"符合条件的政策共 {expected.count()} 项" in html
    assert len(_rows(html)) == expected.count()
    assert all("二七区农业农村工作委员会" in row for row in _rows(html))
    assert CITY_DIBAO not in _table(html)
    assert '<option value="nync" selected>' in html


def test_filtering_by_level_shows_only_policies_of_that_level(client):
    html = _page(client, "/policies/", level="county")

    rows = _rows(html)
    assert len(rows) == public_entries(year=2026, level="county").count() > 0
    assert all("县（区）级" in row for row in rows)
    assert all(" 中央 " not in f" {row} " for row in rows)


def test_a_keyword_and_a_target_group_narrow_the_list(client):
    by_keyword = _rows(_page(client, "/policies/", q="低保"))
    by_target = _rows(_page(client, "/policies/", target="老年人"))

    assert {row.split()[1] for row in by_keyword} >= {CITY_DIBAO, RURAL_DIBAO}
    assert len(by_keyword) == public_entries(year=2026, q="低保").count()
    assert len(by_target) == public_entries(year=2026, target="老年人").count() > 0
    assert all("老年人" in row for row in by_target)


def test_filters_combine(client):
    rows = _rows(_page(client, "/policies/", department="mz", level="central", q="低保"))
    assert sorted(row.split()[1] for row in rows) == sorted([CITY_DIBAO, RURAL_DIBAO])


def test_a_filter_that_matches_nothing_says_so(client):
    html = _page(client, "/policies/", q="不存在的政策名称")
    assert "符合条件的政策共 0 项" in html
    assert "没有符合条件的政策" in html


def test_a_tampered_filter_value_is_reported_and_ignored(client):
    html = _page(client, "/policies/", level="galactic", department="no-such-dept")

    assert "部分筛选条件无效" in html
    assert len(_rows(html)) == public_entries(year=2026).count()


def test_the_download_links_carry_the_same_filters(client):
    html = _page(client, "/policies/", department="mz", q="低保")
    assert 'href="/policies/2026/export.xlsx?department=mz&amp;q=%E4%BD%8E%E4%BF%9D"' in html
    assert 'href="/policies/2026/export.csv?department=mz&amp;q=%E4%BD%8E%E4%BF%9D"' in html


# --- Past years --------------------------------------------------------------------------------


def test_every_published_year_is_linked(client):
    html = _page(client, "/policies/")
    assert 'href="/policies/2025/"' in html
    assert 'href="/policies/2026/" aria-current="page"' in html


def test_a_past_year_still_shows_its_own_standard(client):
    past = _page(client, "/policies/2025/")
    current = _page(client, "/policies/2026/")

    assert "2025年惠民惠农财政补贴政策清单" in past
    assert "往年清单" in past
    assert "560.00 元/人·月" in _row(past, CITY_DIBAO)
    assert "580.00 元/人·月" in _row(current, CITY_DIBAO)
    assert "惠民殡葬补贴" in past  # withdrawn in 2026, still on the 2025 list
    assert "惠民殡葬补贴" not in _table(current)


def test_the_published_past_lists_do_not_change_when_next_years_draft_is_edited(client, finance_admin):
    before_2025, before_2026 = _rows(_page(client, "/policies/2025/")), _rows(_page(client, "/policies/2026/"))
    draft = draft_list(finance_admin=finance_admin, year=2027)
    policy_entry_update(
        acting_user=finance_admin,
        entry=PolicyEntry.objects.get(policy_list=draft, name=CITY_DIBAO),
        values={"standard_amount": Decimal("650.00")},
    )

    assert _rows(_page(client, "/policies/2025/")) == before_2025
    assert _rows(_page(client, "/policies/2026/")) == before_2026
    assert "650.00" not in _page(client, "/policies/")
    code = entry(2025, CITY_DIBAO).policy.code
    assert "560.00" in _page(client, f"/policies/2025/{code}/")
    assert "580.00" in _page(client, f"/policies/2026/{code}/")


# --- What changed ------------------------------------------------------------------------------


def test_the_changes_section_names_the_added_withdrawn_and_changed_policies(client):
    section = _text(_changes_section(_page(client, "/policies/")))

    assert "与2025年清单相比" in section
    added = section.split("新增政策", 1)[1].split("退出政策", 1)[0]
    withdrawn = section.split("退出政策", 1)[1].split("调整政策", 1)[0]
    changed = section.split("调整政策", 1)[1]
    assert "（2 项）" in added
    assert "自然灾害倒损住房恢复重建补助" in added
    assert "大中型水库移民后期扶持" in added
    assert "（1 项）" in withdrawn
    assert "惠民殡葬补贴" in withdrawn
    assert "（2 项）" in changed
    assert f"{CITY_DIBAO}" in changed
    assert "补贴标准（元）： 原为 560.00 → 调整为 580.00" in changed
    assert "补贴标准（元）： 原为 420.00 → 调整为 440.00" in changed


def test_a_withdrawn_policy_links_to_its_page_in_the_year_it_was_last_listed(client):
    code = entry(2025, "惠民殡葬补贴").policy.code
    section = _changes_section(_page(client, "/policies/"))
    assert f'href="/policies/2025/{code}/"' in section
    assert client.get(f"/policies/2026/{code}/").status_code == 404
    assert client.get(f"/policies/2025/{code}/").status_code == 200


def test_the_first_published_year_has_nothing_to_compare_with(client):
    assert "没有可比较的上年清单" in _changes_section(_page(client, "/policies/2025/"))


# --- One policy --------------------------------------------------------------------------------


def test_a_policy_page_shows_its_basis_standard_eligibility_funding_and_contact(client):
    item = entry(2026, CITY_DIBAO)
    rural = entry(2026, RURAL_DIBAO)
    html = _page(client, f"/policies/2026/{item.policy.code}/")
    text = _text(html)

    assert f"<h1>{CITY_DIBAO}</h1>" in html
    assert item.policy.code in text
    # Basis
    assert item.basis_title in text
    assert item.basis_number in text
    assert "财政部" in text
    assert f"{item.basis_date.year}年{item.basis_date.month}月{item.basis_date.day}日" in text
    # Standard
    assert "580.00 元/人·月" in text
    assert "定额" in text
    assert "按月" in text
    assert "到人" in text
    # Target, eligibility and restrictions
    assert "城市低保对象" in text
    assert item.scope in text
    assert "财政供养人员 不得享受" in text  # 低保 is closed to public employees (财政供养人员)
    assert f'href="/policies/2026/{rural.policy.code}/"' in html
    assert RURAL_DIBAO in text
    # Level and funding shares
    assert "中央分担 80%" in text
    assert "省级分担 10%" in text
    # Department and contact
    assert "二七区民政局" in text
    assert item.business_office in text
    assert item.contact_office in text
    assert f'href="tel:{item.contact_phone}"' in html


def test_a_per_unit_policy_page_explains_how_the_quantity_counts(client):
    item = PolicyEntry.objects.filter(policy_list__year=2026, standard_kind="per_unit", is_secret=False).first()
    text = _text(_page(client, f"/policies/2026/{item.policy.code}/"))

    assert f"{item.standard_amount} {item.standard_unit}" in text
    assert "单价×数量" in text
    assert f"按{item.quantity_unit}数计发" in text
    assert "到户" in text


def test_a_policy_closed_to_public_employees_says_so(client):
    item = PolicyEntry.objects.filter(policy_list__year=2026, excludes_public_employees=True, is_secret=False).first()
    assert "财政供养人员 不得享受" in _text(_page(client, f"/policies/2026/{item.policy.code}/"))


def test_an_age_bounded_policy_page_shows_its_age_range(client):
    item = entry(2026, "高龄津贴（80—89周岁）")
    text = _text(_page(client, f"/policies/2026/{item.policy.code}/"))
    assert "年龄 80—89周岁" in text


def test_a_past_years_policy_page_says_it_is_from_a_past_year(client):
    item = entry(2025, CITY_DIBAO)
    html = _page(client, f"/policies/2025/{item.policy.code}/")
    assert "2025年清单（往年）" in html
    assert "560.00" in html


# --- Secrecy and what does not exist -----------------------------------------------------------


def _public_2026_responses(client, secret: PolicyEntry) -> list[str]:
    urls = ["/", "/policies/", "/policies/2026/"]
    queries = [
        {"department": secret.department.code},
        {"q": secret.name},
        {"q": secret.policy.code},
        {"target": secret.target_group},
        {"level": secret.level},
    ]
    pages = [_page(client, url) for url in urls]
    pages += [_page(client, "/policies/", **query) for query in queries]
    pages += [
        _page(client, f"/policies/2026/{item.policy.code}/")
        for item in public_entries(year=2026, department=secret.department.code)
    ]
    return pages


def test_a_secret_policy_is_on_no_public_page_of_its_year(client):
    secret = secret_entry()

    for html in _public_2026_responses(client, secret):
        shown = _without_echo(html)
        assert secret.name not in shown
        assert secret.policy.code not in shown


def test_a_secret_policys_page_is_the_same_404_as_an_unknown_code(client):
    secret = secret_entry()

    hidden = client.get(f"/policies/2026/{secret.policy.code}/")
    unknown = client.get("/policies/2026/NO-SUCH-99/")
    draft_year = client.get("/policies/2030/MZ-01/")

    assert hidden.status_code == unknown.status_code == draft_year.status_code == 404
    assert hidden.content == unknown.content == draft_year.content
    assert secret.name not in hidden.content.decode()
    assert "no-store" in hidden["Cache-Control"]


def test_a_policy_that_was_never_public_is_in_no_year_and_no_change_list(client, finance_admin, finance_reviewer):
    publish_new_list(
        finance_admin=finance_admin,
        finance_reviewer=finance_reviewer,
        year=2027,
        entries=[
            ("TY-90", entry_values(entry(2026, "烈士遗属定期抚恤金").department, name="某涉密补助", is_secret=True)),
        ],
    )

    html = _page(client, "/policies/")
    assert "2027年" in html
    assert "没有变化" in _changes_section(html)  # 2027 only adds a secret one
    for url in ["/", "/policies/", "/policies/2025/", "/policies/2026/", "/policies/2027/"]:
        page = _page(client, url)
        assert "某涉密补助" not in page
        assert "TY-90" not in page
    assert client.get("/policies/2027/TY-90/").status_code == 404


def test_an_unpublished_year_is_not_found_and_the_current_list_stays_the_last_published(client, finance_admin):
    assert draft_list(finance_admin=finance_admin, year=2027).entries.exists()

    for url in ["/policies/2027/", "/policies/2027/MZ-01/", "/policies/2024/"]:
        response = client.get(url)
        assert response.status_code == 404, url
        assert "未找到该页面" in response.content.decode()
    html = _page(client, "/policies/")
    assert "2026年惠民惠农财政补贴政策清单" in html
    assert 'href="/policies/2027/"' not in html


# --- Every public page -------------------------------------------------------------------------


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.labels: set[str] = set()
        self.controls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "label":
            self.labels.add(attrs.get("for", ""))
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            self.controls.append(attrs.get("id", ""))
        if "style" in attrs or (tag == "script" and "src" not in attrs) or tag == "style":
            self.inline.append(tag)


@pytest.mark.parametrize("path", ["/", "/policies/", "/policies/2025/", "detail"])
def test_public_pages_are_chinese_labelled_ordered_and_free_of_inline_code(client, path):
    if path == "detail":
        path = f"/policies/2026/{entry(2026, CITY_DIBAO).policy.code}/"
    html = _page(client, path)

    assert '<html lang="zh-Hans">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    outline = _Outline()
    outline.feed(html)
    assert outline.headings.count(1) == 1
    assert outline.headings[0] == 1
    assert all(b - a <= 1 for a, b in zip(outline.headings, outline.headings[1:], strict=False))
    assert all(control and control in outline.labels for control in outline.controls)
    assert outline.inline == []


def test_the_policy_list_form_has_a_label_for_every_filter(client):
    html = _page(client, "/policies/")
    for field, label in [("department", "主管部门"), ("level", "政策层级"), ("target", "补贴对象"), ("q", "关键词")]:
        assert f'<label for="id_{field}">{label}</label>' in html


def test_pages_about_published_policies_may_be_cached_briefly_and_a_404_may_not(client):
    code = entry(2026, CITY_DIBAO).policy.code
    for path in ["/policies/", "/policies/2025/", f"/policies/2026/{code}/"]:
        assert client.get(path)["Cache-Control"] == "public, max-age=300", path
    assert client.get("/policies/2031/")["Cache-Control"] == "no-store"


def test_the_home_page_links_to_the_policy_list_and_counts_this_years_policies(client):
    html = _page(client, "/")
    assert '<a href="/policies/">政策清单</a></h2>' in html
    assert f"2026年清单共 {public_entries(year=2026).count()} 项政策" in html


def test_the_header_navigation_offers_the_policy_list(client):
    html = _page(client, "/policies/")
    nav = html.split('aria-label="主导航"', 1)[1].split("</nav>", 1)[0]
    assert '<a href="/policies/" aria-current="page">政策清单</a>' in nav
    assert '<a href="/">首页</a>' in nav


def test_a_policy_basis_document_is_served_for_a_public_policy_only(client, settings, tmp_path):
    from django.core.files.base import ContentFile

    from tests.db_helpers import frozen_policy_rows_unlocked

    settings.MEDIA_ROOT = tmp_path
    item = entry(2026, CITY_DIBAO)
    secret = PolicyEntry.objects.filter(policy_list__year=2026, is_secret=True).first()
    stored = item.basis_file.storage.save("policy-basis/dibao.pdf", ContentFile(b"%PDF-1.4 basis"))
    # Published entries are frozen: attach the file as a migration would, behind the trigger's back.
    with frozen_policy_rows_unlocked():
        PolicyEntry.objects.filter(pk__in=[item.pk, secret.pk]).update(basis_file=stored)
    page = client.get(f"/policies/2026/{item.policy.code}/").content.decode()
    assert f"/policies/2026/{item.policy.code}/basis" in page
    response = client.get(f"/policies/2026/{item.policy.code}/basis")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 basis"
    assert client.get(f"/policies/2026/{secret.policy.code}/basis").status_code == 404
