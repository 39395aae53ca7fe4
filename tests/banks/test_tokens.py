"""Bank API tokens: issued once and kept only hashed, revoked, rotated — by finance in the admin or by the
``bank_token`` command — and never by anyone else."""

from __future__ import annotations

import hashlib
import io
import json
import re

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.models import Bank, BankToken
from banks.tokens import (
    TOKEN_PATTERN,
    bank_identity,
    bank_token_issue,
    bank_token_revoke,
    bank_token_rotate,
    signing_key,
    token_authenticate,
)
from org.enums import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank(db):
    return Bank.objects.create(code="ccb-erqi", name="中国建设银行郑州二七支行", aliases=["建行"])


def row_text(token: BankToken) -> str:
    """Everything the database holds for a token, as text (binary columns as hex and as bytes)."""
    values = BankToken.objects.filter(pk=token.pk).values().get()
    cipher = bytes(values.pop("signing_key_cipher"))
    return json.dumps(values, default=str) + cipher.hex() + cipher.decode("latin-1")


def trail_text() -> str:
    return json.dumps(list(AuditEvent.objects.values("object_repr", "before", "after")), ensure_ascii=False)


# --- Issuing -----------------------------------------------------------------------------------


def test_issuing_gives_the_token_once_and_stores_only_its_hash(bank, finance_admin):
    token, raw = bank_token_issue(acting_user=finance_admin, bank=bank, label="生产")

    assert TOKEN_PATTERN.fullmatch(raw)
    assert raw.startswith(f"ykt_{token.prefix}_")
    stored = row_text(token)
    secret = raw.split("_", 2)[2]
    assert raw not in stored and secret not in stored
    assert hashlib.sha256(raw.encode()).hexdigest() not in stored  # the signing key is sealed, not plain
    assert signing_key(token) == hashlib.sha256(raw.encode()).digest()
    assert token_authenticate(raw) == token


def test_issuing_is_audited_with_the_prefix_and_never_the_token(bank, finance_admin):
    token, raw = bank_token_issue(acting_user=finance_admin, bank=bank)

    event = AuditEvent.objects.get(action=AuditAction.BANK_TOKEN_ISSUE)
    assert event.actor == finance_admin
    assert event.after == {"bank": "ccb-erqi", "prefix": token.prefix, "label": ""}
    assert raw not in trail_text()


def test_the_bank_gets_one_api_identity_with_no_password_and_no_admin(bank, finance_admin):
    bank_token_issue(acting_user=finance_admin, bank=bank)
    bank_token_issue(acting_user=finance_admin, bank=bank)

    bank.refresh_from_db()
    user = bank.user
    assert user.username == "bank:ccb-erqi"
    assert user.role == Role.BANK
    assert not user.is_staff and not user.has_usable_password()
    assert bank_identity(bank) == user
    assert AuditEvent.objects.filter(action=AuditAction.USER_CREATE, object_id=str(user.pk)).count() == 1


@pytest.mark.parametrize("who", ["outsider", "clerk_a", "reviewer_a", "finance_reviewer", "auditor", "bank_user"])
def test_only_finance_may_issue_a_token(request, bank, who):
    user = request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        bank_token_issue(acting_user=user, bank=bank)
    with pytest.raises(PermissionDenied):
        bank_token_rotate(acting_user=user, bank=bank)

    assert not BankToken.objects.exists()


def test_a_lookalike_token_finds_nothing(bank, finance_admin):
    token, raw = bank_token_issue(acting_user=finance_admin, bank=bank)
    same_prefix = f"ykt_{token.prefix}_{'A' * 43}"

    assert token_authenticate(same_prefix) is None
    assert token_authenticate(raw.upper()) is None
    assert token_authenticate("") is None
    assert token_authenticate(raw + "x") is None


# --- Revoking and rotating ---------------------------------------------------------------------


