import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from audit.services import audit_record
from org.enums import Role
from org.models import Department, User
from org.services import user_create


def test_a_department_clerk_sees_only_their_own_department(clerk_a, department_a, department_b):
    assert list(Department.objects.visible_to(clerk_a)) == [department_a]


def test_finance_and_auditors_see_every_department(finance_admin, auditor, department_a, department_b):
    assert set(Department.objects.visible_to(finance_admin)) == {department_a, department_b}
    assert set(Department.objects.visible_to(auditor)) == {department_a, department_b}


def test_anonymous_and_bank_users_see_no_department(bank_user, department_a):
    from django.contrib.auth.models import AnonymousUser

    assert not Department.objects.visible_to(AnonymousUser()).exists()
    assert not Department.objects.visible_to(bank_user).exists()


def test_outsider_cannot_see_another_departments_audit_entries(clerk_a, outsider):
    audit_record(acting_user=clerk_a, action="test.step", department_id=clerk_a.department_id)
    audit_record(acting_user=outsider, action="test.step", department_id=outsider.department_id)
    seen = AuditEvent.objects.visible_to(outsider)
    assert [event.actor for event in seen] == [outsider]


def test_a_township_clerk_sees_only_their_township_within_their_department(
    township_clerk, township, other_township, department_a
):
    audit_record(action="test.here", department_id=department_a.pk, region_code=township.code + "001")
    audit_record(action="test.elsewhere", department_id=department_a.pk, region_code=other_township.code)
    actions = list(AuditEvent.objects.visible_to(township_clerk).values_list("action", flat=True))
    assert actions == ["test.here"]


@pytest.mark.parametrize(
    ("role", "perm", "allowed"),
    [
        (Role.FINANCE_ADMIN, "org.change_department", True),
        (Role.DEPARTMENT_CLERK, "org.change_department", False),
        (Role.DEPARTMENT_CLERK, "org.view_department", True),
        (Role.DEPARTMENT_CLERK, "org.add_user", False),
        (Role.DEPARTMENT_REVIEWER, "recipients.change_recipient", False),
        (Role.AUDITOR, "audit.view_auditevent", True),
        (Role.AUDITOR, "org.change_user", False),
        (Role.AUDITOR, "org.add_department", False),
        (Role.BANK, "audit.view_auditevent", False),
    ],
)
def test_each_role_has_exactly_its_permissions(db, role, perm, allowed, department_a, township):
    user = User(
        username=f"u-{role}",
        role=role,
        department=department_a if role not in (Role.FINANCE_ADMIN, Role.AUDITOR, Role.BANK) else None,
    )
    assert user.has_perm(perm) is allowed


def test_a_deactivated_user_has_no_permission(finance_admin):
    finance_admin.is_active = False
    assert not finance_admin.has_perm("org.view_department")


def test_a_clerk_cannot_be_created_without_a_department(finance_admin):
    with pytest.raises(ValidationError) as caught:
        user_create(acting_user=finance_admin, username="x", password=None, role=Role.DEPARTMENT_CLERK)
    assert caught.value.code == "department_required"
    assert not User.objects.filter(username="x").exists()


def test_a_township_clerk_needs_a_township(finance_admin, department_a, county):
    with pytest.raises(ValidationError) as caught:
        user_create(
            acting_user=finance_admin,
            username="x",
            password=None,
            role=Role.TOWNSHIP_CLERK,
            department=department_a,
            region=county,
        )
    assert caught.value.code == "township_required"


def test_the_database_refuses_a_clerk_without_a_department(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="x", role=Role.DEPARTMENT_CLERK)


def test_the_database_refuses_an_unknown_role(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="x", role="superclerk")


def test_creating_a_user_is_audited_without_the_password(finance_admin, department_a):
    user = user_create(
        acting_user=finance_admin,
        username="newclerk",
        password="A-long-pass-123",
        role=Role.DEPARTMENT_CLERK,
        department=department_a,
    )
    event = AuditEvent.objects.get(action="user.create", object_id=str(user.pk))
    assert event.actor == finance_admin
    assert event.after["role"] == "department_clerk"
    assert event.after["department_id"] == department_a.pk
    assert "password" not in event.after
    assert user.is_staff is True
