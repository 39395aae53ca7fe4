"""From a clerk's Excel file to draft payments: what the clerk sees and what the database holds."""

import io
import json
from collections import Counter

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from disbursement.models import Payment
from jobs.enums import JobStatus
from recipients.enums import RosterStatus
from recipients.models import Recipient, RecipientAccount, RecipientChange, Roster, RosterIssue
from recipients.services import roster_upload
from yikatong import pii
from yikatong.domain.citizen_id import normalize_id


def test_a_clean_roster_becomes_draft_payments_and_registry_entries(upload, roster_file, payout):
    path, rows = roster_file(30)
    roster = upload(path)

    assert roster.status == RosterStatus.IMPORTED
    assert (roster.rows_read, roster.valid, roster.rejected) == (30, 30, 0)
    assert roster.job.status == JobStatus.SUCCEEDED
    assert Payment.objects.filter(payout=payout, status="draft").count() == 30
    assert Recipient.objects.count() == 30
    first = rows[0]
    number = normalize_id(first["身份证号码"])
    person = Recipient.objects.get(id_hash=pii.keyed_hash(number, purpose="id_number"))
    assert pii.decrypt(person.id_cipher, purpose="id_number") == number
    assert person.id_masked == number[:6] + "********" + number[-4:]
    assert number.encode() not in bytes(person.id_cipher)
    payment = Payment.objects.get(payout=payout, recipient=person)
    account = "".join(first["银行账号"].split())
    assert pii.decrypt(payment.account_cipher, purpose="account") == account
    assert payment.account_masked == "****" + account[-4:]


def test_every_defect_is_reported_with_its_row_column_and_code(upload, roster_file, payout):
    path, rows = roster_file(200, error_rate=0.15, seed=3)
    roster = upload(path)

    expected = Counter(row["_defect"] for row in rows if row["_defect"])
    errors = RosterIssue.objects.filter(roster=roster, warning=False)
    assert Counter(errors.values_list("code", flat=True)) == expected
    # The header sits below a title and a 填报单位 line: row numbers are the sheet's own.
    first_bad = next(i for i, row in enumerate(rows) if row["_defect"])
    issue = errors.order_by("row").first()
    assert issue.row == first_bad + 4
    assert issue.column in ("姓名", "身份证号码", "银行账号", "发放金额（元）")
    assert roster.rejected == sum(expected.values())
    assert Payment.objects.filter(payout=payout).count() == roster.valid == 200 - roster.rejected


def test_uploading_again_replaces_the_drafts_and_never_duplicates(upload, roster_file, payout):
    path, _rows = roster_file(25)
    first = upload(path)
    second = upload(path)

    assert Payment.objects.filter(payout=payout).count() == 25
    assert Recipient.objects.count() == 25
    assert set(Payment.objects.values_list("roster_id", flat=True)) == {second.pk}
    first.refresh_from_db()
    assert first.status == RosterStatus.SUPERSEDED


def test_a_changed_account_is_recorded_in_the_persons_history(upload, roster_file, tmp_path, synth_county):
    from bench import synth

    path, rows = roster_file(5)
    upload(path)
    changed = [dict(row) for row in rows]
    changed[0]["银行账号"] = "6217000000000000006"
    new_path = tmp_path / "changed.xlsx"
    synth.write_roster_xlsx(changed, new_path)
    upload(new_path)

    change = RecipientChange.objects.get(field="account")
    assert change.after == "****0006"
    assert change.before.startswith("****")
    person = change.recipient
    assert RecipientAccount.objects.filter(recipient=person).count() == 2
    assert RecipientAccount.objects.get(recipient=person, is_current=True).account_masked == "****0006"


def test_a_file_that_is_not_a_spreadsheet_changes_nothing(upload, roster_file, tmp_path, payout):
    path, _rows = roster_file(10)
    upload(path)
    fake = tmp_path / "roster.xlsx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    roster = upload(fake)

    assert roster.status == RosterStatus.REJECTED
    assert roster.file_error_code == "file_not_spreadsheet"
    assert roster.job.status == JobStatus.FAILED
    assert roster.job.error_code == "file_not_spreadsheet"
    assert Payment.objects.filter(payout=payout).count() == 10


def test_outsider_cannot_upload_to_another_departments_payout(roster_file, payout, outsider):
    path, _rows = roster_file(3)
    with pytest.raises(PermissionDenied):
        roster_upload(acting_user=outsider, payout=payout, filename=path.name, data=path.read_bytes())
    assert not Roster.objects.exists()


