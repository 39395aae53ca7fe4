"""The bank's REST doors (/api/v1/bank/): its own batches only, the frozen file, acknowledgement, results and the
state read back — every call audited."""

from __future__ import annotations

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from audit.enums import AuditAction
from audit.models import AuditEvent
from banks.models import ResultSubmission
from banks.tokens import bank_token_issue
from disbursement.enums import BatchStatus, PaymentStatus
from disbursement.models import Batch, Payment
from tests.banks.conftest import refs
from tests.banks.test_results import file_lines, result_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_for(finance_admin):
    def make(bank) -> APIClient:
        _token, raw = bank_token_issue(acting_user=finance_admin, bank=bank)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


@pytest.fixture
def api(client_for, batch):
    """The client of the bank that owns ``batch``."""
    return client_for(batch.bank)


def url(batch, tail=""):
    return f"/api/v1/bank/batches/{batch.batch_no}/{tail}"


def post_json(client, path, body, **headers):
    return client.post(path, data=json.dumps(body), content_type="application/json", **headers)


def test_a_bank_lists_only_its_own_batches(api, batch, other_batch):
    response = api.get("/api/v1/bank/batches/")

    assert response.status_code == 200
    listed = response.json()["results"]
    assert [b["batch_no"] for b in listed] == [batch.batch_no]
    assert listed[0]["file_sha256"] == batch.file_sha256 and listed[0]["payment_count"] == batch.payment_count
    assert listed[0]["total_fen"] == batch.total_fen and listed[0]["status"] == "ready"
    assert api.get("/api/v1/bank/batches/?status=closed").json()["results"] == []
    assert api.get("/api/v1/bank/batches/?status=nonsense").json()["code"] == "invalid_status"


@pytest.mark.parametrize(
    ("method", "tail"), [("get", ""), ("get", "file/"), ("post", "ack/"), ("post", "results/"), ("get", "payments/")]
)
def test_another_banks_batch_is_not_found_exactly_like_a_batch_that_does_not_exist(api, other_batch, method, tail):
    theirs = getattr(api, method)(url(other_batch, tail), format="json")
    missing = getattr(api, method)(f"/api/v1/bank/batches/NO-SUCH-BATCH/{tail}", format="json")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert other_batch.batch_no not in theirs.content.decode()


def test_the_file_is_the_frozen_file_with_its_checksum_and_the_download_is_audited(api, batch):
    response = api.get(url(batch, "file/"))

    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == response["X-Content-SHA256"] == batch.file_sha256
    assert response.content.decode(batch.encoding).startswith(f"H|{batch.batch_no}|")
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_DOWNLOAD, object_id=str(batch.pk)).count() == 1


def test_acknowledging_twice_changes_nothing_the_second_time(api, batch):
    first = post_json(api, url(batch, "ack/"), {"file_sha256": batch.file_sha256})
    second = post_json(api, url(batch, "ack/"), {})

    assert first.status_code == second.status_code == 200
    assert (first.json()["already_acknowledged"], second.json()["already_acknowledged"]) == (False, True)
    assert first.json()["acknowledged_at"] == second.json()["acknowledged_at"]
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.ACKNOWLEDGED
    assert set(Payment.objects.filter(batch=batch).values_list("status", flat=True)) == {PaymentStatus.BATCHED}
    assert AuditEvent.objects.filter(action=AuditAction.BATCH_ACK, object_id=str(batch.pk)).count() == 1


def test_an_acknowledgement_quoting_another_checksum_is_refused(api, batch):
    response = post_json(api, url(batch, "ack/"), {"file_sha256": "0" * 64})

    assert response.status_code == 422 and response.json()["code"] == "sha256_mismatch"
    assert Batch.objects.get(pk=batch.pk).acknowledged_at is None


