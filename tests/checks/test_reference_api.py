"""Reference data over REST and from the command line: upload, follow the job, read the problems, download the
error report — each door scoped to the providing department."""

import datetime as dt
import io
import json

import openpyxl
import pytest
from django.core.management import call_command

from checks.enums import LoadStatus
from checks.models import ReferenceIssue, ReferenceLoad, ReferenceSource


def post_file(client, code, path, as_of="2026-01-31"):
    with path.open("rb") as handle:
        return client.post(f"/api/v1/reference-sources/{code}/loads/", {"file": handle, "as_of": as_of})


def test_the_department_uploads_follows_and_downloads_the_error_report_over_rest(
    login, clerk_a, death_source_of_a, reference_file, citizen_id, django_capture_on_commit_callbacks
):
    path = reference_file(
        ["序号", "姓名", "身份证号", "死亡日期", "备注"],
        [["1", "张三", citizen_id(1), "2025-12-01", ""], ["2", "李四", "12345", "2025-12-02", "核实中"]],
        name="death.xlsx",
    )
    client = login(clerk_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_file(client, "death", path)
    assert response.status_code == 202, response.content
    body = response.json()
    load = ReferenceLoad.objects.get()
    assert body["load"] == load.pk and body["job"] == load.job_id
    assert body["status_url"].endswith(f"/api/v1/reference-loads/{load.pk}/")

    job = client.get(f"/api/v1/jobs/{body['job']}/").json()
    assert (job["status"], job["error_code"]) == ("failed", "reference_rows_rejected")
    state = client.get(body["status_url"]).json()
    assert (state["status"], state["rows_read"], state["valid"], state["rejected"]) == ("rejected", 2, 1, 1)
    assert state["source"] == "death" and state["is_current"] is False

    issues = client.get(f"/api/v1/reference-loads/{load.pk}/issues/").json()
    assert issues["count"] == 1
    assert issues["results"][0] == {
        "row": 3,
        "column": "身份证号",
        "code": "id_format",
        "message": ReferenceIssue.objects.get().message,
        "warning": False,
    }

    report = client.get(f"/api/v1/reference-loads/{load.pk}/error-report/")
    assert report.status_code == 200
    assert "attachment" in report["Content-Disposition"]
    lines = list(openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).active.iter_rows(values_only=True))
    assert lines[0] == ("原行号", "序号", "姓名", "身份证号", "死亡日期", "备注", "问题说明")
    assert lines[1][:4] == (3, "2", "李四", "12345")
    assert lines[1][-1].startswith("身份证号：")
    assert len(lines) == 2


def test_a_clean_upload_shows_as_the_sources_current_data(
    login, finance_admin, reference_file, citizen_id, django_capture_on_commit_callbacks
):
    client = login(finance_admin)
    path = reference_file(["身份证号", "姓名", "工作单位"], [[citizen_id(1), "张三", "二七区财政局"]])
    with django_capture_on_commit_callbacks(execute=True):
        assert post_file(client, "public_employee", path, as_of="2026-01-15").status_code == 202
    load = ReferenceLoad.objects.get()

    sources = {item["code"]: item for item in client.get("/api/v1/reference-sources/").json()["results"]}
    assert set(sources) == set(ReferenceSource.objects.values_list("code", flat=True))
    assert sources["public_employee"]["current_load"] == {"id": load.pk, "as_of": "2026-01-15", "valid": 1}
    assert sources["public_employee"]["kind"] == "public_employee"
    assert sources["death"]["current_load"] is None and sources["death"]["department"] is None
    loads = client.get("/api/v1/reference-loads/?source=public_employee").json()
    assert [item["id"] for item in loads["results"]] == [load.pk]
    assert loads["results"][0]["is_current"] is True


def test_outsider_gets_403_on_upload_and_sees_none_of_the_sources_loads(
    login, outsider, clerk_a, death_source_of_a, reference_file, citizen_id, import_reference
):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    load = import_reference("death", path, user=clerk_a)
    client = login(outsider)

    response = post_file(client, "death", path)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert ReferenceLoad.objects.count() == 1
    assert client.get("/api/v1/reference-sources/").json()["results"] == []
    assert client.get("/api/v1/reference-sources/death/").status_code == 404
    assert client.get(f"/api/v1/reference-loads/{load.pk}/").status_code == 404
    assert client.get(f"/api/v1/reference-loads/{load.pk}/issues/").status_code == 404
    assert client.get(f"/api/v1/reference-loads/{load.pk}/error-report/").status_code == 404