def test_revoking_twice_revokes_once_and_records_once(bank, finance_admin):
    token, raw = bank_token_issue(acting_user=finance_admin, bank=bank)

    bank_token_revoke(acting_user=finance_admin, token=token)
    first = BankToken.objects.get(pk=token.pk).revoked_at
    bank_token_revoke(acting_user=finance_admin, token=BankToken.objects.get(pk=token.pk))

    assert BankToken.objects.get(pk=token.pk).revoked_at == first
    assert BankToken.objects.get(pk=token.pk).revoked_by == finance_admin
    assert AuditEvent.objects.filter(action=AuditAction.BANK_TOKEN_REVOKE).count() == 1
    assert token_authenticate(raw).revoked_at is not None  # still found: refused as revoked, not as unknown


def test_outsider_cannot_revoke_a_token(bank, finance_admin, outsider):
    token, _raw = bank_token_issue(acting_user=finance_admin, bank=bank)

    with pytest.raises(PermissionDenied):
        bank_token_revoke(acting_user=outsider, token=token)

    assert BankToken.objects.get(pk=token.pk).revoked_at is None


def test_rotation_revokes_every_other_live_token_of_the_bank_at_once(bank, finance_admin):
    first, _ = bank_token_issue(acting_user=finance_admin, bank=bank)
    second, _ = bank_token_issue(acting_user=finance_admin, bank=bank)
    other_bank = Bank.objects.create(code="icbc-erqi", name="中国工商银行郑州二七支行")
    theirs, _ = bank_token_issue(acting_user=finance_admin, bank=other_bank)

    new, raw = bank_token_rotate(acting_user=finance_admin, bank=bank, label="2027")

    live = set(BankToken.objects.filter(revoked_at__isnull=True).values_list("prefix", flat=True))
    assert live == {new.prefix, theirs.prefix}
    assert token_authenticate(raw) == new
    revoked = AuditEvent.objects.filter(action=AuditAction.BANK_TOKEN_REVOKE).order_by("id")
    assert [(e.after["prefix"], e.after["reason"]) for e in revoked] == [
        (first.prefix, f"rotated:{new.prefix}"),
        (second.prefix, f"rotated:{new.prefix}"),
    ]


# --- The command -------------------------------------------------------------------------------


def run_command(*args) -> list[str]:
    out = io.StringIO()
    call_command("bank_token", *args, stdout=out)
    return out.getvalue().rstrip("\n").split("\n")


