"""The public site in a real browser, on a phone and a desktop: every public page opens and fits the screen, and a
payout notice (发放公示) shows its people masked and can be narrowed to one township."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import expect

from yikatong.domain.masking import mask_id, mask_name

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = {
    "home": "/",
    "policies": "/policies/",
    "notices": "/notices/",
    "documents": "/documents/",
    "lookup": "/lookup/",
    "complaint": "/complaints/",
    "complaint-status": "/complaints/status/",
}


def horizontal_overflow(page) -> list[str]:
    """The elements wider than the window, when the page scrolls sideways (nothing should on a phone)."""
    return page.evaluate(
        """() => {
            if (document.documentElement.scrollWidth <= window.innerWidth) return [];
            return [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(0, 5)
                .map(e => e.tagName.toLowerCase() + (e.className ? '.' + [...e.classList].join('.') : ''));
        }"""
    )


def test_every_public_page_opens_in_chinese_and_fits_the_screen(page, screenshot, county_data):
    for name, path in PUBLIC_PAGES.items():
        response = page.goto(path)
        assert response.status == 200, f"{path}: {response.status}"
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.locator("main h1")).to_be_visible()
        assert horizontal_overflow(page) == [], f"{path} scrolls sideways"
        screenshot(page, name)
        if name == "notices":
            expect(page.locator("main")).to_contain_text(county_data.notice_title)
        if name == "documents":
            expect(page.locator("main")).to_contain_text(county_data.document)


def test_a_notice_shows_every_person_masked_and_filters_by_township(page, county_data):
    people = county_data.people

    page.goto("/notices/")
    with page.expect_navigation():
        page.get_by_role("link", name=county_data.notice_title).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(county_data.notice_title)
    rows = page.locator("table.notice-table tbody tr")
    expect(rows).to_have_count(len(people))
    expect(page.locator(".results-head .count")).to_contain_text(f"共 {len(people)} 人")
    shown = {(row.locator("th").inner_text(), row.locator("td").first.inner_text()) for row in rows.all()}
    assert shown == {(mask_name(p.name), mask_id(p.id_number)) for p in people}
    assert all(re.fullmatch(r"[0-9]{6}\*{8}[0-9]{3}[0-9X]", masked_id) for _name, masked_id in shown)
    html = page.content()
    assert not [p.id_number for p in people if p.id_number in html]
    table = page.locator("table.notice-table").inner_text()
    assert not [p.name for p in people if len(p.name) > 1 and p.name in table]

    township, expected = Counter(p.township for p in people).most_common(1)[0]
    assert 0 < expected < len(people), "the synthetic county puts people in several townships"
    page.select_option("#id_township", label=township)
    with page.expect_navigation():
        page.get_by_role("button", name="查看").click()

    expect(page).to_have_url(re.compile(r"\?township=[0-9]{9}$"))
    expect(page.locator("#id_township option:checked")).to_have_text(township)
    expect(rows).to_have_count(expected)
    expect(page.locator(".results-head .count")).to_contain_text(f"共 {expected} 人")
    for row in rows.all():
        expect(row.locator("td").nth(1)).to_have_text(township)
    assert horizontal_overflow(page) == []
