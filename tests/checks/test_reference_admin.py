"""Reference data in the admin: finance keeps the sources; the providing department uploads and follows its files."""

from django.core.files.uploadedfile import SimpleUploadedFile

from audit.enums import AuditAction
from audit.models import AuditEvent
from checks.enums import LoadStatus
from checks.models import ReferenceLoad, ReferenceSource


def test_finance_sees_every_source_with_its_current_data(login, finance_admin, import_reference, reference_file,
                                                         citizen_id):  # fmt: skip
    import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]]))
    page = login(finance_admin).get("/admin/checks/referencesource/").content.decode()
    for name in ReferenceSource.objects.values_list("name", flat=True):
        assert name in page
    assert "2026-01-31" in page or "2026年1月31日" in page


def test_finance_assigns_the_providing_department_through_the_service(login, finance_admin, department_a):
    source = ReferenceSource.objects.get(code="death")
    response = login(finance_admin).post(
        f"/admin/checks/referencesource/{source.pk}/change/",
        {"name": "死亡火化信息", "department": department_a.pk, "description": source.description},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    source.refresh_from_db()
    assert source.department == department_a
    event = AuditEvent.objects.get(action=AuditAction.REFERENCE_SOURCE_SAVE)
    assert event.after == {"department": "mz"}


def test_the_clerk_uploads_on_the_sources_page_and_sees_the_progress_bar(
    login, clerk_a, death_source_of_a, reference_file, citizen_id, django_capture_on_commit_callbacks
):
    client = login(clerk_a)
    page = client.get(f"/admin/checks/referencesource/{death_source_of_a.pk}/upload/")
    assert page.status_code == 200
    assert 'name="as_of"' in page.content.decode() and "必需列：身份证号、死亡日期" in page.content.decode()

    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"], [citizen_id(2), "2025-12-02"]])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/checks/referencesource/{death_source_of_a.pk}/upload/",
            {"file": SimpleUploadedFile(path.name, path.read_bytes()), "as_of": "2026-01-31"},
        )
    assert response.status_code == 302
    load = ReferenceLoad.objects.get()
    assert load.status == LoadStatus.ACTIVE and load.uploaded_by == clerk_a

    for url in (response["Location"], f"/admin/checks/referencesource/{death_source_of_a.pk}/change/"):
        html = client.get(url).content.decode()
        assert path.name in html
        assert f'data-job-url="/api/v1/jobs/{load.job_id}/"' in html
        assert "js/job-progress.js" in html
        assert "比对使用中" in html


def test_a_rejected_load_links_to_its_issues_and_error_report(
    login, finance_admin, import_reference, reference_file, citizen_id
):
    load = import_reference("death", reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2099-01-01"]]))
    client = login(finance_admin)
    source = load.source
    html = client.get(f"/admin/checks/referencesource/{source.pk}/change/").content.decode()
    issues_url = f"/admin/checks/referencesource/{source.pk}/loads/{load.pk}/issues/"
    assert issues_url in html
    assert f"/api/v1/reference-loads/{load.pk}/error-report/" in html
    assert "整个文件未启用" in html

    page = client.get(issues_url).content.decode()
    assert "date_in_future" in page and "死亡日期" in page


def test_a_bad_as_of_date_is_shown_on_the_form(login, finance_admin, reference_file, citizen_id):
    source = ReferenceSource.objects.get(code="death")
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    response = login(finance_admin).post(
        f"/admin/checks/referencesource/{source.pk}/upload/",
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "as_of": "2999-01-01"},
    )
    assert response.status_code == 200
    assert "数据截止日期不能晚于今天" in response.content.decode()
    assert not ReferenceLoad.objects.exists()


def test_outsider_can_neither_open_nor_upload_to_another_departments_source(
    login, outsider, death_source_of_a, reference_file, citizen_id
):
    client = login(outsider)
    path = reference_file(["身份证号", "死亡日期"], [[citizen_id(1), "2025-12-01"]])
    assert client.get(f"/admin/checks/referencesource/{death_source_of_a.pk}/change/").status_code == 302
    response = client.post(
        f"/admin/checks/referencesource/{death_source_of_a.pk}/upload/",
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), "as_of": "2026-01-31"},
    )
    assert response.status_code == 404
    assert not ReferenceLoad.objects.exists()


def test_auditor_may_look_but_not_upload(login, auditor):
    source = ReferenceSource.objects.get(code="death")
    client = login(auditor)
    html = client.get(f"/admin/checks/referencesource/{source.pk}/change/").content.decode()
    assert "上传新数据" not in html
    assert client.get(f"/admin/checks/referencesource/{source.pk}/upload/").status_code == 403
