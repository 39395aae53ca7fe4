"""A bank's calls to its endpoints: the bearer token, the request signature, and one audit entry per call."""

from __future__ import annotations

import hashlib
import json
import logging
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.auth import sign
from banks.models import Bank
from banks.tokens import bank_token_issue, bank_token_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.banks.urls_for_auth")]

ECHO = "/bank-test/echo/"
REFUSE = "/bank-test/refuse/"


@pytest.fixture
def bank(db):
    return Bank.objects.create(code="ccb-erqi", name="中国建设银行郑州二七支行", aliases=["建行"])


@pytest.fixture
def issued(bank, finance_admin):
    """(token row, token) of the bank's first token."""
    return bank_token_issue(acting_user=finance_admin, bank=bank, label="生产")


@pytest.fixture
def raw(issued):
    return issued[1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(token: str, method: str, path: str, body: bytes = b"", *, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = sign(token, timestamp, method, path, hashlib.sha256(body).hexdigest())
    return {**bearer(token), "X-Yikatong-Timestamp": str(timestamp), "X-Yikatong-Signature": signature}


def calls():
    return AuditEvent.objects.filter(action=AuditAction.BANK_API_CALL).order_by("id")


# --- The token ---------------------------------------------------------------------------------


def test_a_bank_with_a_valid_token_is_answered_as_itself(client, raw, issued):
    response = client.get(ECHO, headers=bearer(raw))

    assert response.status_code == 200
    assert response.json() == {"bank": "ccb-erqi", "token": issued[0].prefix}


def test_a_call_without_a_token_is_asked_for_one(client, bank):
    response = client.get(ECHO)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_refused_and_logged_by_its_prefix_only(client, raw, caplog):
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")

    with caplog.at_level(logging.WARNING, logger="banks.auth"):
        response = client.get(ECHO, headers=bearer(forged))

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert forged[4:12] in caplog.text
    assert forged not in caplog.text
    assert not calls().exists()  # nobody to attribute it to


def test_a_malformed_authorization_header_is_refused(client, bank):
    response = client.get(ECHO, headers={"Authorization": "Bearer"})

    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_a_revoked_token_is_refused_as_revoked(client, issued, raw, finance_admin):
    bank_token_revoke(acting_user=finance_admin, token=issued[0])

    response = client.get(ECHO, headers=bearer(raw))

    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"


def test_an_inactive_banks_token_is_refused(client, bank, raw):
    Bank.objects.filter(pk=bank.pk).update(is_active=False)

    response = client.get(ECHO, headers=bearer(raw))

    assert response.status_code == 401
    assert response.json()["code"] == "bank_inactive"


def test_a_bank_token_does_not_open_any_other_endpoint(client, raw, settings):
    for url in ("/api/v1/payouts/", "/api/v1/batches/", "/api/v1/me/"):
        response = client.get(url, headers=bearer(raw))
        assert response.status_code in (401, 403), url


def test_a_finance_session_cannot_call_a_bank_endpoint(client, bank, finance_admin):
    client.force_login(finance_admin)

    response = client.get(ECHO)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_the_bank_identity_cannot_sign_in_even_if_someone_gave_it_a_password(client, bank, raw, password):
    assert not bank.user.has_usable_password()
    bank.user.set_password(password)
    bank.user.save(update_fields=["password"])

    response = client.post("/admin/login/", {"username": bank.user.username, "password": password, "next": "/admin/"})

    assert response.status_code == 200  # the form again, not a redirect into the admin
    assert "_auth_user_id" not in client.session


def test_last_use_is_written_at_most_once_a_minute(client, issued, raw):
    client.get(ECHO, headers=bearer(raw))
    issued[0].refresh_from_db()
    first = issued[0].last_used_at
    assert first is not None

    with CaptureQueriesContext(connection) as queries:
        assert client.get(ECHO, headers=bearer(raw)).status_code == 200

    issued[0].refresh_from_db()
    assert issued[0].last_used_at == first
    assert not [q for q in queries.captured_queries if "UPDATE" in q["sql"] and "banks_banktoken" in q["sql"]]


# --- The signature -----------------------------------------------------------------------------


def test_a_correctly_signed_request_passes(client, raw):
    body = json.dumps({"results": []}).encode()

    response = client.post(ECHO, body, content_type="application/json", headers=signed(raw, "POST", ECHO, body))

    assert response.status_code == 200
    assert response.json()["bank"] == "ccb-erqi"


def test_the_query_string_is_part_of_what_is_signed(client, raw):
    good = client.get(f"{ECHO}?status=ready", headers=signed(raw, "GET", f"{ECHO}?status=ready"))
    bad = client.get(f"{ECHO}?status=closed", headers=signed(raw, "GET", f"{ECHO}?status=ready"))

    assert good.status_code == 200
    assert bad.status_code == 401
    assert bad.json()["code"] == "signature_invalid"


def test_a_request_whose_body_was_changed_after_signing_fails(client, raw):
    headers = signed(raw, "POST", ECHO, b'{"results": []}')

    response = client.post(ECHO, b'{"results": [1]}', content_type="application/json", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"


def test_a_signature_made_with_another_token_fails(client, raw, bank, finance_admin):
    _other, other_raw = bank_token_issue(acting_user=finance_admin, bank=bank)
    headers = {**signed(other_raw, "GET", ECHO), **bearer(raw)}

    response = client.get(ECHO, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_invalid"


def test_a_stale_timestamp_fails_even_when_the_signature_is_right(client, raw):
    headers = signed(raw, "GET", ECHO, timestamp=int(time.time()) - 301)

    response = client.get(ECHO, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "timestamp_out_of_range"


def test_a_timestamp_that_is_not_unix_seconds_fails(client, raw):
    headers = {**signed(raw, "GET", ECHO), "X-Yikatong-Timestamp": "2026-11-24T10:00:00"}

    response = client.get(ECHO, headers=headers)

    assert response.json()["code"] == "timestamp_out_of_range"


def test_a_bank_that_must_sign_is_refused_without_a_signature(client, bank, raw):
    Bank.objects.filter(pk=bank.pk).update(signature_required=True)

    unsigned = client.get(ECHO, headers=bearer(raw))
    signed_ok = client.get(ECHO, headers=signed(raw, "GET", ECHO))

    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "signature_required"
    assert signed_ok.status_code == 200


def test_a_large_signed_body_is_checked_by_its_declared_hash_and_not_read_by_the_authenticator(client, raw, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = b"D|MZ-04-2026-11-000001|paid||T1|20261124093000\r\n" * 100
    digest = hashlib.sha256(body).hexdigest()
    headers = {**signed(raw, "POST", ECHO, body), "X-Content-SHA256": digest}

    response = client.post(ECHO, body, content_type="text/plain", headers=headers)

    assert response.status_code == 200
    assert response.json() == {
        "bank": "ccb-erqi",
        "read_before_view": False,
        "declared_body_sha256": digest,
        "body_matches_declared": True,
    }


def test_a_large_signed_body_without_its_declared_hash_is_refused(client, raw, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = b"x" * 2048

    response = client.post(ECHO, body, content_type="text/plain", headers=signed(raw, "POST", ECHO, body))

    assert response.status_code == 401
    assert response.json()["code"] == "content_sha256_required"


def test_a_small_body_that_contradicts_its_declared_hash_is_refused(client, raw):
    body = b'{"results": []}'
    headers = {**signed(raw, "POST", ECHO, body), "X-Content-SHA256": hashlib.sha256(b"other").hexdigest()}

    response = client.post(ECHO, body, content_type="application/json", headers=headers)

    assert response.json()["code"] == "signature_invalid"


def test_a_declared_hash_that_is_not_hex_is_a_clear_error(client, raw):
    response = client.post(
        ECHO, b"{}", content_type="application/json", headers={**bearer(raw), "X-Content-SHA256": "abc"}
    )

    assert response.status_code == 400
    assert response.json()["code"] == "content_sha256_invalid"


# --- The per-call audit ------------------------------------------------------------------------


def test_every_call_leaves_one_audit_entry_with_the_token_prefix_and_never_the_token(client, issued, raw):
    token = issued[0]
    body = json.dumps({"results": [{"payment_ref": "MZ-04-2026-11-000001", "account": "6222020200112233445"}]})

    client.get(f"{ECHO}?status=ready", headers=bearer(raw))
    client.post(REFUSE, body, content_type="application/json", headers={**bearer(raw), "Idempotency-Key": "k-1"})

    entries = list(calls())
    assert [(e.after["method"], e.after["path"], e.after["status"], e.after["code"]) for e in entries] == [
        ("GET", ECHO, 200, ""),
        ("POST", REFUSE, 422, "results_mismatch"),
    ]
    assert all(e.after["token"] == token.prefix for e in entries)
    assert entries[1].after["idempotency_key"] == "k-1"
    assert all(e.actor_id == token.bank.user_id and e.actor_role == "bank" for e in entries)
    trail = json.dumps(list(AuditEvent.objects.values("before", "after", "object_repr")), ensure_ascii=False)
    assert raw not in trail
    assert raw.split("_", 2)[2] not in trail
    assert "6222020200112233445" not in trail  # bodies are never recorded


def test_a_refused_call_with_a_known_token_is_attributed_to_its_bank(client, issued, raw, finance_admin):
    bank_token_revoke(acting_user=finance_admin, token=issued[0])

    client.get(ECHO, headers=bearer(raw))

    entry = calls().get()
    assert entry.actor_id == issued[0].bank.user_id
    assert entry.after["status"] == 401
    assert entry.after["code"] == "token_revoked"
    assert entry.after["token"] == issued[0].prefix


def test_a_badly_signed_call_is_audited_with_its_error(client, raw, issued):
    client.get(ECHO, headers={**signed(raw, "GET", ECHO), "X-Yikatong-Signature": "0" * 64})

    assert calls().get().after["code"] == "signature_invalid"


def test_the_openapi_schema_names_the_bank_token_for_bank_endpoints(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    assert schema["components"]["securitySchemes"]["bankToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ykt_<prefix>_<secret>",
        "description": "银行接口令牌（财政部门签发，只显示一次）。可选的请求签名见 docs/bank-api.md。",
    }
    assert schema["paths"][ECHO]["get"]["security"] == [{"bankToken": []}]
