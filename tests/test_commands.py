"""The management commands a person runs by hand."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.services import audit_verify
from checks.models import Finding
from disbursement.ledger import ledger, reconcile_ok
from disbursement.models import Batch, Payment, Payout
from org.enums import Role
from org.models import Department, Region, User
from recipients.models import Roster


def test_seed_demo_prints_one_login_per_role_and_can_run_twice(db, capsys, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the demo roster's import job runs after commit
        call_command("seed_demo")
    first = capsys.readouterr().out
    counts = (User.objects.count(), Department.objects.count(), Region.objects.count(), Payment.objects.count())
    call_command("seed_demo")

    assert (User.objects.count(), Department.objects.count(), Region.objects.count(), Payment.objects.count()) == counts
    # November: a roster imported and checked, its findings waiting; the newcomer sees the rows turned away.
    november = Roster.objects.get(payout__period="2026-11")
    assert november.status == "imported"
    assert november.valid == Payment.objects.filter(payout__period="2026-11").count() > 250
    assert november.rejected > 0
    assert Finding.objects.filter(payout__period="2026-11", status="open", severity="block").count() >= 5
    # October went all the way: findings cleared, reviewed, released into generated bank batches that balance.
    october = Payout.objects.get(period="2026-10")
    assert october.status == "released"
    assert not Finding.objects.filter(payout=october, status="open").exists()
    batches = Batch.objects.filter(payout=october)
    assert batches.count() >= 2 and all(batch.status == "ready" and batch.file_sha256 for batch in batches)
    assert sum(batch.total_fen for batch in batches) == int(october.approved_total * 100)
    assert reconcile_ok(ledger())
    roles = set(User.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    for user in User.objects.exclude(role=Role.BANK):
        assert user.username in first
        assert user.check_password("Yikatong-demo-2026")
    assert Department.objects.count() >= 10
    assert Region.objects.filter(level="township").count() >= 10
    assert audit_verify().ok


def test_seed_demo_refuses_a_production_setup(db, settings):
    settings.USING_DEV_KEYS = False
    with pytest.raises(CommandError, match="production"):
        call_command("seed_demo")
    assert not User.objects.exists()


def test_load_divisions_reports_every_bad_line_and_loads_nothing(db, tmp_path, capsys):
    path = tmp_path / "divisions.csv"
    path.write_text("code,name\n410103,二七区\n41010300,坏代码\n410103001,\n990103,无此省\n", encoding="utf-8")
    with pytest.raises(CommandError, match="3 bad line"):
        call_command("load_divisions", str(path))
    err = capsys.readouterr().err
    assert "line 3" in err and "line 4" in err and "line 5" in err
    assert not Region.objects.exists()


def test_load_divisions_builds_the_tree_and_renames_on_reload(db, tmp_path):
    path = tmp_path / "divisions.csv"
    path.write_text("code,name\n410103,二七区\n410103015,侯寨乡\n410103015201,尖岗村\n", encoding="utf-8")
    call_command("load_divisions", str(path))
    path.write_text("code,name\n410103,二七区\n410103015,侯寨街道\n410103015201,尖岗村\n", encoding="utf-8")
    call_command("load_divisions", str(path))

    village = Region.objects.get(code="410103015201")
    assert village.parent.code == "410103015"
    assert village.parent.name == "侯寨街道"
    assert village.parent.parent.code == "410103"
    assert Region.objects.count() == 3
