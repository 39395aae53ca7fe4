"""The site over HTTP, as a newcomer and as an attacker see it: pages, headers, API doors, sign-in."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest
from django.test import RequestFactory

from audit.models import AuditEvent
from tests.factories import DepartmentFactory
from yikatong.net import client_ip

CSP_PATHS = ["/", "/admin/login/", "/api/v1/me/", "/api/docs/", "/healthz"]
HEX_ID = re.compile(r"^[0-9a-f]{32}$")


def _failed_login(client, username, remote_addr):
    return client.post("/admin/login/", {"username": username, "password": "Wrong-Password-1"}, REMOTE_ADDR=remote_addr)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- The public home page ----------------------------------------------------------------------


def test_the_home_page_is_in_chinese_and_lists_the_active_departments(client, db):
    DepartmentFactory(code="mz", name="二七区民政局", phone="0371-68888888")
    DepartmentFactory(code="cz", name="二七区财政局")
    DepartmentFactory(code="old", name="已撤销的办公室", is_active=False)

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'lang="zh-Hans"' in page
    assert "一卡通" in page
    assert "二七区民政局" in page
    assert "0371-68888888" in page
    assert "二七区财政局" in page
    assert "已撤销的办公室" not in page
    assert page.index("二七区财政局") < page.index("二七区民政局")  # ordered by code


def test_the_home_page_says_so_when_there_are_no_departments_yet(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "暂无部门信息" in response.content.decode()


# --- The admin and the API documents -----------------------------------------------------------


def test_the_admin_sends_an_anonymous_visitor_to_a_chinese_login_page(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"

    page = client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    assert 'lang="zh-hans"' in html
    assert "登录" in html
    assert "用户名" in html
    assert "密码" in html


def test_the_openapi_schema_describes_the_v1_api(client, db):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "一卡通 yikatong API"
    paths = set(schema["paths"])
    assert {"/api/v1/me/", "/api/v1/jobs/", "/api/v1/jobs/{id}/", "/api/v1/departments/{code}/"} <= paths
    assert all(path.startswith("/api/v1/") for path in paths)


def _external_urls(text: str) -> list[str]:
    urls = re.findall(r"""https?://[^\s"'<>)]+""", text)
    return [url for url in urls if urlparse(url).hostname not in ("testserver", None)]


def test_the_api_docs_load_nothing_from_another_host(client, db, settings):
    settings.WHITENOISE_USE_FINDERS = True  # serve static files without collectstatic, as in production

    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert _external_urls(html) == []
    scripts = re.findall(r'<script src="([^"]+)"', html)
    styles = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert scripts and styles
    for url in scripts + styles:
        assert url.startswith(("/static/drf_spectacular_sidecar/", "/api/docs/")), url
        assert client.get(url).status_code == 200, url
    init_script = client.get("/api/docs/", {"script": ""})
    assert init_script.status_code == 200
    assert _external_urls(init_script.content.decode()) == []


# --- Security headers --------------------------------------------------------------------------


@pytest.mark.parametrize("path", CSP_PATHS)
def test_every_response_carries_the_security_headers(client, db, path):
    response = client.get(path)

    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/admin/", "/admin/login/", "/api/v1/me/", "/api/v1/departments/", "/api/schema/"])
