"""Batches through the doors: the REST release and batch endpoints, the admin pages, the file download, and the
register of banks in the admin."""

import hashlib

import pytest

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.demo import seed_banks
from banks.models import Bank
from disbursement.enums import BatchStatus, PayoutStatus
from disbursement.models import Batch, Payment, Payout
from tests.disbursement.test_batches import approve_directly

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def approved_payout(payout, roster_file, upload, clerk_a):
    seed_banks()
    path, _rows = roster_file(20)
    upload(path)
    return approve_directly(payout, submitted_by=clerk_a)


@pytest.fixture
def released(approved_payout, login, finance_admin, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = login(finance_admin).post(f"/api/v1/payouts/{approved_payout.code}/release/")
    assert response.status_code == 202, response.content
    return response.json()


def test_finance_releases_over_rest_and_gets_the_batches(released, approved_payout):
    assert released["payout"] == approved_payout.code and released["status"] == "released"
    numbers = {b["batch_no"] for b in released["batches"]}
    assert numbers == set(Batch.objects.values_list("batch_no", flat=True))
    assert sum(b["payment_count"] for b in released["batches"]) == 20
    assert Payout.objects.get(pk=approved_payout.pk).status == PayoutStatus.RELEASED


def test_a_second_release_over_rest_says_why(released, approved_payout, client):
    response = client.post(f"/api/v1/payouts/{approved_payout.code}/release/")
    assert response.status_code == 400
    assert response.json()["code"] == "payout_not_approved"


def test_an_unknown_bank_over_rest_lists_the_names(approved_payout, login, finance_admin):
    Payment.objects.filter(payout=approved_payout).update(bank_name="火星银行")
    response = login(finance_admin).post(f"/api/v1/payouts/{approved_payout.code}/release/")
    assert response.status_code == 400
    assert response.json()["code"] == "bank_unknown" and response.json()["banks"] == {"火星银行": 20}


def test_a_clerk_cannot_release_and_an_outsider_cannot_see_the_payout(approved_payout, login, clerk_a, outsider):
    assert login(clerk_a).post(f"/api/v1/payouts/{approved_payout.code}/release/").status_code == 403
    assert login(outsider).post(f"/api/v1/payouts/{approved_payout.code}/release/").status_code == 404
    assert not Batch.objects.exists()


def test_batches_are_listed_in_scope(released, login, clerk_a, outsider, auditor):
    listed = login(clerk_a).get("/api/v1/batches/").json()
    assert {b["batch_no"] for b in listed["results"]} == {b["batch_no"] for b in released["batches"]}
    assert login(auditor).get("/api/v1/batches/").json()["count"] == len(released["batches"])
    assert login(outsider).get("/api/v1/batches/").json()["count"] == 0
    batch_no = released["batches"][0]["batch_no"]
    assert login(outsider).get(f"/api/v1/batches/{batch_no}/").status_code == 404


def test_a_batch_shows_its_file_hash_and_total(released, login, finance_admin):
    batch = Batch.objects.first()
    body = login(finance_admin).get(f"/api/v1/batches/{batch.batch_no}/").json()
    assert body["status"] == BatchStatus.READY and body["file_sha256"] == batch.file_sha256
    assert body["total_fen"] == batch.total_fen and body["total_yuan"] == f"{batch.total_fen / 100:.2f}"


def test_finance_downloads_the_file_over_rest_with_its_hash(released, login, finance_admin, clerk_a):
    batch = Batch.objects.first()
    response = login(finance_admin).get(f"/api/v1/batches/{batch.batch_no}/file/")
    assert response.status_code == 200
    assert response["X-Content-SHA256"] == batch.file_sha256 == hashlib.sha256(response.content).hexdigest()
    assert "attachment" in response["Content-Disposition"]
    assert login(clerk_a).get(f"/api/v1/batches/{batch.batch_no}/file/").status_code == 403
    (download,) = AuditEvent.objects.filter(action=AuditAction.BATCH_DOWNLOAD, object_id=str(batch.pk))
    assert download.actor_id == finance_admin.pk and download.after["file_sha256"] == batch.file_sha256


def test_batches_in_the_admin_and_the_download_for_finance(released, login, finance_admin, clerk_a, auditor):
    batch = Batch.objects.first()
    client = login(finance_admin)
    listing = client.get("/admin/disbursement/batch/").content.decode()
    assert batch.batch_no in listing and batch.file_sha256[:16] in listing
    page = client.get(f"/admin/disbursement/batch/{batch.pk}/change/").content.decode()
    assert batch.file_sha256 in page and "下载代发文件" in page
    response = client.get(f"/admin/disbursement/batch/{batch.pk}/file/")
    assert response.status_code == 200 and response["X-Content-SHA256"] == batch.file_sha256
    assert hashlib.sha256(response.content).hexdigest() == batch.file_sha256
    assert response["Content-Disposition"].startswith("attachment")
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_DOWNLOAD, actor_id=finance_admin.pk).count() == 1

    for other in (clerk_a, auditor):
        page = login(other).get(f"/admin/disbursement/batch/{batch.pk}/change/").content.decode()
        assert "下载代发文件" not in page and "仅财政部门可下载" in page
        assert login(other).get(f"/admin/disbursement/batch/{batch.pk}/file/").status_code == 403


def test_an_outsider_sees_no_batch_in_the_admin(released, login, outsider):
    batch = Batch.objects.first()
    assert batch.batch_no not in login(outsider).get("/admin/disbursement/batch/").content.decode()
    assert login(outsider).get(f"/admin/disbursement/batch/{batch.pk}/change/").status_code in (302, 404)


def test_finance_edits_a_bank_in_the_admin_and_the_change_is_audited(login, finance_admin, clerk_a):
    seed_banks()
    bank = Bank.objects.get(code="ccb-erqi")
    data = {
        "code": bank.code,
        "name": bank.name,
        "aliases": '["建行", "建设银行二七支行"]',
        "file_encoding": "utf-8",
        "is_active": "on",
        # The page's (read-only) agreements inline still posts its management form.
        "agreements-TOTAL_FORMS": "0",
        "agreements-INITIAL_FORMS": "0",
    }
    response = login(finance_admin).post(f"/admin/banks/bank/{bank.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    bank.refresh_from_db()
    assert bank.aliases == ["建行", "建设银行二七支行"] and bank.file_encoding == "utf-8"
    event = AuditEvent.objects.get(action=AuditAction.BANK_SAVE)
    assert event.after == {"aliases": ["建行", "建设银行二七支行"], "file_encoding": "utf-8"}
    assert event.before["file_encoding"] == "gbk"
    assert login(clerk_a).post(f"/admin/banks/bank/{bank.pk}/change/", data).status_code == 403
