"""The doors of 失败更正 and 补发: REST under /api/v1/corrections/ and /api/v1/payouts/{code}/reissue/, and the
admin's queue, payment page and 补发 button. Mounted by a test-only URL module until yikatong/urls.py and
disbursement/admin.py wire them in."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from bench import synth
from disbursement.admin_corrections import reissue_context
from disbursement.corrections import payment_correct
from disbursement.enums import CorrectionKind, PaymentStatus
from disbursement.models import Batch, Correction, Payment
from tests.disbursement.test_corrections import (
    ICBC,
    bank_fails,
    bank_pays,
    new_account,
    payments_of,
    release_payout,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def roster_accounts():
    """The full account numbers of the roster, filled in by `failed`: none may appear in any answer."""
    return []


@pytest.fixture
def failed(payout, clerk_a, finance_admin, roster_file, django_capture_on_commit_callbacks, roster_accounts):
    """Released; its first three payments failed, the rest paid."""

    def remembering(n, **kwargs):
        path, rows = roster_file(n, **kwargs)
        roster_accounts.extend("".join(str(row[synth.C_ACCOUNT]).split()) for row in rows)
        return path, rows

    release_payout(
        payout,
        clerk=clerk_a,
        finance=finance_admin,
        roster_file=remembering,
        capture=django_capture_on_commit_callbacks,
    )
    everyone = payments_of(payout)
    bank_fails(everyone[:3])
    bank_pays(everyone[3:])
    return payout


def _no_full_account(response, accounts) -> None:
    body = response.content.decode()
    assert accounts and not [a for a in accounts if a in body]


# --- REST -----------------------------------------------------------------------------------------------------


def test_the_queue_over_rest_lists_the_departments_failures_with_masked_accounts(
    failed, login, clerk_a, roster_accounts
):
    response = login(clerk_a).get("/api/v1/corrections/")

    assert response.status_code == 200
    items = response.json()["results"]
    assert [item["status"] for item in items] == ["failed"] * 3
    first = items[0]
    assert (
        first["payout"] == failed.code
        and first["reason_name"] == "卡号已注销"
        and first["result_code"] == ("account_closed")
    )
    assert first["pending"] is True and first["correctable"] is True and first["correction"] is None
    assert first["account_masked"].startswith("****") and first["payment_ref"].startswith(failed.code)
    _no_full_account(response, roster_accounts)


def test_the_queue_over_rest_filters_by_payout_state_and_reason(failed, login, clerk_a):
    first = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=first, account=new_account(1))
    client = login(clerk_a)

    corrected = client.get("/api/v1/corrections/", {"payout": failed.code, "state": "corrected"}).json()["results"]
    assert [item["payment_id"] for item in corrected] == [first.pk]
    assert corrected[0]["correction"]["account_masked"] == "****" + new_account(1)[-4:]
    assert len(client.get("/api/v1/corrections/", {"state": "pending"}).json()["results"]) == 2
    assert client.get("/api/v1/corrections/", {"payout": "NO-SUCH"}).json()["results"] == []
    assert client.get("/api/v1/corrections/", {"reason": "name_mismatch"}).json()["results"] == []
    assert client.get("/api/v1/corrections/", {"status": "paid"}).status_code == 400


def test_the_clerk_corrects_over_rest_and_the_answer_is_masked(failed, login, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    account = new_account(5)

    response = login(clerk_a).post(
        f"/api/v1/corrections/{payment.pk}/correct/",
        {"account": account, "bank_name": "工商银行", "holder_name": "", "reason": "已核实"},
        content_type="application/json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["pending"] is False and body["status"] == "failed"
    assert body["correction"]["kind"] == "correct" and body["correction"]["bank_name"] == "工商银行"
    assert body["correction"]["account_masked"] == "****" + account[-4:]
    assert account not in response.content.decode()
    assert Correction.objects.get(payment=payment).kind == CorrectionKind.CORRECT


def test_a_bad_account_or_bank_over_rest_says_why(failed, login, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(clerk_a)
    url = f"/api/v1/corrections/{payment.pk}/correct/"

    bad_account = client.post(url, {"account": "12345"}, content_type="application/json")
    bad_bank = client.post(url, {"account": new_account(1), "bank_name": "火星银行"}, content_type="application/json")

    assert (bad_account.status_code, bad_account.json()["code"]) == (400, "account_format")
    assert (bad_bank.status_code, bad_bank.json()["code"]) == (400, "bank_unknown")
    assert not Correction.objects.exists()


def test_stop_over_rest_needs_a_reason(failed, login, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(clerk_a)
    url = f"/api/v1/corrections/{payment.pk}/stop/"

    refused = client.post(url, {"reason": " "}, content_type="application/json")
    stopped = client.post(url, {"reason": "经核实已不符合条件"}, content_type="application/json")
    again = client.post(url, {"reason": "再次停发"}, content_type="application/json")

    assert (refused.status_code, refused.json()["code"]) == (400, "reason_required")
    assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
    assert stopped.json()["correction"]["reason"] == "经核实已不符合条件"
    assert (again.status_code, again.json()["code"]) == (400, "not_correctable")
    assert payment.pk not in [item["payment_id"] for item in client.get("/api/v1/corrections/").json()["results"]]


def test_the_outsider_gets_404_for_another_departments_payment(failed, login, outsider):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(outsider)

    assert client.get("/api/v1/corrections/").json()["results"] == []
    assert client.get(f"/api/v1/corrections/{payment.pk}/").status_code == 404
    correct = client.post(
        f"/api/v1/corrections/{payment.pk}/correct/", {"account": new_account(1)}, content_type="application/json"
    )
    stop = client.post(f"/api/v1/corrections/{payment.pk}/stop/", {"reason": "x"}, content_type="application/json")
    reissue = client.post(f"/api/v1/payouts/{failed.code}/reissue/")

    assert correct.status_code == stop.status_code == reissue.status_code == 404
    assert correct.json()["code"] == "not_found"
    assert not Correction.objects.exists()


def test_a_reviewer_may_read_the_queue_but_not_correct(failed, login, reviewer_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(reviewer_a)
    assert len(client.get("/api/v1/corrections/").json()["results"]) == 3
    response = client.post(
        f"/api/v1/corrections/{payment.pk}/correct/", {"account": new_account(1)}, content_type="application/json"
    )
    assert (response.status_code, response.json()["code"]) == (403, "not_clerk")


def test_finance_reissues_over_rest_and_gets_the_new_batches(
    failed, login, clerk_a, finance_admin, django_capture_on_commit_callbacks
):
    everyone = payments_of(failed, PaymentStatus.FAILED)
    payment_correct(acting_user=clerk_a, payment=everyone[0], account=new_account(1))
    payment_correct(acting_user=clerk_a, payment=everyone[1], account=new_account(2), bank_name=ICBC)
    url = f"/api/v1/payouts/{failed.code}/reissue/"

    by_clerk = login(clerk_a).post(url)
    with django_capture_on_commit_callbacks(execute=True):
        response = login(finance_admin).post(url)
    again = login(finance_admin).post(url)

    assert (by_clerk.status_code, by_clerk.json()["code"]) == (403, "permission_denied")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["payout"] == failed.code and body["payments"] == 2
    assert {(b["bank"], b["attempt"]) for b in body["batches"]} == {("ccb-erqi", 2), ("icbc-erqi", 1)}
    assert {b["batch_no"] for b in body["batches"]} == set(
        Batch.objects.filter(payout=failed, payments__reissue_of__isnull=False).values_list("batch_no", flat=True)
    )
    assert (again.status_code, again.json()["code"]) == (400, "nothing_to_reissue")
    assert Payment.objects.filter(payout=failed, attempt=2).count() == 2


def test_the_openapi_schema_describes_the_correction_doors(login, finance_admin):
    response = login(finance_admin).get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/corrections/" in paths
    assert "post" in paths["/api/v1/corrections/{payment_id}/correct/"]
    assert "post" in paths["/api/v1/corrections/{payment_id}/stop/"]
    assert paths["/api/v1/payouts/{code}/reissue/"]["post"]["summary"].startswith("补发")


# --- Admin ----------------------------------------------------------------------------------------------------


def test_the_clerk_works_the_queue_in_the_admin(failed, login, clerk_a, roster_accounts):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(clerk_a)

    queue = client.get(reverse("admin:disbursement_correction_changelist"))
    page_url = reverse("admin:disbursement_correction_payment", args=[payment.pk])
    page = client.get(page_url)

    assert queue.status_code == 200
    assert page_url in queue.content.decode() and "卡号已注销" in queue.content.decode()
    assert 'id="to-reissue"' not in queue.content.decode()  # the 补发 section is finance's
    _no_full_account(queue, roster_accounts)
    assert page.status_code == 200
    text = page.content.decode()
    assert payment.account_masked in text and "卡号已注销" in text
    assert 'id="correct-form"' in text and 'id="stop-form"' in text
    _no_full_account(page, roster_accounts)

    account = new_account(9)
    done = client.post(page_url, {"do": "correct", "account": account, "holder_name": "", "bank_name": ""})

    assert done.status_code == 302
    correction = Correction.objects.get(payment=payment)
    assert correction.account_masked == "****" + account[-4:] and correction.corrected_by == clerk_a
    after = client.get(page_url).content.decode()
    assert "****" + account[-4:] in after and account not in after


def test_a_stop_in_the_admin_without_a_reason_shows_why(failed, login, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    url = reverse("admin:disbursement_correction_payment", args=[payment.pk])

    response = login(clerk_a).post(url, {"do": "stop", "reason": ""})

    assert response.status_code == 200 and "停发须填写理由" in response.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED


def test_finance_presses_reissue_in_the_admin(
    failed, login, clerk_a, finance_admin, django_capture_on_commit_callbacks
):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
    client = login(finance_admin)
    reissue_url = reverse("admin:disbursement_correction_reissue", args=[failed.pk])

    queue = client.get(reverse("admin:disbursement_correction_changelist")).content.decode()
    assert reissue_url in queue and failed.code in queue
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reissue_url, follow=True)

    assert response.status_code == 200
    assert f"{failed.code}-CCB-ERQI-2".upper() in response.content.decode()
    assert Payment.objects.get(reissue_of=payment).attempt == 2
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.REISSUED


def test_a_clerk_cannot_press_reissue_in_the_admin(failed, login, clerk_a):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    payment_correct(acting_user=clerk_a, payment=payment, account=new_account(1))
    response = login(clerk_a).post(reverse("admin:disbursement_correction_reissue", args=[failed.pk]))
    assert response.status_code == 403
    assert not Payment.objects.filter(reissue_of=payment).exists()


def test_the_outsider_sees_an_empty_queue_and_no_payment_page_in_the_admin(failed, login, outsider):
    payment = payments_of(failed, PaymentStatus.FAILED)[0]
    client = login(outsider)

    queue = client.get(reverse("admin:disbursement_correction_changelist"))
    page = client.get(reverse("admin:disbursement_correction_payment", args=[payment.pk]))
    post = client.post(
        reverse("admin:disbursement_correction_payment", args=[payment.pk]), {"do": "stop", "reason": "x"}
    )

    assert queue.status_code == 200 and 'id="queue-empty"' in queue.content.decode()
    assert page.status_code == post.status_code == 404
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.FAILED


def test_the_payout_page_section_offers_reissue_to_finance_only(failed, rf, clerk_a, finance_admin):
    payment_correct(acting_user=clerk_a, payment=payments_of(failed, PaymentStatus.FAILED)[0], account=new_account(1))
    request = rf.get("/admin/disbursement/payout/")

    for user, offered in ((finance_admin, True), (clerk_a, False)):
        request.user = user
        context = reissue_context(user, failed)
        html = render_to_string("admin/disbursement/corrections/payout_section.html", context, request=request)
        assert context["reissue_waiting"] == 1 and context["can_reissue"] is offered
        assert ('id="reissue-form"' in html) is offered
        assert f"?payout={failed.code}" in html