def test_the_providing_clerk_sees_only_their_departments_sources(login, clerk_a, death_source_of_a):
    sources = login(clerk_a).get("/api/v1/reference-sources/").json()["results"]
    assert [(item["code"], item["department"]) for item in sources] == [("death", "mz")]


def test_auditor_sees_every_load_but_cannot_upload(login, auditor, reference_file, citizen_id, import_reference):
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))
    client = login(auditor)
    assert client.get(f"/api/v1/reference-loads/{load.pk}/").status_code == 200
    response = post_file(client, "death", reference_file(["身份证号", "死亡日期"], [[citizen_id(2), "2025-12-01"]]))
    assert response.status_code == 403
    assert ReferenceLoad.objects.count() == 1


@pytest.mark.parametrize(
    ("as_of", "code"),
    [((dt.date.today() + dt.timedelta(days=3)).isoformat(), "as_of_in_future"), ("", "invalid")],
)
def test_a_bad_as_of_date_is_a_400_with_a_code(login, finance_admin, reference_file, citizen_id, as_of, code):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    response = post_file(login(finance_admin), "death", path, as_of=as_of)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not ReferenceLoad.objects.exists()


def test_an_unknown_source_is_a_404(login, finance_admin, reference_file, citizen_id):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    response = post_file(login(finance_admin), "nosuch", path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_reference_endpoints_are_in_the_openapi_schema(login, finance_admin):
    schema = login(finance_admin).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/reference-sources/",
        "/api/v1/reference-sources/{code}/loads/",
        "/api/v1/reference-loads/{id}/",
        "/api/v1/reference-loads/{id}/issues/",
        "/api/v1/reference-loads/{id}/error-report/",
    ):
        assert path in paths, path
    upload = paths["/api/v1/reference-sources/{code}/loads/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "202" in upload["responses"] and "403" in upload["responses"]


# --- the command --------------------------------------------------------------------------------------


def test_import_reference_command_imports_as_the_first_finance_admin(finance_admin, reference_file, citizen_id, capsys):
    path = reference_file(["身份证号", "姓名"], [[citizen_id(1), "张三"], [citizen_id(2), "李四"]])
    call_command("import_reference", "household", str(path), "--as-of", "2026-01-20")

    out = capsys.readouterr().out
    load = ReferenceLoad.objects.get()
    assert load.status == LoadStatus.ACTIVE and load.uploaded_by == finance_admin
    assert load.as_of == dt.date(2026, 1, 20)
    assert "read 2, valid 2, rejected 0" in out
    assert ReferenceSource.objects.get(code="household").current_load == load


def test_import_reference_command_prints_every_issue_and_fails_on_rejection(
    finance_admin, reference_file, citizen_id, capsys
):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"], [citizen_id(2), "2026-13-01"]])
    with pytest.raises(SystemExit) as exited:
        call_command("import_reference", "death", str(path), "--as-of", "2026-01-31")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "row 3 [死亡日期] error date_invalid:" in out
    assert ReferenceSource.objects.get(code="death").current_load is None


def test_import_reference_command_json_and_named_user(clerk_a, death_source_of_a, reference_file, citizen_id, capsys):
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    call_command("import_reference", "death", str(path), "--as-of", "2026-01-31", "--user", "clerk_a", "--json")
    result = json.loads(capsys.readouterr().out)
    assert (result["status"], result["valid"], result["issues"]) == ("active", 1, [])
    assert ReferenceLoad.objects.get().uploaded_by == clerk_a


def test_import_reference_command_refuses_a_user_who_may_not_upload(outsider, death_source_of_a, reference_file,
                                                                     citizen_id):  # fmt: skip
    from django.core.management.base import CommandError

    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    with pytest.raises(CommandError, match="permission_denied"):
        call_command("import_reference", "death", str(path), "--user", "clerk_b")
    with pytest.raises(CommandError, match="No reference source"):
        call_command("import_reference", "nosuch", str(path), "--user", "clerk_b")


def test_township_staff_may_not_read_the_departments_reference_data(
    login, township_clerk, clerk_a, death_source_of_a, reference_file, citizen_id, import_reference
):
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "x"]]), user=clerk_a)
    client = login(township_clerk)
    assert client.get("/api/v1/reference-sources/").status_code == 403
    assert client.get(f"/api/v1/reference-loads/{load.pk}/error-report/").status_code == 403