def test_no_plain_id_number_is_stored_anywhere(upload, roster_file):
    from django.db import connection

    path, rows = roster_file(10)
    upload(path)
    numbers = [normalize_id(row["身份证号码"]) for row in rows]
    with connection.cursor() as cursor:
        for table in (
            "recipients_recipient",
            "disbursement_payment",
            "recipients_rosterstage",
            "recipients_rosterissue",
            "audit_auditevent",
            "jobs_job",
        ):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 — fixed table names
            dump = repr(cursor.fetchall())
            assert not any(number in dump for number in numbers), table


def test_the_clerk_uploads_follows_and_downloads_the_error_report_over_rest(
    login, clerk_a, payout, roster_file, django_capture_on_commit_callbacks
):
    path, _rows = roster_file(60, error_rate=0.2, seed=5)
    client = login(clerk_a)
    with django_capture_on_commit_callbacks(execute=True), path.open("rb") as handle:
        response = client.post(f"/api/v1/payouts/{payout.code}/rosters/", {"file": handle})
    assert response.status_code == 202, response.content
    roster_id = response.json()["id"]

    state = client.get(f"/api/v1/rosters/{roster_id}/").json()
    assert state["status"] == "imported"
    assert state["job"]["status"] == "succeeded"
    issues = client.get(f"/api/v1/rosters/{roster_id}/issues/").json()
    assert issues["count"] == RosterIssue.objects.filter(roster_id=roster_id).count() > 0
    assert {"row", "column", "code", "message", "warning"} <= set(issues["results"][0])

    report = client.get(f"/api/v1/rosters/{roster_id}/error-report/")
    assert report.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][0] == "原行号" and lines[0][-1] == "问题说明"
    # The clerk's whole header comes back, unrecognised columns (序号, 性别, 备注) included.
    assert {"序号", "姓名", "身份证号码", "性别", "银行账号", "备注"} <= set(lines[0])
    bad_rows = set(RosterIssue.objects.filter(roster_id=roster_id).values_list("row", flat=True))
    # Row 0 holds findings about the whole file (a 合计 line that disagrees); the report labels it 合计.
    assert {line[0] for line in lines[1:]} == {row or "合计" for row in bad_rows}


def test_outsider_sees_neither_the_payout_nor_its_roster_over_rest(
    login, outsider, clerk_a, payout, upload, roster_file
):
    path, _rows = roster_file(3)
    roster = upload(path)
    client = login(outsider)
    assert client.get(f"/api/v1/payouts/{payout.code}/").status_code == 404
    assert client.get(f"/api/v1/rosters/{roster.pk}/").status_code == 404
    assert client.get(f"/api/v1/rosters/{roster.pk}/error-report/").status_code == 404
    with path.open("rb") as handle:
        assert client.post(f"/api/v1/payouts/{payout.code}/rosters/", {"file": handle}).status_code == 404


def test_import_roster_command_prints_json_and_fails_on_rejected_rows(payout, roster_file, capsys):
    path, rows = roster_file(40, error_rate=0.25, seed=9)
    with pytest.raises(SystemExit) as exited:
        call_command("import_roster", payout.code, str(path), "--json")
    assert exited.value.code == 1
    result = json.loads(capsys.readouterr().out)
    assert result["rows_read"] == 40
    assert result["rejected"] == sum(1 for row in rows if row["_defect"])
    assert all({"row", "column", "code", "message"} == set(error) for error in result["errors"])


def test_a_person_is_placed_in_the_village_the_roster_names(upload, roster_file, county, tmp_path):
    from bench import synth
    from org.models import Region

    path, rows = roster_file(3)
    township = Region.objects.create(code="410103015", name=rows[0]["乡镇（街道）"], level="township", parent=county)
    village = Region.objects.create(code="410103015201", name=rows[0]["村（社区）"], level="village", parent=township)
    upload(path)
    number = normalize_id(rows[0]["身份证号码"])
    person = Recipient.objects.get(id_hash=pii.keyed_hash(number, purpose="id_number"))
    assert person.village == village

    moved = [dict(row) for row in rows]
    other = Region.objects.create(code="410103015202", name="新迁入村", level="village", parent=township)
    moved[0]["村（社区）"] = other.name
    new_path = tmp_path / "moved.xlsx"
    synth.write_roster_xlsx(moved, new_path)
    upload(new_path)
    person.refresh_from_db()
    assert person.village == other
    change = RecipientChange.objects.get(recipient=person, field="village")
    assert (change.before, change.after) == (village.name, "新迁入村")


