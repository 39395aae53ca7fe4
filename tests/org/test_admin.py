"""The browser admin, as each role sees it."""

from audit.models import AuditEvent
from org.models import User


def test_a_clerk_sees_only_their_department_in_the_admin(login, clerk_a, department_a, department_b):
    response = login(clerk_a).get("/admin/org/department/")
    assert response.status_code == 200
    assert department_a.name in response.content.decode()
    assert department_b.name not in response.content.decode()


def test_outsider_cannot_open_another_departments_page(login, outsider, department_a):
    response = login(outsider).get(f"/admin/org/department/{department_a.pk}/change/")
    # The admin answers "not found" (redirect with a message) rather than showing it.
    assert response.status_code in (302, 404)
    assert department_a.name not in response.content.decode()


def test_a_clerk_cannot_open_the_user_list_and_the_refusal_is_audited(login, clerk_a):
    response = login(clerk_a).get("/admin/org/user/")
    assert response.status_code == 403
    event = AuditEvent.objects.get(action="access.denied")
    assert event.actor == clerk_a
    assert "/admin/org/user/" in event.object_repr


def test_an_auditor_reads_the_trail_but_cannot_change_it(login, auditor, finance_admin):
    from audit.services import audit_record

    entry = audit_record(acting_user=finance_admin, action="test.step")
    client = login(auditor)
    assert client.get("/admin/audit/auditevent/").status_code == 200
    page = client.get(f"/admin/audit/auditevent/{entry.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/audit/auditevent/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.filter(pk=entry.pk).exists()


def test_finance_creates_a_clerk_in_the_admin_and_the_change_is_audited(login, finance_admin, department_a):
    response = login(finance_admin).post(
        "/admin/org/user/add/",
        {
            "username": "mz_new",
            "usable_password": "true",
            "password1": "Zheng-Wu-2026!",
            "password2": "Zheng-Wu-2026!",
            "full_name": "新经办人",
            "role": "department_clerk",
            "department": department_a.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="mz_new")
    assert (user.role, user.department, user.is_staff) == ("department_clerk", department_a, True)
    assert AuditEvent.objects.filter(action="user.create", object_id=str(user.pk), actor=finance_admin).exists()


def test_the_admin_form_says_why_a_clerk_needs_a_department(login, finance_admin):
    response = login(finance_admin).post(
        "/admin/org/user/add/",
        {
            "username": "mz_new",
            "usable_password": "true",
            "password1": "Zheng-Wu-2026!",
            "password2": "Zheng-Wu-2026!",
            "role": "department_clerk",
        },
    )
    assert response.status_code == 200
    assert "该角色必须指定所属部门" in response.content.decode()
    assert not User.objects.filter(username="mz_new").exists()
