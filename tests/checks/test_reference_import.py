"""Reference data from a department's file to the rows the rules read: each kind, a file with a bad row rejected
whole, a clean one replacing the last, and no ID number kept anywhere."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from audit.enums import AuditAction
from audit.models import AuditEvent
from checks.enums import HouseholdStatus, LoadStatus
from checks.models import ReferenceIssue, ReferenceLoad, ReferenceRecord, ReferenceSource
from checks.references import reference_source_save, reference_upload
from jobs.enums import JobStatus
from yikatong import pii

AS_OF = dt.date(2026, 1, 31)


def records_of(load):
    return list(ReferenceRecord.objects.filter(load=load).order_by("row"))


def hash_of(number):
    return pii.keyed_hash(number, purpose="id_number")


@pytest.mark.parametrize("name", ["death.csv", "death.xlsx"])
def test_a_clean_death_file_becomes_the_current_death_records(name, reference_file, import_reference, citizen_id):
    people = [citizen_id(1), citizen_id(2), citizen_id(3)]
    path = reference_file(
        ["序号", "姓名", "身份证号码", "死亡日期"],
        [
            ["1", "张三", people[0], "2025-12-01"],
            ["2", "李四", people[1], "2026/1/5"],
            ["3", "王五", people[2], "20260105"],
        ],
        name=name,
        title="二七区死亡人员信息（截至2026年1月31日）",
    )
    load = import_reference("death", path)

    assert load.status == LoadStatus.ACTIVE
    assert (load.rows_read, load.valid, load.rejected) == (3, 3, 0)
    assert load.job.status == JobStatus.SUCCEEDED
    assert ReferenceSource.objects.get(code="death").current_load == load
    records = records_of(load)
    assert [r.row for r in records] == [3, 4, 5]  # below the title line and the header, as Excel numbers them
    assert [r.id_hash for r in records] == [hash_of(p) for p in people]  # the registry's own keyed hash
    assert [r.event_date for r in records] == [dt.date(2025, 12, 1), dt.date(2026, 1, 5), dt.date(2026, 1, 5)]
    assert records[0].id_masked == people[0][:6] + "********" + people[0][-4:]
    assert records[0].name == "张三"


@pytest.mark.parametrize("name", ["household.csv", "household.xlsx"])
def test_a_household_file_keeps_division_and_status(name, reference_file, import_reference, citizen_id):
    path = reference_file(
        ["身份证号", "姓名", "户籍地区划代码", "户籍状态"],
        [
            [citizen_id(1), "张三", "410103015", "正常"],
            [citizen_id(2), "李 四", "410103015201", "迁出"],
            [citizen_id(3), "王五", "410103", "注销"],
            [citizen_id(4), "赵六", "", ""],
            [citizen_id(5), "钱七", "410103", "cancelled"],
        ],
        name=name,
    )
    load = import_reference("household", path)

    assert load.status == LoadStatus.ACTIVE
    records = records_of(load)
    assert [(r.name, r.division, r.status) for r in records] == [
        ("张三", "410103015", HouseholdStatus.ACTIVE),
        ("李四", "410103015201", HouseholdStatus.MOVED),
        ("王五", "410103", HouseholdStatus.CANCELLED),
        ("赵六", "", HouseholdStatus.ACTIVE),
        ("钱七", "410103", HouseholdStatus.CANCELLED),
    ]


@pytest.mark.parametrize("name", ["employees.csv", "employees.xlsx"])
def test_a_public_employee_file_keeps_the_employer(name, reference_file, import_reference, citizen_id):
    path = reference_file(
        ["身份证号", "姓名", "工作单位"],
        [[citizen_id(1), "张三", "二七区教育局"], [citizen_id(2), "", "侯寨街道办事处"]],
        name=name,
    )
    load = import_reference("public_employee", path)

    assert load.status == LoadStatus.ACTIVE
    assert [(r.name, r.detail) for r in records_of(load)] == [("张三", "二七区教育局"), ("", "侯寨街道办事处")]


@pytest.mark.parametrize("name", ["dibao.csv", "dibao.xlsx"])
def test_a_roll_keeps_its_dates_and_categories(name, reference_file, import_reference, citizen_id):
    path = reference_file(
        ["身份证号", "姓名", "纳入日期", "保障类别"],
        [[citizen_id(1), "张三", "2024年3月1日", "一类"], [citizen_id(2), "李四", "", ""]],
        name=name,
    )
    load = import_reference("dibao", path)

    assert load.status == LoadStatus.ACTIVE
    assert [(r.event_date, r.detail) for r in records_of(load)] == [(dt.date(2024, 3, 1), "一类"), (None, "")]


def test_excel_date_cells_and_old_and_full_width_ids_are_read(reference_file, import_reference, citizen_id):
    old = "410103700101001"  # 15 digits: born 1970-01-01, converted to 18
    full_width = citizen_id(7).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    path = reference_file(
        ["身份证号", "死亡日期"],
        [[old, dt.datetime(2025, 6, 1)], [full_width, dt.date(2025, 7, 2)], [citizen_id(8), "2025-08-03 14:30"]],
        name="death.xlsx",
    )
    load = import_reference("death", path)

    assert load.status == LoadStatus.ACTIVE, list(ReferenceIssue.objects.values_list("code", "message"))
    records = records_of(load)
    converted = "41010319700101001"
    from yikatong.domain import calc_check_char

    assert records[0].id_hash == hash_of(converted + calc_check_char(converted))
    assert records[1].id_hash == hash_of(citizen_id(7))
    assert [r.event_date for r in records] == [dt.date(2025, 6, 1), dt.date(2025, 7, 2), dt.date(2025, 8, 3)]


def test_a_file_with_bad_rows_is_rejected_whole_and_the_previous_load_stays_current(
    reference_file, import_reference, citizen_id
):
    good = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"], [citizen_id(2), "2025-12-02"]])
    first = import_reference("death", good)
    typo = citizen_id(4)[:17] + ("0" if citizen_id(4)[-1] != "0" else "1")
    bad = reference_file(
        ["姓名", "身份证号码", "火化日期"],
        [
            ["张三", citizen_id(3), "2025-12-03"],
            ["李四", typo, "2025-12-04"],
            ["王五", citizen_id(5), "十二月"],
            ["赵六", "", "2025-12-05"],
            ["钱七", citizen_id(7), ""],
        ],
        name="bad.xlsx",
    )
    second = import_reference("death", bad)

    assert second.status == LoadStatus.REJECTED
    assert (second.rows_read, second.valid, second.rejected) == (5, 1, 4)
    assert second.job.status == JobStatus.FAILED
    assert second.job.error_code == "reference_rows_rejected"
    issues = list(ReferenceIssue.objects.filter(load=second).order_by("row").values_list("row", "column", "code"))
    assert issues == [
        (3, "身份证号码", "id_checksum"),
        (4, "火化日期", "date_invalid"),
        (5, "身份证号码", "id_missing"),
        (6, "火化日期", "date_missing"),
    ]
    assert all(ReferenceIssue.objects.filter(load=second).values_list("message", flat=True))
    assert not ReferenceRecord.objects.filter(load=second).exists()  # nothing of it is used
    assert ReferenceSource.objects.get(code="death").current_load_id == first.pk
    first.refresh_from_db()
    assert first.status == LoadStatus.ACTIVE
    assert ReferenceRecord.objects.filter(load=first).count() == 2


def test_a_new_clean_load_supersedes_the_last_and_its_records_go(reference_file, import_reference, citizen_id):
    first = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"], [citizen_id(2), "2026-01-02"]])
    second = import_reference("death", path)

    first.refresh_from_db()
    assert first.status == LoadStatus.SUPERSEDED
    assert (first.rows_read, first.valid) == (1, 1)  # its history stays
    assert not ReferenceRecord.objects.filter(load=first).exists()
    assert second.status == LoadStatus.ACTIVE
    assert ReferenceSource.objects.get(code="death").current_load_id == second.pk
    assert ReferenceRecord.objects.count() == 2


def test_an_older_upload_finishing_after_a_newer_one_replaces_nothing(
    reference_file, finance_admin, import_reference, citizen_id, django_capture_on_commit_callbacks
):
    from jobs.services import job_run

    source = ReferenceSource.objects.get(code="death")
    older_path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]], name="older.csv")
    # The older upload's job is queued but not run yet (its worker is slow).
    older = reference_upload(
        acting_user=finance_admin, source=source, as_of=AS_OF, filename="older.csv", data=older_path.read_bytes()
    )
    newer = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(2), "2025-12-02"]]))
    job_run(job_id=older.job_id)

    older.refresh_from_db()
    assert older.status == LoadStatus.SUPERSEDED
    assert not ReferenceRecord.objects.filter(load=older).exists()
    assert ReferenceSource.objects.get(code="death").current_load_id == newer.pk


def test_rows_are_written_in_batches_and_progress_is_reported(
    reference_file, import_reference, citizen_id, monkeypatch
):
    monkeypatch.setattr("checks.importing.BATCH", 2)
    seen = []
    from jobs import services

    original = services.job_progress
    monkeypatch.setattr(services, "job_progress", lambda **kw: (seen.append(kw["done"]), original(**kw)))
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(i), "2025-12-01"] for i in range(5)])
    load = import_reference("death", path)

    assert ReferenceRecord.objects.filter(load=load).count() == 5
    assert seen == [2, 4, 5]
    assert (load.job.progress_done, load.job.progress_total) == (5, 5)


def test_the_same_person_twice_in_a_household_file_is_a_duplicate_naming_the_first_row(
    reference_file, import_reference, citizen_id
):
    path = reference_file(
        ["身份证号", "姓名"],
        [[citizen_id(1), "张三"], [citizen_id(2), "李四"], [citizen_id(1), "张三"]],
    )
    load = import_reference("household", path)

    assert load.status == LoadStatus.REJECTED
    issue = ReferenceIssue.objects.get(load=load)
    assert (issue.row, issue.column, issue.code) == (4, "身份证号", "duplicate_id")
    assert "第2行" in issue.message


def test_the_same_person_twice_in_a_death_file_is_allowed(reference_file, import_reference, citizen_id):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"], [citizen_id(1), "2025-12-03"]])
    assert import_reference("death", path).status == LoadStatus.ACTIVE


def test_a_date_after_the_files_as_of_date_is_an_error(reference_file, import_reference, citizen_id):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2026-01-31"], [citizen_id(2), "2026-02-01"]])
    load = import_reference("death", path, as_of=AS_OF)

    assert load.status == LoadStatus.REJECTED
    issue = ReferenceIssue.objects.get(load=load)
    assert (issue.row, issue.column, issue.code) == (3, "死亡日期", "date_in_future")
    assert "2026-01-31" in issue.message


def test_division_status_and_text_length_are_checked(reference_file, import_reference, citizen_id):
    path = reference_file(
        ["身份证号", "姓名", "区划代码", "状态"],
        [
            [citizen_id(1), "张三", "4101031", "正常"],
            [citizen_id(2), "李四", "410103", "失踪"],
            [citizen_id(3), "名" * 65, "410103", ""],
        ],
    )
    load = import_reference("household", path)

    codes = list(ReferenceIssue.objects.filter(load=load).order_by("row").values_list("row", "column", "code"))
    assert codes == [(2, "区划代码", "division_invalid"), (3, "状态", "status_invalid"), (4, "姓名", "text_too_long")]


def test_an_id_stored_as_a_number_is_refused_as_not_text(tmp_path, import_reference, citizen_id):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["身份证号", "死亡日期"])
    book.active.append([float(citizen_id(1)[:15]), "2025-12-01"])
    book.save(tmp_path / "numbers.xlsx")
    load = import_reference("death", tmp_path / "numbers.xlsx")

    assert ReferenceIssue.objects.get(load=load).code == "id_not_text"


def test_a_file_without_the_required_columns_is_refused_naming_them(reference_file, import_reference, citizen_id):
    load = import_reference("death", reference_file(["身份证号", "姓名"], [[citizen_id(1), "张三"]]))

    assert load.status == LoadStatus.REJECTED
    assert load.file_error_code == "columns_missing"
    assert "死亡日期" in load.file_error_message
    assert "银行账号" not in load.file_error_message
    assert load.job.error_code == "columns_missing"
    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_REJECT)
    assert event.after == {"source": "death", "code": "columns_missing"}


def test_a_file_that_is_not_a_spreadsheet_changes_nothing(tmp_path, reference_file, import_reference, citizen_id):
    first = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))
    fake = tmp_path / "death.xlsx"
    fake.write_bytes(b"%PDF-1.4" + b"\x00" * 100)
    load = import_reference("death", fake)

    assert (load.status, load.file_error_code) == (LoadStatus.REJECTED, "file_not_spreadsheet")
    assert ReferenceSource.objects.get(code="death").current_load_id == first.pk


def test_a_crash_marks_the_load_failed_and_leaves_no_records(reference_file, import_reference, citizen_id, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("checks.importing._activate", boom)
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))

    assert load.status == LoadStatus.FAILED
    assert load.job.status == JobStatus.FAILED
    assert not ReferenceRecord.objects.exists()
    assert ReferenceSource.objects.get(code="death").current_load_id is None


def test_running_the_job_again_after_it_settled_changes_nothing(reference_file, import_reference, citizen_id):
    from checks.importing import reference_import
    from jobs.models import Job

    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))
    job = Job.objects.get(pk=load.job_id)
    counts = reference_import(job=job, progress=lambda *args: None)

    assert counts["status"] == LoadStatus.ACTIVE
    assert ReferenceRecord.objects.filter(load=load).count() == 1


def test_running_the_job_again_after_a_rejection_fails_it_again(reference_file, import_reference, citizen_id):
    from checks.importing import reference_import
    from jobs.models import Job
    from jobs.registry import JobError

    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "昨天"]]))
    with pytest.raises(JobError) as caught:
        reference_import(job=Job.objects.get(pk=load.job_id), progress=lambda *args: None)
    assert caught.value.code == "reference_rows_rejected"
    assert ReferenceIssue.objects.filter(load=load).count() == 1


def test_outsider_cannot_upload_to_another_departments_source(
    death_source_of_a, outsider, clerk_a, reference_file, import_reference, citizen_id
):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    with pytest.raises(PermissionDenied):
        reference_upload(acting_user=outsider, source=death_source_of_a, as_of=AS_OF, filename="x.csv",
                         data=path.read_bytes())  # fmt: skip
    assert not ReferenceLoad.objects.exists()
    # The providing department's own clerk may.
    assert import_reference("death", path, user=clerk_a).status == LoadStatus.ACTIVE


def test_a_clerk_cannot_upload_to_a_source_no_department_provides(clerk_a, reference_file, citizen_id):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    with pytest.raises(PermissionDenied):
        reference_upload(acting_user=clerk_a, source=ReferenceSource.objects.get(code="death"), as_of=AS_OF,
                         filename="x.csv", data=path.read_bytes())  # fmt: skip


def test_auditor_cannot_upload(auditor, reference_file, citizen_id):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    with pytest.raises(PermissionDenied):
        reference_upload(acting_user=auditor, source=ReferenceSource.objects.get(code="death"), as_of=AS_OF,
                         filename="x.csv", data=path.read_bytes())  # fmt: skip
    assert not ReferenceLoad.objects.exists()


@pytest.mark.parametrize(
    ("data", "as_of", "code"),
    [(b"", AS_OF, "file_empty"), (b"x", dt.date.today() + dt.timedelta(days=2), "as_of_in_future")],
)
def test_an_empty_file_or_a_future_as_of_date_is_refused_with_a_code(finance_admin, data, as_of, code):
    with pytest.raises(ValidationError) as caught:
        reference_upload(acting_user=finance_admin, source=ReferenceSource.objects.get(code="death"), as_of=as_of,
                         filename="x.csv", data=data)  # fmt: skip
    assert caught.value.code == code
    assert not ReferenceLoad.objects.exists()


def test_a_file_over_the_size_limit_is_refused(finance_admin, settings):
    settings.MAX_UPLOAD_MB = 1
    with pytest.raises(ValidationError) as caught:
        reference_upload(acting_user=finance_admin, source=ReferenceSource.objects.get(code="death"), as_of=AS_OF,
                         filename="x.csv", data=b"x" * (1024 * 1024 + 1))  # fmt: skip
    assert caught.value.code == "file_too_large"


def test_upload_and_import_are_audited_without_any_id_number(reference_file, import_reference, citizen_id):
    people = [citizen_id(i) for i in range(1, 6)]
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[p, "2025-12-01"] for p in people]))

    upload = AuditEvent.objects.get(action=AuditAction.REFERENCE_UPLOAD)
    assert upload.object_id == str(load.pk)
    assert upload.after["source"] == "death" and upload.after["as_of"] == "2026-01-31"
    imported = AuditEvent.objects.get(action=AuditAction.REFERENCE_IMPORT)
    assert imported.after["rows_read"] == imported.after["valid"] == 5
    assert imported.before == {"current_load": None}
    with connection.cursor() as cursor:
        for table in ("audit_auditevent", "checks_referencerecord", "checks_referenceissue", "jobs_job"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 — fixed table names
            dump = repr(cursor.fetchall())
            assert not any(p in dump for p in people), table


def test_a_rejected_file_is_audited_with_its_counts(reference_file, import_reference, citizen_id):
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "明天"]]))

    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_REJECT)
    assert event.object_id == str(load.pk)
    assert event.after["rejected"] == 1 and event.after["code"] == "reference_rows_rejected"


def test_finance_assigns_a_department_and_a_policy_and_it_is_audited(finance_admin, department_a, clerk_a):
    source = ReferenceSource.objects.get(code="dibao")
    reference_source_save(acting_user=finance_admin, source=source, department=department_a, name="城乡低保对象名单")

    source.refresh_from_db()
    assert (source.department, source.name) == (department_a, "城乡低保对象名单")
    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_SOURCE_SAVE)
    assert event.before == {"department": None, "name": "城乡低保对象"}
    assert event.after == {"department": "mz", "name": "城乡低保对象名单"}
    with pytest.raises(PermissionDenied):
        reference_source_save(acting_user=clerk_a, source=source, name="改名")


def test_only_a_roll_can_stand_for_a_policy(finance_admin, department_a):
    from tests.policies.factories import draft_list

    policy_list = draft_list(finance_admin, 2026, [("MZ-01", department_a, {"name": "困难群众生活补贴"})])
    policy = policy_list.entries.get().policy
    with pytest.raises(ValidationError) as caught:
        reference_source_save(
            acting_user=finance_admin, source=ReferenceSource.objects.get(code="death"), policy=policy
        )
    assert caught.value.code == "policy_only_for_rolls"
    reference_source_save(acting_user=finance_admin, source=ReferenceSource.objects.get(code="dibao"), policy=policy)
    assert ReferenceSource.objects.get(code="dibao").policy == policy


@pytest.mark.postgres
def test_thousands_of_rows_are_copied_in_batches_on_postgresql(
    reference_file, import_reference, citizen_id, monkeypatch
):
    monkeypatch.setattr("checks.importing.BATCH", 1000)
    people = [citizen_id(i) for i in range(4500)]
    path = reference_file(
        ["身份证号", "姓名", "户籍地区划代码", "户籍状态"],
        [[p, f"人员{i}", "410103015", "迁出" if i % 10 == 0 else "正常"] for i, p in enumerate(people)],
        name="household.csv",
    )
    first = import_reference("household", path)

    assert first.status == LoadStatus.ACTIVE
    assert (first.rows_read, first.valid) == (4500, 4500)
    assert first.job.progress_done == first.job.progress_total == 4500
    assert ReferenceRecord.objects.filter(load=first).count() == 4500
    assert ReferenceRecord.objects.filter(load=first, status=HouseholdStatus.MOVED).count() == 450
    assert ReferenceRecord.objects.filter(load=first, event_date__isnull=True).count() == 4500
    assert ReferenceRecord.objects.filter(load=first, id_hash=hash_of(people[4321])).get().row == 4323
    # Again: the new load supersedes, the old rows go.
    second = import_reference("household", path)
    assert ReferenceRecord.objects.filter(load=second).count() == 4500
    assert not ReferenceRecord.objects.filter(load=first).exists()


@pytest.mark.postgres
def test_copy_keeps_empty_text_and_null_dates_apart_on_postgresql(reference_file, import_reference, citizen_id):
    path = reference_file(
        ["身份证号", "姓名", "纳入日期", "类别"],
        [[citizen_id(1), "", "", ""], [citizen_id(2), '引号"逗号,', "2024-01-01", "一类"]],
    )
    load = import_reference("dibao", path)

    first, second = records_of(load)
    assert (first.name, first.event_date, first.detail) == ("", None, "")
    assert (second.name, second.event_date, second.detail) == ('引号"逗号,', dt.date(2024, 1, 1), "一类")
