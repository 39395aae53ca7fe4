"""个人补贴查询 in a real browser, on a phone and a desktop: what a person sees of their own payments, what they never
see (their full ID, anything personal in the address bar), the same answer for a wrong name and an unknown ID, and
the challenge after a few lookups."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import unquote

import django_ratelimit.core
import pytest
from playwright.sync_api import expect

from disclosure.lookup import FAILURE_ADVICE
from tests.browser.conftest import DEPARTMENT, DEPARTMENT_PHONE, POLICY
from yikatong.domain.citizen_id import calc_check_char
from yikatong.domain.masking import mask_id, mask_name

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rate_windows_hold_still(monkeypatch):
    """django-ratelimit counts in fixed windows (10 minutes for the challenge) that end at a set second: one ending
    between two lookups of a test would start the count again. Its clock stands still for the test (the server's
    thread runs in this process)."""
    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: now))


def look_up(page, name: str, id_number: str, *, year: str = "", answer: str | None = None) -> None:
    """Fill in the lookup form as a person would and submit it; returns once the answer page has loaded."""
    if not page.url.endswith("/lookup/"):
        page.goto("/lookup/")
    page.fill("#id_name", name)
    page.fill("#id_id_number", id_number)
    if year:
        page.select_option("#id_year", year)
    if answer is not None:
        page.fill("#id_challenge_answer", answer)
    with page.expect_navigation():
        page.get_by_role("button", name="查询", exact=True).click()


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def unknown_id() -> str:
    """A well-formed ID (right region, date and check digit) that nobody in the test data has."""
    base = "41010319800229771"
    return base + calc_check_char(base)


def test_a_person_looks_up_their_payments_and_sees_what_was_paid_where(page, live_site, county_data):
    person = county_data.paid
    account = person.account

    look_up(page, person.name, person.id_number, year=person.period[:4])

    result = page.locator(".lookup-result")
    expect(result.get_by_test_id("who")).to_have_text(f"{mask_name(person.name)} {mask_id(person.id_number)}")
    cards = result.locator("ol.payments > li.payment")
    expect(cards).to_have_count(1)
    card = cards.first
    expect(card.get_by_role("heading")).to_have_text(POLICY)
    for seen in (
        person.period,
        f"{person.amount} 元",
        "已发放到账",
        f"尾号 {account[-4:]}",
        DEPARTMENT,
        DEPARTMENT_PHONE,
    ):
        expect(card).to_contain_text(seen)
    expect(card.get_by_role("link", name=DEPARTMENT_PHONE)).to_have_attribute("href", f"tel:{DEPARTMENT_PHONE}")
    expect(card.locator(".advice")).to_have_count(0)  # paid: nothing to do

    html = page.content()
    assert person.id_number not in html
    assert person.id_number[:-1] not in html  # nor with its check character changed (x/X)
    assert account not in html
    address = unquote(page.url)
    assert address == f"{live_site.url}/lookup/"
    assert person.name not in address and person.id_number not in address
    # The form is empty again: nothing typed stays on the page.
    expect(page.locator("#id_name")).to_have_value("")
    expect(page.locator("#id_id_number")).to_have_value("")
    assert no_horizontal_scroll(page)


def test_a_failed_payment_shows_the_reason_and_what_to_do(page, county_data):
    person = county_data.failed
    look_up(page, person.name, person.id_number)

    card = page.locator(".lookup-result li.payment")
    expect(card).to_have_count(1)
    expect(card).to_contain_text("发放未成功")
    expect(card).to_contain_text("卡号已注销")
    advice = card.locator(".advice")
    expect(advice).to_contain_text("怎么办")
    expect(advice).to_contain_text(str(FAILURE_ADVICE["account_closed"]).format(department=DEPARTMENT))
    expect(card).not_to_contain_text("到账日期")


def test_a_wrong_name_gets_the_same_answer_as_an_unknown_id(page, county_data):
    person = county_data.paid
    wrong_name = "欧阳" + person.name[-1]

    look_up(page, wrong_name, person.id_number)
    result = page.locator(".lookup-result")
    expect(result.get_by_test_id("not-found")).to_be_visible()
    wrong_name_answer = result.inner_text().replace(page.get_by_test_id("who").inner_text(), "")

    look_up(page, person.name, unknown_id())
    expect(result.get_by_test_id("not-found")).to_be_visible()
    unknown_id_answer = result.inner_text().replace(page.get_by_test_id("who").inner_text(), "")

    assert wrong_name_answer == unknown_id_answer
    assert "未查询到" in unknown_id_answer
    expect(result.locator("li.payment")).to_have_count(0)


def test_an_id_with_a_wrong_check_digit_gets_a_clear_error_and_no_result(page, county_data):
    person = county_data.paid
    typo = person.id_number[:-1] + ("0" if person.id_number[-1] != "0" else "1")

    look_up(page, person.name, typo)

    expect(page.get_by_role("alert")).to_contain_text("身份证号码校验位不符")
    expect(page.locator(".lookup-result")).to_have_count(0)
    expect(page.locator("#id_id_number")).to_have_value("")  # never written back into the page
    expect(page.locator("#id_id_number")).to_have_attribute("aria-invalid", "true")
    assert typo not in page.content()


def test_after_three_lookups_a_question_is_asked_and_answering_it_gives_the_result(page, county_data):
    person = county_data.paid
    for _ in range(3):
        look_up(page, person.name, person.id_number)
        expect(page.locator(".lookup-result li.payment")).to_have_count(1)
    question = page.locator("label[for=id_challenge_answer]")
    expect(question).to_contain_text("验证问题")

    # A fourth lookup without the answer is refused, and a new question asked.
    look_up(page, person.name, person.id_number)
    expect(page.get_by_role("alert")).to_contain_text("验证问题")
    expect(page.locator(".lookup-result")).to_have_count(0)
    expect(page.locator("#id_name")).to_have_value(person.name)  # kept: only the ID is typed again
    a, b = map(int, re.search(r"(\d+)\s*加\s*(\d+)\s*等于几", question.inner_text()).groups())

    look_up(page, person.name, person.id_number, answer=str(a + b))

    expect(page.locator(".lookup-result li.payment")).to_have_count(1)
    expect(page.locator(".lookup-result")).to_contain_text("已发放到账")


def test_every_field_of_the_lookup_form_has_a_label_and_the_skip_link_leads_to_the_content(page):
    page.goto("/lookup/")

    inputs = page.locator("main input:not([type=hidden]), main select, main textarea")
    assert inputs.count() >= 3
    for i in range(inputs.count()):
        field_id = inputs.nth(i).get_attribute("id")
        assert field_id, f"an input without an id: {inputs.nth(i).evaluate('e => e.outerHTML')}"
        expect(page.locator(f"label[for={field_id}]")).to_have_count(1)
        expect(page.locator(f"label[for={field_id}]")).not_to_have_text("")

    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    expect(skip).to_have_text("跳到正文")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/lookup/#main$"))
    expect(page.locator("main#main")).to_be_focused()
