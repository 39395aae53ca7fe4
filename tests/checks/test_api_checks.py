"""Cross-checks over REST: start and follow a run, list findings, remove or keep them, submit the payout — for the
clerk; read-only for the reviewer and the auditor; invisible to the outsider. No response shows a full ID number."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from checks.enums import FindingStatus, RunStatus
from checks.models import CheckRun, Finding
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Payment
from tests.checks.helpers import assert_no_id_number, id_numbers, plant_death


@pytest.fixture
def imported(roster_file, upload):
    path, rows = roster_file(12)
    upload(path)
    return rows


@pytest.fixture
def dead(imported, payout, clerk_a, django_capture_on_commit_callbacks):
    """One open, blocking `deceased` finding on the roster's second person, found by a run over the roster."""
    from checks.services import checks_start

    plant_death(clerk_a, payout)
    with django_capture_on_commit_callbacks(execute=True):
        checks_start(acting_user=clerk_a, payout=payout)
    return Finding.objects.get(payout=payout, rule="deceased")


def test_the_clerk_starts_a_run_and_follows_it_to_the_end(
    login, clerk_a, payout, imported, django_capture_on_commit_callbacks
):
    client = login(clerk_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/payouts/{payout.code}/checks/")
    assert response.status_code == 202, response.content
    body = response.json()
    run = CheckRun.objects.get(pk=body["run"])
    assert body["job"] == run.job_id
    assert body["status_url"].endswith(f"/api/v1/payouts/{payout.code}/checks/latest/")
    assert AuditEvent.objects.filter(action="checks.start", object_id=str(run.pk)).exists()

    latest = client.get(body["status_url"]).json()
    assert latest["run"] == run.pk and latest["status"] == RunStatus.DONE
    assert latest["payments"] == 12
    by_rule = {entry["rule"]: entry for entry in latest["rules_run"]}
    assert by_rule["deceased"]["skipped"] == "source_not_loaded"
    assert by_rule["deceased"]["skipped_label"] == "比对数据未导入"
    assert by_rule["deceased"]["name"] == "已死亡或火化"
    assert by_rule["already_paid"]["findings"] == 0 and by_rule["already_paid"]["skipped"] == ""
    assert latest["job"]["status"] == "succeeded"


def test_latest_says_no_run_before_any_roster(login, clerk_a, payout):
    response = login(clerk_a).get(f"/api/v1/payouts/{payout.code}/checks/latest/")
    assert response.status_code == 404
    assert response.json()["code"] == "no_run"


def test_the_findings_list_filters_and_shows_the_person_masked(login, clerk_a, payout, imported, dead):
    client = login(clerk_a)
    listing = client.get(f"/api/v1/payouts/{payout.code}/findings/", {"rule": "deceased"}).json()
    assert listing["count"] == 1
    (item,) = listing["results"]
    assert item["id"] == dead.pk and item["rule_name"] == "已死亡或火化"
    assert item["severity"] == "block" and item["status"] == "open"
    assert item["payment_ref"] == f"{payout.code}-{dead.payment.row:06d}" and item["roster_row"] == dead.payment.row
    assert item["name"] == dead.recipient.name and "*" in item["id_masked"]
    assert item["evidence"]["date_of_death"] == "2026-03-01"
    assert item["description"] == "于 2026-03-01 死亡或火化（死亡火化信息第 2 行）。"
    assert item["decided_by"] is None and item["reason"] == ""

    assert client.get(f"/api/v1/payouts/{payout.code}/findings/", {"status": "kept"}).json()["count"] == 0
    assert client.get(f"/api/v1/payouts/{payout.code}/findings/", {"severity": "block"}).json()["count"] >= 1
    bad = client.get(f"/api/v1/payouts/{payout.code}/findings/", {"status": "maybe"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_filter"
    assert client.get(f"/api/v1/findings/{dead.pk}/").json()["payment_ref"] == item["payment_ref"]


def test_keeping_without_a_reason_is_refused_with_its_code(login, clerk_a, dead):
    client = login(clerk_a)
    for payload in ({}, {"reason": "   "}):
        response = client.post(f"/api/v1/findings/{dead.pk}/keep/", payload, content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "reason_required"
        assert response.json()["detail"] == ["保留须填写核实情况和理由。"]
    dead.refresh_from_db()
    assert dead.status == FindingStatus.OPEN
    assert not AuditEvent.objects.filter(action="finding.keep").exists()


def test_submit_is_refused_while_a_finding_is_open_and_allowed_once_kept(login, clerk_a, payout, dead):
    client = login(clerk_a)
    refused = client.post(f"/api/v1/payouts/{payout.code}/submit/")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "submission_blocked"
    assert body["blockers"] == ["findings_open"]
    assert body["detail"] == ["还有 1 条阻断级疑点未处理（剔除或核实保留）。"]

    kept = client.post(
        f"/api/v1/findings/{dead.pk}/keep/",
        {"reason": "本人到场核实，死亡信息系误录", "attachment": SimpleUploadedFile("核实记录.pdf", b"%PDF-1.4 ok")},
    )
    assert kept.status_code == 200, kept.content
    assert kept.json()["status"] == "kept" and kept.json()["decided_by"] == "clerk_a"
    assert kept.json()["attachment_name"] == "核实记录.pdf"
    event = AuditEvent.objects.get(action="finding.keep")
    assert event.after["reason"] == "本人到场核实，死亡信息系误录" and event.after["attachment"] == "核实记录.pdf"

    submitted = client.post(f"/api/v1/payouts/{payout.code}/submit/")
    assert submitted.status_code == 200, submitted.content
    assert submitted.json()["status"] == PayoutStatus.SUBMITTED and submitted.json()["code"] == payout.code
    assert AuditEvent.objects.filter(action="payout.submit", object_id=str(payout.pk)).exists()
    again = client.post(f"/api/v1/payouts/{payout.code}/submit/")
    assert again.status_code == 400 and again.json()["code"] == "payout_not_draft"
    late = client.post(f"/api/v1/findings/{dead.pk}/remove/", {}, content_type="application/json")
    assert late.status_code == 400 and late.json()["code"] == "payout_not_draft"


def test_removing_cancels_the_payment_and_unblocks_submission(login, clerk_a, payout, dead):
    client = login(clerk_a)
    response = client.post(f"/api/v1/findings/{dead.pk}/remove/", {"note": "确已死亡"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "removed" and response.json()["reason"] == "确已死亡"
    assert Payment.objects.get(pk=dead.payment_id).status == PaymentStatus.CANCELLED
    assert AuditEvent.objects.get(action="finding.remove").after["roster_row"] == dead.payment.row
    again = client.post(f"/api/v1/findings/{dead.pk}/remove/", {}, content_type="application/json")
    assert again.status_code == 400 and again.json()["code"] == "finding_closed"
    assert client.post(f"/api/v1/payouts/{payout.code}/submit/").status_code == 200


def test_the_kept_attachment_downloads_as_an_attachment_for_those_who_see_the_finding(
    login, clerk_a, reviewer_a, auditor, outsider, dead
):
    from checks.services import finding_keep

    finding_keep(acting_user=clerk_a, finding=dead, reason="核实无误", attachment=("证明.pdf", b"%PDF-1.4 proof"))
    for user in (clerk_a, reviewer_a, auditor):
        response = login(user).get(f"/api/v1/findings/{dead.pk}/attachment/")
        assert response.status_code == 200
        assert response.content == b"%PDF-1.4 proof"
        assert response["Content-Disposition"].startswith("attachment;")
        assert response["Content-Type"] == "application/octet-stream"
        assert response["X-Content-Type-Options"] == "nosniff"
    assert login(outsider).get(f"/api/v1/findings/{dead.pk}/attachment/").status_code == 404


@pytest.mark.parametrize("actor", ["reviewer_a", "auditor"])
def test_reviewer_and_auditor_read_but_may_not_act(request, actor, login, payout, dead):
    client = login(request.getfixturevalue(actor))
    assert client.get(f"/api/v1/payouts/{payout.code}/checks/latest/").status_code == 200
    assert client.get(f"/api/v1/payouts/{payout.code}/findings/").json()["count"] >= 1
    assert client.get(f"/api/v1/findings/{dead.pk}/").status_code == 200
    for url, payload in [
        (f"/api/v1/payouts/{payout.code}/checks/", {}),
        (f"/api/v1/findings/{dead.pk}/remove/", {}),
        (f"/api/v1/findings/{dead.pk}/keep/", {"reason": "看过了"}),
        (f"/api/v1/payouts/{payout.code}/submit/", {}),
    ]:
        response = client.post(url, payload, content_type="application/json")
        assert response.status_code == 403, url
        assert response.json()["code"] == "permission_denied"
    dead.refresh_from_db()
    payout.refresh_from_db()
    assert dead.status == FindingStatus.OPEN and payout.status == PayoutStatus.DRAFT
    assert CheckRun.objects.filter(payout=payout).count() == 2  # the import's run and the fixture's


def test_outsider_finds_neither_the_payout_nor_its_findings(login, outsider, payout, dead):
    client = login(outsider)
    for url in (
        f"/api/v1/payouts/{payout.code}/checks/latest/",
        f"/api/v1/payouts/{payout.code}/findings/",
        f"/api/v1/findings/{dead.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        f"/api/v1/payouts/{payout.code}/checks/",
        f"/api/v1/payouts/{payout.code}/submit/",
        f"/api/v1/findings/{dead.pk}/remove/",
        f"/api/v1/findings/{dead.pk}/keep/",
    ):
        response = client.post(url, {"reason": "x"}, content_type="application/json")
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"
    assert client.get("/api/v1/findings/").json()["count"] == 0
    dead.refresh_from_db()
    assert dead.status == FindingStatus.OPEN


def test_no_response_shows_a_full_id_number(login, clerk_a, auditor, payout, imported, dead):
    numbers = id_numbers(imported)
    assert len(numbers) == 12
    client = login(clerk_a)
    bodies = [
        client.get(f"/api/v1/payouts/{payout.code}/findings/").content,
        client.get("/api/v1/findings/").content,
        client.get(f"/api/v1/findings/{dead.pk}/").content,
        client.get(f"/api/v1/payouts/{payout.code}/checks/latest/").content,
        client.post(
            f"/api/v1/findings/{dead.pk}/keep/", {"reason": "核实无误"}, content_type="application/json"
        ).content,
        login(auditor).get("/api/v1/findings/", {"rule": "deceased"}).content,
    ]
    for body in bodies:
        assert_no_id_number(body.decode(), numbers)
