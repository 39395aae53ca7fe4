"""Browser tests: Debian's Chromium, driven by Playwright, against a live server, each test on a phone and a desktop
viewport, with a full-page screenshot of how every test ended kept as a test artefact.

Playwright never downloads a browser here (no network): it launches the one at $CHROMIUM (`make browser` installs
Debian's). Screenshots go to $YIKATONG_ARTIFACTS/screenshots/<test>-<viewport>.png (default <repo>/test-artifacts).

The county the tests look at (a released payout of department A, its notice, the clerk who answers complaints) is
built once for the package and committed, as a transactional test's data is, so that the server's thread sees it;
the package ends with the same flush a transactional test ends with. Built and flushed per test, it cost ≈4 s a
test: more than the whole suite's budget. Each test is still marked django_db: that has pytest-django create the test
database, and lifts its block on database access (which holds for every thread, the server's too) while it runs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import override_settings
from pytest_django.live_server_helper import LiveServer

from bench import synth
from disbursement.enums import PaymentStatus
from disbursement.services import payout_create
from disclosure.models import PublishedDocument
from disclosure.notices import document_save, notice_publish
from org.enums import Role
from org.models import Region
from org.services import regions_load
from policies.services import policy_list_publish, policy_list_submit
from tests.disbursement.test_corrections import bank_fails, bank_pays, payments_of, release_payout
from tests.factories import TEST_PASSWORD, DepartmentFactory, UserFactory
from tests.policies.factories import draft_list
from yikatong import pii
from yikatong.celery import app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
# A step that waits longer than this is broken, not slow: fail fast rather than at Playwright's 30 s.
STEP_TIMEOUT_MS = 10_000

VIEWPORTS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
    "desktop": {"viewport": {"width": 1366, "height": 900}},
}


def screenshot_dir() -> Path:
    return Path(os.environ.get("YIKATONG_ARTIFACTS") or REPO / "test-artifacts") / "screenshots"


def screenshot_path(request, viewport: str, step: str = "") -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.originalname)
    return screenshot_dir() / f"{name}-{viewport}{'-' + step if step else ''}.png"


# --- One Chromium and one live server for the browser tests ------------------------------------------------------


@pytest.fixture(scope="package")
def _async_unsafe_allowed():
    """Playwright's sync API keeps an event loop running in this thread for as long as it is started, and Django
    refuses database access from a thread with a running loop. Fixtures here (the data, the flush) run in this
    thread, so allow it while the browser is up; the setting is put back after, and the other test packages keep
    Django's check."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def chromium(_async_unsafe_allowed):
    """One browser for the browser suite, stopped when it ends (so that no event loop outlives it)."""
    if shutil.which(CHROMIUM) is None:
        reason = f"needs Chromium at {CHROMIUM} (`make browser` installs Debian's)"
        if os.environ.get("YIKATONG_REQUIRE_SERVICES") == "1":
            pytest.fail(f"CI requires every service: {reason}")
        pytest.skip(f"DID NOT RUN — {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def live_site(chromium, django_db_setup, django_db_blocker):
    """pytest-django's live server (its own thread and database connection), for the package rather than per
    test: the `live_server` fixture would make every test transactional, with a flush after each."""
    server = LiveServer(os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost")
    server._live_server_modified_settings.enable()  # its host in ALLOWED_HOSTS
    yield server
    server._live_server_modified_settings.disable()
    server.stop()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request) -> str:
    return request.param


_outcome_key = pytest.StashKey()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_outcome_key] = report
    return report