def test_too_many_rows_rejects_the_file_and_keeps_the_earlier_drafts(upload, roster_file, payout, settings):
    path, _rows = roster_file(8)
    upload(path)
    settings.ROSTER_MAX_ROWS = 5
    roster = upload(path)
    assert (roster.status, roster.file_error_code) == (RosterStatus.REJECTED, "too_many_rows")
    assert Payment.objects.filter(payout=payout).count() == 8
    assert set(Payment.objects.values_list("roster_id", flat=True)) != {roster.pk}
    from recipients.models import RosterStage

    assert not RosterStage.objects.exists()


def test_an_import_run_again_from_the_start_gives_the_same_result(upload, roster_file, payout, settings):
    import datetime as dt

    from django.utils import timezone

    from jobs.models import Job
    from jobs.services import jobs_requeue_stale

    path, _rows = roster_file(12, error_rate=0.2, seed=4)
    roster = upload(path)
    before = (Payment.objects.count(), Recipient.objects.count(), RosterIssue.objects.count())
    # As a worker that died just before reporting would leave it: still "running", heartbeat long gone.
    long_ago = timezone.now() - dt.timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS + 5)
    Job.objects.filter(pk=roster.job_id).update(status="running", heartbeat_at=long_ago)
    assert jobs_requeue_stale() == [roster.job_id]  # runs again here (eager tasks), from the start

    job = Job.objects.get(pk=roster.job_id)
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert (Payment.objects.count(), Recipient.objects.count(), RosterIssue.objects.count()) == before


def test_a_crash_during_import_marks_the_roster_failed_not_importing(upload, roster_file, payout, monkeypatch):
    from recipients import importing

    path, _rows = roster_file(5)

    def broken(rows):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importing.staging, "stage_rows", broken)
    roster = upload(path)
    assert roster.status == RosterStatus.FAILED
    assert roster.job.status == JobStatus.FAILED
    assert roster.job.error_code == "internal_error"
    assert not Payment.objects.filter(payout=payout).exists()


def test_the_clerk_lists_their_payouts_with_payment_counts_in_few_queries(
    login, clerk_a, payout, upload, roster_file, django_assert_max_num_queries
):
    path, _rows = roster_file(7)
    upload(path)
    client = login(clerk_a)
    with django_assert_max_num_queries(8):
        listing = client.get("/api/v1/payouts/").json()
    assert [(item["code"], item["payments"]) for item in listing["results"]] == [(payout.code, 7)]


def test_the_database_refuses_a_second_committed_payment_for_one_policy_and_period(
    upload, roster_file, payout, clerk_a, county, published_policy, django_capture_on_commit_callbacks
):
    from django.db import IntegrityError, transaction

    from disbursement.services import payout_create

    path, _rows = roster_file(3)
    upload(path)
    second = payout_create(
        acting_user=clerk_a,
        policy=published_policy,
        period="2026-11",
        region=county,
        budget_document="补充",
        budget_amount=payout.budget_amount,
    )
    with django_capture_on_commit_callbacks(execute=True):
        roster_upload(acting_user=clerk_a, payout=second, filename=path.name, data=path.read_bytes())
    # Drafts may repeat (a cross-check flags them); money on its way may not.
    assert Payment.objects.filter(payout=second).count() == 3
    Payment.objects.filter(payout=payout).update(status="submitted")
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(payout=second).update(status="submitted")
    assert Payment.objects.filter(payout=second, status="draft").count() == 3


def test_a_township_clerk_cannot_read_another_townships_roster(
    login, township_clerk, clerk_a, payout, upload, roster_file
):
    path, _rows = roster_file(3)
    roster = upload(path)  # a county-wide payout of department A, not the clerk's township
    client = login(township_clerk)
    assert client.get(f"/api/v1/rosters/{roster.pk}/").status_code == 404
    assert client.get(f"/api/v1/rosters/{roster.pk}/error-report/").status_code == 404