def test_json_results_are_applied_and_a_replay_says_nothing_changed(api, batch):
    body = {"results": [{"payment_ref": r, "status": "paid", "bank_txn_id": "X1"} for r in refs(batch)[:2]]}

    first = post_json(api, url(batch, "results/"), body)
    again = post_json(api, url(batch, "results/"), body)

    assert first.status_code == 200, first.json()
    assert first.json()["applied"] == {"paid": 2, "failed": 0, "returned": 0} and first.json()["unchanged"] == 0
    assert again.status_code == 200
    assert again.json()["applied"] == {"paid": 0, "failed": 0, "returned": 0} and again.json()["unchanged"] == 2
    assert "未做任何更改" in again.json()["detail"]
    assert Payment.objects.filter(batch=batch, status=PaymentStatus.PAID).count() == 2


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_body(api, batch):
    body = {"results": [{"payment_ref": refs(batch)[0], "status": "failed", "reason_code": "name_mismatch"}]}
    headers = {"HTTP_IDEMPOTENCY_KEY": "bank-req-0001"}

    first = post_json(api, url(batch, "results/"), body, **headers)
    replay = post_json(api, url(batch, "results/"), body, **headers)
    other = post_json(api, url(batch, "results/"), {"results": []}, **headers)

    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert ResultSubmission.objects.filter(batch=batch).count() == 1


def test_a_bad_result_is_answered_422_with_its_line_and_nothing_changes(api, batch):
    body = {"results": [{"payment_ref": refs(batch)[0], "status": "paid"}, {"payment_ref": "NOPE", "status": "paid"}]}

    response = post_json(api, url(batch, "results/"), body)

    assert response.status_code == 422
    assert response.json()["code"] == "payment_not_in_batch"
    assert response.json()["errors"][0]["line"] == 2
    assert not Payment.objects.filter(batch=batch).exclude(result="").exists()


def test_a_result_file_is_accepted_as_text_and_applied_by_its_job(api, batch, django_capture_on_commit_callbacks):
    data = result_file(batch, file_lines(batch))

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url(batch, "results/"), data=data, content_type="text/plain")

    # Accepted first; the job (run once the request's transaction commits) applies it.
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "received" and response.json()["job"]
    answer = api.get(f"/api/v1/bank/results/{response.json()['submission']}/")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "applied" and answer.json()["applied"]["failed"] == 1
    assert answer.json()["applied"]["paid"] == batch.payment_count - 1
    assert Batch.objects.get(pk=batch.pk).status == BatchStatus.CLOSED


def test_a_result_file_whose_declared_checksum_differs_is_refused(api, batch):
    data = result_file(batch, file_lines(batch))

    response = api.post(url(batch, "results/"), data=data, content_type="text/plain", HTTP_X_CONTENT_SHA256="0" * 64)

    assert response.status_code == 400 and response.json()["code"] == "content_sha256_mismatch"
    assert not ResultSubmission.objects.exists()


def test_another_banks_submission_is_not_found(api, client_for, batch, other_batch):
    body = {"results": [{"payment_ref": refs(batch)[0], "status": "paid"}]}
    submission = post_json(api, url(batch, "results/"), body).json()["submission"]

    assert client_for(other_batch.bank).get(f"/api/v1/bank/results/{submission}/").status_code == 404


def test_the_payments_read_back_masked_with_their_state(api, batch):
    post_json(
        api,
        url(batch, "results/"),
        {"results": [{"payment_ref": refs(batch)[0], "status": "failed", "reason_code": "account_frozen"}]},
    )

    everything = api.get(url(batch, "payments/")).json()
    failed = api.get(url(batch, "payments/?status=failed")).json()

    assert everything["count"] == batch.payment_count
    assert [p["payment_ref"] for p in everything["results"]] == refs(batch)
    assert failed["count"] == 1
    (item,) = failed["results"]
    assert item["payment_ref"] == refs(batch)[0] and item["reason_code"] == "account_frozen"
    assert item["account"].startswith("****") and len(item["account"]) <= 12


def test_every_call_is_audited_with_the_token_prefix(api, batch, other_batch):
    api.get("/api/v1/bank/batches/")
    api.get(url(other_batch))
    post_json(api, url(batch, "ack/"), {})

    calls = AuditEvent.objects.filter(action=AuditAction.BANK_API_CALL).order_by("id")
    assert [(c.after["method"], c.after["status"]) for c in calls] == [("GET", 200), ("GET", 404), ("POST", 200)]
    assert all(c.actor_label == f"bank:{batch.bank.code}" for c in calls)


def test_a_finance_session_cannot_use_the_bank_api(client, finance_admin, batch):
    client.force_login(finance_admin)

    response = client.get("/api/v1/bank/batches/")

    assert response.status_code in (401, 403)
