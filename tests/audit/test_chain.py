import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from audit.models import AppendOnlyError, AuditEvent
from audit.services import UnmaskedValueError, audit_record, audit_verify
from tests.db_helpers import audit_protection_lifted


def _tamper(sql: str, params: list) -> None:
    """Change the trail behind the application's back, as an attacker with database access would."""
    with audit_protection_lifted() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def trail(finance_admin):
    return [
        audit_record(
            acting_user=finance_admin,
            action="test.step",
            object_type="demo",
            object_id=str(i),
            after={"step": i, "amount": "12.50"},
        )
        for i in range(5)
    ]


def test_each_entry_links_to_the_one_before(trail):
    report = audit_verify()
    assert report.ok
    assert report.checked == 5
    assert len({event.hash for event in trail}) == 5


def test_verify_audit_command_passes_on_an_intact_trail(trail, capsys):
    call_command("verify_audit")
    assert "5 entries verified" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_verify_audit_names_the_entry_altered_in_sql(finance_admin):
    events = [audit_record(acting_user=finance_admin, action="test.step", after={"i": i}) for i in range(4)]
    _tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"i": 99}', events[2].pk])

    report = audit_verify()
    assert not report.ok
    assert report.first_broken_id == events[2].pk
    with pytest.raises(CommandError, match=f"#{events[2].pk}"):
        call_command("verify_audit")


@pytest.mark.django_db(transaction=True)
def test_verify_audit_notices_a_deleted_entry(finance_admin):
    events = [audit_record(acting_user=finance_admin, action="test.step", after={"i": i}) for i in range(4)]
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    report = audit_verify()
    assert report.first_broken_id == events[2].pk


def test_the_database_refuses_to_update_an_entry(trail):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [trail[0].pk])
    assert AuditEvent.objects.get(pk=trail[0].pk).action == "test.step"


def test_the_database_refuses_to_delete_an_entry(trail):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [trail[0].pk])
    assert AuditEvent.objects.count() == 5


@pytest.mark.postgres
def test_postgres_refuses_to_truncate_the_trail(trail):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.count() == 5


def test_the_orm_refuses_to_change_entries(trail):
    event = trail[0]
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(action="changed")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.step"


def test_it_refuses_an_unmasked_id_number_in_an_entry(finance_admin):
    with pytest.raises(UnmaskedValueError):
        audit_record(acting_user=finance_admin, action="test.step", after={"id_number": "410103199003074258"})
    audit_record(acting_user=finance_admin, action="test.step", after={"id_number": "410103********4258"})
    assert AuditEvent.objects.count() == 1


def test_an_entry_rolled_back_with_its_change_leaves_the_chain_intact(finance_admin):
    audit_record(acting_user=finance_admin, action="test.kept")
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(acting_user=finance_admin, action="test.rolled_back")
        raise RuntimeError("the service failed after writing its entry")
    audit_record(acting_user=finance_admin, action="test.kept")

    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == ["test.kept", "test.kept"]
    assert audit_verify().ok


def test_an_entry_records_who_what_and_the_request(client, finance_admin):
    event = audit_record(
        acting_user=finance_admin, action="test.step", obj=finance_admin, before={"a": 1}, after={"a": 2}
    )
    event.refresh_from_db()
    assert event.actor == finance_admin
    assert event.actor_role == "finance_admin"
    assert event.object_type == "org.user"
    assert event.object_id == str(finance_admin.pk)
    assert (event.before, event.after) == ({"a": 1}, {"a": 2})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain(finance_admin):
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_writer):
                with transaction.atomic():
                    audit_record(acting_user=finance_admin, action="test.concurrent", after={"w": n, "i": i})
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    report = audit_verify()
    assert report.ok
    assert report.checked == writers * per_writer
