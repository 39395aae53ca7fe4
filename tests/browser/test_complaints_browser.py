"""投诉举报/咨询 in a real browser, on a phone and a desktop: a citizen files a complaint and gets a tracking number,
finds it again by typing the number, the department's clerk answers it in the admin, and the citizen reads the
answer on the status page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CLERK, DEPARTMENT, POLICY, VIEWPORTS

pytestmark = pytest.mark.django_db

TEXT = "本人11月的困难群众生活补贴至今没有到账，银行说没有收到款项，请帮忙查一下。"
PHONE = "13800138000"
ANSWER = "经核实，您的补贴因银行卡已注销未能到账。请携带身份证和新的银行卡到二七区民政局登记，登记后予以补发。"


def test_a_citizen_files_a_complaint_follows_it_by_number_and_reads_the_answer(
    page, chromium, live_site, viewport, county_data, sign_in, screenshot
):
    page.goto("/complaints/")
    page.select_option("#id_kind", label="投诉")
    page.select_option("#id_policy", label=POLICY)
    page.select_option("#id_township", label=county_data.townships[0])
    page.fill("#id_text", TEXT)
    page.fill("#id_contact_name", "申先生")
    page.fill("#id_contact_phone", PHONE)
    with page.expect_navigation():
        page.get_by_role("button", name="提交").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("已受理")
    tracking_no = page.locator("#tracking-no").inner_text().strip()
    assert re.fullmatch(r"TS-[0-9]{8}-[0-9A-HJKMNP-TV-Z]{8}", tracking_no)
    expect(page.locator("#department")).to_contain_text(DEPARTMENT)
    assert PHONE not in page.content()  # the contact is for the department, never shown
    screenshot(page, "filed")

    # Another day: the citizen types the number on the status page.
    page.goto("/complaints/status/")
    page.fill("#id_no", tracking_no)
    with page.expect_navigation():
        page.get_by_role("button", name="查询", exact=True).click()
    expect(page).to_have_url(re.compile(re.escape(f"/complaints/{tracking_no}/") + "$"))
    expect(page.locator("#status")).to_contain_text("待答复")
    expect(page.locator(".complaint-answer")).to_contain_text("尚未答复")
    expect(page.locator("#text")).to_contain_text(TEXT)

    # The department's clerk, in a browser of their own, finds it in the admin by its number and answers it.
    clerk_context = chromium.new_context(**VIEWPORTS[viewport], base_url=live_site.url, locale="zh-CN")
    try:
        clerk = clerk_context.new_page()
        sign_in(clerk, CLERK, next_url="/admin/disclosure/complaint/")
        clerk.fill("#searchbar", tracking_no)
        with clerk.expect_navigation():
            clerk.press("#searchbar", "Enter")
        with clerk.expect_navigation():
            clerk.get_by_role("link", name=tracking_no).click()
        expect(clerk.locator(".field-text")).to_contain_text(TEXT)
        clerk.fill("#id_answer", ANSWER)
        with clerk.expect_navigation():
            clerk.locator("input[name=_save]").click()
        expect(clerk.locator(".messagelist")).to_contain_text("已答复")
        screenshot(clerk, "clerk-answered")
    finally:
        clerk_context.close()

    page.reload()
    expect(page.locator("#status")).to_contain_text("已答复")
    expect(page.locator("#answer")).to_have_text(ANSWER)