def test_admin_and_api_responses_to_a_visitor_are_never_stored_by_caches(client, db, path):
    assert "no-store" in client.get(path)["Cache-Control"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/org/department/", "/api/v1/me/", "/api/v1/departments/mz/"])
def test_pages_for_a_signed_in_clerk_are_never_stored_by_caches(login, clerk_a, path):
    response = login(clerk_a).get(path)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_only_the_public_home_page_may_be_cached(client, db):
    assert client.get("/")["Cache-Control"] == "public, max-age=60"


# --- Request ids -------------------------------------------------------------------------------


def test_a_sane_incoming_request_id_is_echoed_back(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-2026.11.23_0001")
    assert response["X-Request-ID"] == "lb-2026.11.23_0001"


def test_a_request_without_an_id_gets_a_fresh_one(client, db):
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert HEX_ID.match(first)
    assert HEX_ID.match(second)
    assert first != second


@pytest.mark.parametrize("insane", ["<script>alert(1)</script>", "short", "x" * 65, "a b c d e f g h", "ünïcödé-id"])
def test_an_insane_incoming_request_id_is_replaced(client, db, insane):
    response = client.get("/healthz", HTTP_X_REQUEST_ID=insane)
    assert response.status_code == 200
    assert HEX_ID.match(response["X-Request-ID"])


def test_a_request_id_with_a_trailing_newline_is_replaced(client, db):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdefgh\n")
    assert HEX_ID.match(response["X-Request-ID"])


def test_the_request_id_is_written_into_the_audit_trail(client, db):
    client.get("/api/v1/me/", HTTP_X_REQUEST_ID="trace-0123456789")
    assert AuditEvent.objects.get(action="access.denied").request_id == "trace-0123456789"


# --- Upload size -------------------------------------------------------------------------------


def test_a_body_above_the_upload_limit_is_refused_with_413(login, clerk_a, settings):
    settings.MAX_UPLOAD_MB = 1
    response = login(clerk_a).post(
        "/api/v1/jobs/", data=b"x" * (1024 * 1024 + 1), content_type="application/octet-stream"
    )

    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "upload_too_large"
    assert "1 MB" in body["detail"]
    assert HEX_ID.match(response["X-Request-ID"])


def test_a_claimed_length_above_the_limit_is_refused_before_the_body_is_read(client, db, settings):
    settings.MAX_UPLOAD_MB = 2
    response = client.post(
        "/admin/login/",
        data=b"username=a&password=b",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(3 * 1024 * 1024),
    )
    assert response.status_code == 413
    assert response.json()["code"] == "upload_too_large"
    assert not AuditEvent.objects.exists()  # no login was attempted


def test_a_body_at_the_upload_limit_is_let_through(login, clerk_a, settings):
    settings.MAX_UPLOAD_MB = 1
    response = login(clerk_a).post("/api/v1/jobs/", data=b"x" * (1024 * 1024), content_type="application/octet-stream")
    assert response.status_code == 405  # the view answered: jobs are read-only over the API


# --- The API's doors ---------------------------------------------------------------------------


def test_an_anonymous_visitor_is_refused_by_me_and_the_refusal_is_audited(client, db):
    response = client.get("/api/v1/me/", REMOTE_ADDR="198.51.100.23")

    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    event = AuditEvent.objects.get(action="access.denied")
    assert event.actor is None
    assert event.actor_label == "anonymous"
    assert event.object_repr == "GET /api/v1/me/"
    assert event.after == {"reason": "not_authenticated"}
    assert event.remote_addr == "198.51.100.23"


def test_a_clerk_sees_their_role_and_department_at_me(login, clerk_a):
    response = login(clerk_a).get("/api/v1/me/")

    assert response.status_code == 200
    me = response.json()
    assert me["username"] == "clerk_a"
    assert me["role"] == "department_clerk"
    assert me["role_display"] == "主管部门经办人"
    assert me["department"] == "mz"
    assert me["sees_everything"] is False


def test_finance_sees_that_it_sees_everything_at_me(login, finance_admin):
    me = login(finance_admin).get("/api/v1/me/").json()
    assert (me["role"], me["department"], me["sees_everything"]) == ("finance_admin", None, True)


def test_outsider_asking_for_another_department_sees_only_its_public_fields(login, outsider, department_a):
    response = login(outsider).get(f"/api/v1/departments/{department_a.code}/")

    assert response.status_code == 200
    assert response.json() == {
        "code": "mz",
        "name": "二七区民政局",
        "short_name": "民政",
        "phone": department_a.phone,
    }


def test_an_unknown_department_is_not_found(login, outsider):
    assert login(outsider).get("/api/v1/departments/no-such-dept/").status_code == 404


def test_an_unknown_department_is_a_404_with_a_code(login, outsider):
    response = login(outsider).get("/api/v1/departments/no-such-dept/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_anonymous_visitor_cannot_list_departments(client, department_a):
    response = client.get("/api/v1/departments/")
    assert response.status_code in (401, 403)
    assert department_a.name not in response.content.decode()


# --- Signing in --------------------------------------------------------------------------------


def test_a_successful_admin_login_is_audited(client, clerk_a, password):
    response = client.post(
        "/admin/login/",
        {"username": "clerk_a", "password": password, "next": "/admin/"},
        REMOTE_ADDR="192.0.2.10",
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert _signed_in(client)
    assert client.get("/admin/").status_code == 200
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == clerk_a
    assert event.remote_addr == "192.0.2.10"


def test_a_wrong_password_is_refused_in_chinese_and_audited(client, clerk_a):
    response = _failed_login(client, "clerk_a", "192.0.2.11")

    assert response.status_code == 200
    assert "请输入一个正确的" in response.content.decode()
    assert not _signed_in(client)
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor_label == "anonymous:clerk_a"
    assert event.remote_addr == "192.0.2.11"
    assert "Wrong-Password-1" not in json.dumps([event.before, event.after, event.object_repr])


def test_a_bank_identity_cannot_sign_in_with_its_password(client, bank_user, password):
    response = client.post("/admin/login/", {"username": "bank_ccb", "password": password, "next": "/admin/"})

    assert response.status_code == 200
    assert not _signed_in(client)
    assert client.get("/api/v1/me/").status_code in (401, 403)
    assert AuditEvent.objects.filter(action="auth.login_failed", object_repr="bank_ccb").exists()
    assert not AuditEvent.objects.filter(action="auth.login").exists()


def test_five_failures_from_different_addresses_lock_the_username(client, clerk_a, password):
    for n in range(1, 6):
        _failed_login(client, "clerk_a", f"203.0.113.{n}")

    response = client.post(
        "/admin/login/", {"username": "clerk_a", "password": password, "next": "/admin/"}, REMOTE_ADDR="203.0.113.99"
    )

    assert response.status_code == 429
    assert "账号已临时锁定" in response.content.decode()
    assert not _signed_in(client)
    assert not AuditEvent.objects.filter(action="auth.login").exists()
    assert AuditEvent.objects.filter(action="auth.locked_out", object_repr="clerk_a").exists()


def test_a_locked_username_does_not_lock_other_users_at_the_same_address(client, clerk_a, outsider, password):
    for n in range(1, 6):
        _failed_login(client, "clerk_a", f"203.0.113.{n}")

    response = client.post(
        "/admin/login/", {"username": "clerk_b", "password": password, "next": "/admin/"}, REMOTE_ADDR="203.0.113.5"
    )

    assert response.status_code == 302
    assert _signed_in(client)


def test_five_failures_from_one_address_lock_that_address_for_every_user(client, outsider, password):
    for n in range(1, 6):
        _failed_login(client, f"guess{n}", "198.51.100.50")

    locked = client.post(
        "/admin/login/", {"username": "clerk_b", "password": password, "next": "/admin/"}, REMOTE_ADDR="198.51.100.50"
    )
    assert locked.status_code == 429
    assert not _signed_in(client)
    assert AuditEvent.objects.filter(action="auth.locked_out", remote_addr="198.51.100.50").exists()

    elsewhere = client.post(
        "/admin/login/", {"username": "clerk_b", "password": password, "next": "/admin/"}, REMOTE_ADDR="198.51.100.51"
    )
    assert elsewhere.status_code == 302
    assert _signed_in(client)


def test_four_failures_do_not_lock_anyone_out(client, clerk_a, password):
    for _ in range(4):
        _failed_login(client, "clerk_a", "192.0.2.20")

    response = client.post(
        "/admin/login/", {"username": "clerk_a", "password": password, "next": "/admin/"}, REMOTE_ADDR="192.0.2.20"
    )

    assert response.status_code == 302
    assert _signed_in(client)
    assert not AuditEvent.objects.filter(action="auth.locked_out").exists()


def test_behind_a_trusted_proxy_the_login_records_the_forwarded_address(client, clerk_a, password, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client.post(
        "/admin/login/",
        {"username": "clerk_a", "password": password, "next": "/admin/"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.77",
    )
    assert AuditEvent.objects.get(action="auth.login").remote_addr == "203.0.113.77"


# --- Health check and client address -----------------------------------------------------------


def test_the_health_check_says_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_with_one_trusted_proxy_the_client_is_the_last_forwarded_entry(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7 , 203.0.113.9"
    )
    assert client_ip(request) == "203.0.113.9"


def test_with_two_trusted_proxies_the_client_is_the_second_to_last_entry(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7, 10.0.0.3")
    assert client_ip(request) == "198.51.100.7"


def test_with_no_trusted_proxy_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(request) == "10.0.0.2"


def test_with_a_trusted_proxy_but_no_forwarded_header_the_peer_address_is_used(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "10.0.0.2"


def test_a_forged_forwarded_entry_that_is_not_an_address_gives_no_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="<script>")
    assert client_ip(request) is None


def test_ipv6_addresses_are_normalised(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    request = RequestFactory().get("/", REMOTE_ADDR="2001:DB8:0:0::1")
    assert client_ip(request) == "2001:db8::1"