@pytest.mark.urls("tests.banks.urls_for_auth")
def test_the_command_prints_the_token_alone_on_its_last_line_and_that_token_works(client, bank):
    lines = run_command("ccb-erqi", "--label", "生产")

    raw = lines[-1]
    assert TOKEN_PATTERN.fullmatch(raw)
    assert "一次" in lines[-2]
    response = client.get("/bank-test/echo/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 200
    assert response.json()["bank"] == "ccb-erqi"
    event = AuditEvent.objects.get(action=AuditAction.BANK_TOKEN_ISSUE)
    assert event.actor_id is None and event.actor_label == "system"
    assert BankToken.objects.get().label == "生产"


def test_the_command_rotates(bank, finance_admin):
    old, _ = bank_token_issue(acting_user=finance_admin, bank=bank)

    raw = run_command("ccb-erqi", "--rotate")[-1]

    assert token_authenticate(raw).revoked_at is None
    assert BankToken.objects.get(pk=old.pk).revoked_at is not None


def test_the_command_revokes_by_prefix(bank, finance_admin):
    token, _ = bank_token_issue(acting_user=finance_admin, bank=bank)

    lines = run_command("ccb-erqi", "--revoke", token.prefix)

    assert "revoked" in lines[-1]
    assert BankToken.objects.get(pk=token.pk).revoked_at is not None
    assert not any(TOKEN_PATTERN.search(line) for line in lines)


def test_the_command_names_an_unknown_bank_clearly(bank):
    with pytest.raises(CommandError, match=r"No bank with code 'nope'\. Known: ccb-erqi\."):
        run_command("nope")

    assert not BankToken.objects.exists()


def test_the_command_refuses_a_prefix_that_is_not_one(bank):
    with pytest.raises(CommandError, match="8 hex digit prefix"):
        run_command("ccb-erqi", "--revoke", "zz")


# --- The admin ---------------------------------------------------------------------------------


def issue_page(client, bank, kind="issue"):
    url = reverse(f"admin:banks_bank_token_{kind}", args=[bank.pk])
    form = client.get(url)
    mark = re.search(r'name="mark" value="([^"]+)"', form.content.decode())[1]
    return url, form, mark


def test_finance_issues_a_token_in_the_admin_and_sees_it_once(login, bank, finance_admin):
    client = login(finance_admin)
    url, form, mark = issue_page(client, bank)
    assert form.status_code == 200

    response = client.post(url, {"label": "生产", "mark": mark})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    raw = re.search(r'value="(ykt_[^"]+)"', response.content.decode())[1]
    token = token_authenticate(raw)
    assert token.bank == bank and token.created_by == finance_admin and token.label == "生产"
    assert raw not in json.dumps(dict(client.session.items()))
    assert raw not in row_text(token)
    # Shown once: the change page names the token by its prefix only.
    page = client.get(reverse("admin:banks_bank_change", args=[bank.pk])).content.decode()
    assert f"ykt_{token.prefix}_…" in page and raw not in page


def test_sending_the_issue_form_again_issues_no_second_token(login, bank, finance_admin):
    client = login(finance_admin)
    url, _form, mark = issue_page(client, bank)
    client.post(url, {"label": "", "mark": mark})

    again = client.post(url, {"label": "", "mark": mark}, follow=True)

    assert BankToken.objects.count() == 1
    assert "不会再次显示" in again.content.decode()
    assert not TOKEN_PATTERN.search(again.content.decode())


@pytest.mark.parametrize("who", ["outsider", "clerk_a", "auditor", "finance_reviewer"])
def test_no_one_but_finance_admin_can_issue_rotate_or_revoke_in_the_admin(login, bank, finance_admin, request, who):
    token, _ = bank_token_issue(acting_user=finance_admin, bank=bank)
    client = login(request.getfixturevalue(who))

    for url in (
        reverse("admin:banks_bank_token_issue", args=[bank.pk]),
        reverse("admin:banks_bank_token_rotate", args=[bank.pk]),
        reverse("admin:banks_bank_token_revoke", args=[bank.pk, token.pk]),
    ):
        assert client.get(url).status_code == 403
        assert client.post(url, {"label": "x", "mark": "x"}).status_code == 403

    assert BankToken.objects.count() == 1
    assert BankToken.objects.get().revoked_at is None


def test_finance_rotates_in_the_admin(login, bank, finance_admin):
    old, _ = bank_token_issue(acting_user=finance_admin, bank=bank)
    client = login(finance_admin)
    url, form, mark = issue_page(client, bank, "rotate")
    assert f"ykt_{old.prefix}_…" in form.content.decode()  # the page says which tokens will stop working

    response = client.post(url, {"label": "", "mark": mark})

    raw = re.search(r'value="(ykt_[^"]+)"', response.content.decode())[1]
    assert token_authenticate(raw).revoked_at is None
    assert BankToken.objects.get(pk=old.pk).revoked_at is not None


def test_finance_revokes_in_the_admin_after_confirming(login, bank, finance_admin):
    token, _ = bank_token_issue(acting_user=finance_admin, bank=bank)
    client = login(finance_admin)
    url = reverse("admin:banks_bank_token_revoke", args=[bank.pk, token.pk])

    confirm = client.get(url)
    assert BankToken.objects.get(pk=token.pk).revoked_at is None
    assert "确认吊销" in confirm.content.decode()
    response = client.post(url)

    assert response.status_code == 302
    assert BankToken.objects.get(pk=token.pk).revoked_by == finance_admin


def test_the_bank_page_lists_its_tokens_for_an_auditor_without_buttons(login, bank, finance_admin, auditor):
    token, _ = bank_token_issue(acting_user=finance_admin, bank=bank, label="生产")

    page = login(auditor).get(reverse("admin:banks_bank_change", args=[bank.pk])).content.decode()

    assert f"ykt_{token.prefix}_…" in page and "生产" in page
    assert reverse("admin:banks_bank_token_issue", args=[bank.pk]) not in page
    assert reverse("admin:banks_bank_token_revoke", args=[bank.pk, token.pk]) not in page