def test_an_older_upload_finishing_last_does_not_replace_a_newer_one(
    upload, roster_file, payout, clerk_a, django_capture_on_commit_callbacks
):
    from jobs.models import Job
    from jobs.services import job_run

    big, _ = roster_file(9, name="v1.xlsx", seed=1)
    small, _ = roster_file(4, name="v2.xlsx", seed=2)
    with django_capture_on_commit_callbacks(execute=False):  # v1 is uploaded but its worker is slow
        older = roster_upload(acting_user=clerk_a, payout=payout, filename=big.name, data=big.read_bytes())
    newer = upload(small)
    job_run(job_id=older.job_id)  # v1 finishes last

    older.refresh_from_db()
    assert older.status == RosterStatus.SUPERSEDED
    assert newer.status == RosterStatus.IMPORTED
    assert set(Payment.objects.filter(payout=payout).values_list("roster_id", flat=True)) == {newer.pk}
    assert Job.objects.get(pk=older.job_id).counts["superseded_by_newer"] is True


def test_a_run_taken_over_as_stale_writes_nothing(
    upload, roster_file, payout, clerk_a, django_capture_on_commit_callbacks
):
    from jobs.models import Job
    from jobs.registry import JobError
    from jobs.services import job_claim
    from recipients.importing import roster_import

    path, _rows = roster_file(5)
    with django_capture_on_commit_callbacks(execute=False):
        roster = roster_upload(acting_user=clerk_a, payout=payout, filename=path.name, data=path.read_bytes())
    assert job_claim(job_id=roster.job_id)
    old_run = Job.objects.get(pk=roster.job_id)
    Job.objects.filter(pk=roster.job_id).update(attempts=old_run.attempts + 1)  # another worker took it over
    with pytest.raises(JobError) as caught:
        roster_import(job=old_run, progress=lambda done, total=None: None)
    assert caught.value.code == "superseded"
    assert not Payment.objects.exists()
    roster.refresh_from_db()
    assert roster.status == RosterStatus.UPLOADED


def test_text_longer_than_the_registry_keeps_is_a_row_error(upload, tmp_path, roster_file):
    from bench import synth

    _path, rows = roster_file(3)
    rows = [dict(row) for row in rows]
    rows[1]["姓名"] = "名" * 70
    path = tmp_path / "long.xlsx"
    synth.write_roster_xlsx(rows, path)
    roster = upload(path)
    issue = RosterIssue.objects.get(roster=roster, code="text_too_long")
    assert (issue.row, issue.column) == (5, "姓名")
    assert (roster.valid, roster.rejected) == (2, 1)


def test_the_error_report_never_hands_back_a_formula(login, clerk_a, upload, roster_file, tmp_path):
    from bench import synth

    _path, rows = roster_file(3)
    rows = [dict(row) for row in rows]
    rows[0]["姓名"] = "@SUM(1+1)*cmd"  # a text cell that Excel would run if handed back as typed
    rows[0]["身份证号码"] = rows[0]["身份证号码"][:-1] + ("0" if rows[0]["身份证号码"][-1] != "0" else "1")
    path = tmp_path / "formula.xlsx"
    synth.write_roster_xlsx(rows, path)
    roster = upload(path)
    report = login(clerk_a).get(f"/api/v1/rosters/{roster.pk}/error-report/")
    lines = list(openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).active.iter_rows(values_only=True))
    first_row = next(line for line in lines if line[0] == 4)  # below a title, a 填报单位 line and the header
    assert first_row[lines[0].index("姓名")] == "'" + rows[0]["姓名"]


def test_a_total_line_that_disagrees_with_the_accepted_rows_is_a_warning(upload, roster_file, synth_county, tmp_path):
    from bench import synth

    # Without typed quirks: Excel's 合计 would skip an amount typed as text ("100元"), and rightly be flagged.
    clean = tmp_path / "clean.xlsx"
    synth.write_roster_xlsx(synth.iter_roster_rows(11, synth_county, 10, quirks=False), clean)
    assert not RosterIssue.objects.filter(roster=upload(clean), code="total_mismatch").exists()

    flawed, _rows = roster_file(40, error_rate=0.3, seed=8, name="flawed.xlsx")
    roster = upload(flawed)
    issue = RosterIssue.objects.get(roster=roster, code="total_mismatch")
    assert (issue.row, issue.column, issue.warning) == (0, "合计", True)
    assert f"{roster.valid_total:.2f}" in issue.message
    assert roster.declared_total is not None and roster.declared_total != roster.valid_total


def test_a_file_over_the_size_limit_is_refused_before_it_is_stored(payout, clerk_a, settings):
    from django.core.exceptions import ValidationError

    settings.MAX_UPLOAD_MB = 1
    with pytest.raises(ValidationError) as caught:
        roster_upload(acting_user=clerk_a, payout=payout, filename="big.csv", data=b"x" * (1024 * 1024 + 1))
    assert caught.value.code == "file_too_large"
    assert not Roster.objects.exists()