@pytest.fixture
def browser_context(chromium, viewport, live_site, county_data):
    """A fresh context (cookies, storage) on the test's viewport, its relative URLs on the live server."""
    context = chromium.new_context(
        **VIEWPORTS[viewport], base_url=live_site.url, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    context.set_default_timeout(STEP_TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(request, browser_context, viewport):
    """The citizen's tab. However the test ends, the page it ended on is kept as a full-page screenshot."""
    page = browser_context.new_page()
    yield page
    shot(request, page, viewport)
    report = request.node.stash.get(_outcome_key, None)
    markup = screenshot_path(request, viewport).with_suffix(".html")
    if report is not None and report.failed:
        # The markup beside the picture, to see why a locator did not match.
        markup.write_text(page.content(), encoding="utf-8")
    else:
        markup.unlink(missing_ok=True)  # a past failure's, now stale


def shot(request, page, viewport: str, step: str = "") -> Path:
    path = screenshot_path(request, viewport, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot(request, viewport):
    """Keep an intermediate step too: ``screenshot(page, "filed")`` → <test>-<viewport>-filed.png."""

    def take(page, step: str) -> Path:
        return shot(request, page, viewport, step)

    return take


@pytest.fixture
def sign_in():
    """Signs a staff user into the admin through its login form, as they would."""

    def run(page, username: str, *, next_url: str = "/admin/") -> None:
        page.goto(f"/admin/login/?next={next_url}")
        page.fill("#id_username", username)
        page.fill("#id_password", TEST_PASSWORD)
        with page.expect_navigation():
            page.locator("#login-form [type=submit]").click()

    return run


# --- The county: a released payout of department A and its notice ------------------------------------------------

POLICY = "困难群众生活补贴"
PERIOD = "2026-11"
AMOUNT = "580.00"
DEPARTMENT = "二七区民政局"
DEPARTMENT_PHONE = "0371-60000000"  # tests.factories.DepartmentFactory
CLERK = "clerk_a"
ROWS = 12
DOCUMENT = "二七区惠民惠农财政补贴资金“一卡通”管理办法"


@dataclass(frozen=True)
class Person:
    """A recipient as they know themselves (name, full ID) and what the platform holds of their payment."""

    name: str
    id_number: str
    account: str
    amount: Decimal
    period: str
    township: str


@dataclass(frozen=True)
class County:
    paid: Person  # paid to their account
    failed: Person  # the bank said the card was closed (卡号已注销)
    people: tuple[Person, ...]  # everyone on the payout's notice
    notice_title: str
    townships: tuple[str, ...]  # the synthetic county's, by code
    document: str  # the title of the one published document (制度文件)


def _person(payment) -> Person:
    village = payment.recipient.village
    return Person(
        name=payment.recipient.name,
        id_number=pii.decrypt(bytes(payment.recipient.id_cipher), purpose="id_number"),
        account=pii.decrypt(bytes(payment.account_cipher), purpose="account"),
        amount=payment.amount,
        period=payment.period,
        township=village.parent.name if village else "",
    )


def _build_county(tmp: Path) -> County:
    """The standing cast of tests/conftest.py (department A, its clerk, finance) and tests/payout_fixtures.py (the
    published policy, the payout), made here once: those fixtures are per test."""
    area = synth.make_county(7, townships=3, villages_per_township=3)
    rows = list(synth.county_division_rows(area))
    regions_load(acting_user=None, rows=[(code, name, code[:-3] if len(code) > 6 else None) for code, name in rows])
    department = DepartmentFactory(code="mz", name=DEPARTMENT, short_name="民政", phone=DEPARTMENT_PHONE)
    clerk = UserFactory(username=CLERK, role=Role.DEPARTMENT_CLERK, department=department)
    finance_admin = UserFactory(username="finance_admin", role=Role.FINANCE_ADMIN)
    finance_reviewer = UserFactory(username="finance_reviewer", role=Role.FINANCE_REVIEWER)
    policy_list = draft_list(
        finance_admin, 2026, [("MZ-01", department, {"name": POLICY, "standard_amount": Decimal(AMOUNT)})]
    )
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)
    payout = payout_create(
        acting_user=clerk,
        policy=policy_list.entries.get().policy,
        period=PERIOD,
        region=Region.objects.get(code=area.code),
        budget_document="二七财预〔2026〕88号",
        budget_amount=Decimal("1000000.00"),
    )

    def roster_file(n, *, seed, name):
        path = tmp / name
        roster = list(synth.iter_roster_rows(seed, area, n, amount=AMOUNT, quirks=False))
        synth.write_roster_xlsx(roster, path)
        return path, roster

    # No surrounding transaction here: each service's on_commit work (the import, the bank files) runs as it commits.
    release_payout(
        payout,
        clerk=clerk,
        finance=finance_admin,
        roster_file=roster_file,
        capture=lambda execute: contextlib.nullcontext(),
        rows=ROWS,
    )
    payments = payments_of(payout)
    bank_fails(payments[:1], code="account_closed", reason="卡号已注销")
    bank_pays(payments[1:])
    notice = notice_publish(payout=payout, acting_user=clerk)
    document = PublishedDocument(
        title=DOCUMENT,
        doc_number="二七财〔2026〕12号",
        issued_on=dt.date(2026, 3, 1),
        summary="补贴资金通过“一卡通”直接发放到人到户的管理办法。",
        is_published=True,
    )
    document_save(document=document, acting_user=finance_admin)
    people = tuple(_person(p) for p in payments_of(payout))
    return County(
        paid=_person(payments_of(payout, PaymentStatus.PAID)[0]),
        failed=_person(payments_of(payout, PaymentStatus.FAILED)[0]),
        people=people,
        notice_title=notice.title,
        townships=tuple(t.name for t in area.townships),
        document=document.title,
    )


def _is_test_database() -> bool:
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        return True
    return Path(str(connection.settings_dict["NAME"])).name.startswith("test_")


@pytest.fixture(scope="package")
def county_data(live_site, django_db_blocker, tmp_path_factory) -> County:
    # Committed, then flushed: only ever in a test database (pytest-django makes one only for tests marked django_db).
    if not _is_test_database():
        pytest.fail(f"browser tests must be marked django_db: {connection.settings_dict['NAME']} is no test database")
    tmp = tmp_path_factory.mktemp("browser-county")
    eager = app.conf.task_always_eager
    try:
        app.conf.task_always_eager = True
        with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=tmp / "media"):
            built = _build_county(tmp)
        app.conf.task_always_eager = eager
        yield built
    finally:
        app.conf.task_always_eager = eager
        # What a transactional test ends with (tests/conftest.py lifts the protecting triggers for it).
        with django_db_blocker.unblock():
            call_command("flush", verbosity=0, interactive=False, reset_sequences=False)
        # While Playwright runs, this thread's connections live in another context (asgiref's Local follows
        # contextvars) than the one that drops the test database at the end: close them here, or the drop fails.
        connections.close_all()
