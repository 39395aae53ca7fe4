"""The check run over a real imported roster: findings with evidence, the clerk's decisions, and what they
do to submission. (Recall and precision over every rule: test_planted_county.py.)"""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from audit.models import AuditEvent
from checks.enums import FindingStatus, RunStatus, Severity
from checks.models import CheckRun, Finding, PolicyRule, ReferenceSource, Rule
from checks.selectors import findings_report, submission_blockers
from checks.services import checks_start, finding_keep, finding_remove
from disbursement.enums import PaymentStatus
from disbursement.models import Payment
from tests.checks.helpers import current_load
from yikatong import pii


def _person(rows, index):
    row = rows[index]
    number = str(row["身份证号码"]).strip()
    return number, pii.keyed_hash(number, purpose="id_number")


def _load(source_code, user, records, as_of=dt.date(2026, 11, 20)):
    return current_load(source_code, user, records, as_of=as_of)


@pytest.fixture
def imported(roster_file, upload):
    path, rows = roster_file(30)
    roster = upload(path)
    return roster, rows


def _run(user, payout, capture):
    with capture(execute=True):
        run = checks_start(acting_user=user, payout=payout)
    return CheckRun.objects.get(pk=run.pk)


def test_import_runs_the_checks_and_sources_not_loaded_are_skipped(imported, payout):
    run = CheckRun.objects.get(payout=payout)
    assert run.status == RunStatus.DONE
    assert run.payments == 30
    by_rule = {entry["rule"]: entry for entry in run.rules_run}
    assert [entry["rule"] for entry in run.rules_run] == list(Rule.objects.values_list("code", flat=True))
    assert by_rule["deceased"]["skipped"] == "source_not_loaded"
    assert by_rule["public_employee"]["skipped"] == "not_applicable"
    assert by_rule["already_paid"]["findings"] == 0
    assert submission_blockers(payout) == []


def test_deceased_found_kept_with_reason_and_unblocks(
    imported, payout, clerk_a, reviewer_a, django_capture_on_commit_callbacks
):
    _roster, rows = imported
    number, id_hash = _person(rows, 3)
    _load("death", clerk_a, [(id_hash, {"event_date": dt.date(2026, 3, 1)})])
    run = _run(clerk_a, payout, django_capture_on_commit_callbacks)
    finding = Finding.objects.get(payout=payout, rule="deceased")
    assert finding.status == FindingStatus.OPEN and finding.severity == Severity.BLOCK
    assert finding.run_id == run.pk
    assert finding.payment.recipient.id_hash == id_hash and finding.recipient_id == finding.payment.recipient_id
    assert finding.evidence["date_of_death"] == "2026-03-01"
    assert finding.evidence["source"] == "death" and finding.evidence["row"] == 2
    codes = [code for code, _message in submission_blockers(payout)]
    assert codes == ["findings_open"]
    report = findings_report(payout)
    assert report["findings"][0]["rule"] == "deceased"
    assert report["findings"][0]["payment_ref"] == f"{payout.code}-{finding.payment.row:06d}"
    assert number not in str(report)

    with pytest.raises(ValidationError) as error:
        finding_keep(acting_user=clerk_a, finding=finding, reason="  ")
    assert error.value.code == "reason_required"
    with pytest.raises(PermissionDenied):
        finding_keep(acting_user=reviewer_a, finding=finding, reason="看过了")
    finding_keep(
        acting_user=clerk_a, finding=finding, reason="死亡信息有误，本人到场核实", attachment=("核实.pdf", b"%PDF")
    )
    finding.refresh_from_db()
    assert finding.status == FindingStatus.KEPT and finding.decided_by == clerk_a and finding.attachment_file
    assert submission_blockers(payout) == []
    assert AuditEvent.objects.filter(action="finding.keep").count() == 1

    # A later run finds it again: the clerk's decision stands.
    _run(clerk_a, payout, django_capture_on_commit_callbacks)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.KEPT


def test_remove_cancels_the_payment_and_rerun_resolves_what_is_gone(
    imported, payout, clerk_a, django_capture_on_commit_callbacks
):
    _roster, rows = imported
    _n1, dead = _person(rows, 1)
    _n2, also_dead = _person(rows, 2)
    _load(
        "death",
        clerk_a,
        [(dead, {"event_date": dt.date(2026, 10, 1)}), (also_dead, {"event_date": dt.date(2026, 11, 30)})],
    )
    _run(clerk_a, payout, django_capture_on_commit_callbacks)
    first, second = Finding.objects.filter(payout=payout, rule="deceased").order_by("payment__row")
    finding_remove(acting_user=clerk_a, finding=first, note="确已死亡")
    first.refresh_from_db()
    assert first.status == FindingStatus.REMOVED
    assert Payment.objects.get(pk=first.payment_id).status == PaymentStatus.CANCELLED
    with pytest.raises(ValidationError) as error:
        finding_remove(acting_user=clerk_a, finding=first)
    assert error.value.code == "finding_closed"

    # The death office corrects its list: the second person was never dead. The next run resolves that finding.
    _load("death", clerk_a, [(dead, {"event_date": dt.date(2026, 10, 1)})], as_of=dt.date(2026, 11, 22))
    run = _run(clerk_a, payout, django_capture_on_commit_callbacks)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.status == FindingStatus.RESOLVED
    assert first.status == FindingStatus.REMOVED  # the cancelled payment is no longer checked at all
    assert run.payments == 29
    assert submission_blockers(payout) == []


def test_death_after_the_period_is_not_a_finding(imported, payout, clerk_a, django_capture_on_commit_callbacks):
    _roster, rows = imported
    _n, id_hash = _person(rows, 0)
    _load("death", clerk_a, [(id_hash, {"event_date": dt.date(2026, 12, 1)})])
    _run(clerk_a, payout, django_capture_on_commit_callbacks)
    assert not Finding.objects.filter(payout=payout).exists()


def test_a_rule_switched_off_or_softened_for_a_policy(
    imported,
    payout,
    clerk_a,
    published_policy,
    django_capture_on_commit_callbacks,
):
    _roster, rows = imported
    _n, id_hash = _person(rows, 0)
    _load("death", clerk_a, [(id_hash, {"event_date": dt.date(2026, 1, 1)})])
    PolicyRule.objects.create(policy=published_policy, rule=Rule.objects.get(code="deceased"), severity="warn")
    _run(clerk_a, payout, django_capture_on_commit_callbacks)
    assert Finding.objects.get(payout=payout, rule="deceased").severity == Severity.WARN
    assert submission_blockers(payout) == []
    PolicyRule.objects.filter(policy=published_policy).update(enabled=False)
    run = _run(clerk_a, payout, django_capture_on_commit_callbacks)
    assert {e["rule"]: e for e in run.rules_run}["deceased"]["skipped"] == "disabled"
    assert Finding.objects.get(payout=payout, rule="deceased").status == FindingStatus.RESOLVED


def test_a_new_roster_voids_nothing_but_reattaches_findings(
    roster_file, upload, payout, clerk_a, django_capture_on_commit_callbacks
):
    path, rows = roster_file(20)
    upload(path)
    _n, id_hash = _person(rows, 5)
    _load("death", clerk_a, [(id_hash, {"event_date": dt.date(2026, 1, 1)})])
    _run(clerk_a, payout, django_capture_on_commit_callbacks)
    finding = Finding.objects.get(payout=payout, rule="deceased")
    finding_keep(acting_user=clerk_a, finding=finding, reason="核实无误")
    old_payment = finding.payment_id
    upload(path)  # the same people again: the import replaces the payments and runs the checks
    finding.refresh_from_db()
    assert finding.payment_id is not None and finding.payment_id != old_payment
    assert finding.status == FindingStatus.KEPT
    latest = CheckRun.objects.filter(payout=payout).order_by("-pk").first()
    assert latest.status == RunStatus.DONE and submission_blockers(payout) == []


def test_outsider_cannot_start_or_clear(imported, payout, outsider, auditor):
    for user in (outsider, auditor):
        with pytest.raises(PermissionDenied):
            checks_start(acting_user=user, payout=payout)


def test_run_checks_command_prints_json_without_id_numbers(imported, payout, clerk_a):
    import json
    from io import StringIO

    from django.core.management import call_command

    _roster, rows = imported
    number, id_hash = _person(rows, 4)
    _load("death", clerk_a, [(id_hash, {"event_date": dt.date(2026, 5, 4)})])
    out = StringIO()
    call_command("run_checks", payout.code, "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["payout"] == payout.code
    assert [entry["rule"] for entry in report["rules_run"]][:3] == ["deceased", "not_registered", "name_mismatch"]
    assert report["rules_run"][0]["findings"] == 1
    (finding,) = report["findings"]
    payment = Payment.objects.get(payout=payout, recipient__id_hash=id_hash)
    assert finding == {
        "rule": "deceased",
        "severity": "block",
        "status": "open",
        "payment_ref": f"{payout.code}-{payment.row:06d}",
        "roster_row": payment.row,
        "evidence": {"source": "death", "load": finding["evidence"]["load"], "row": 2, "date_of_death": "2026-05-04"},
    }
    assert number not in out.getvalue()

    text = StringIO()
    call_command("run_checks", payout.code, stdout=text)
    assert "1 findings stand, 1 open and blocking submission." in text.getvalue()


@pytest.mark.parametrize("change", ["reference_replaced", "roster_replaced"])
def test_a_run_is_void_when_its_inputs_change_under_it(imported, payout, clerk_a, change):
    from checks.engine import execute_run
    from checks.services import queue_run
    from jobs.registry import JobError
    from recipients.enums import RosterStatus
    from recipients.models import Roster

    _roster, rows = imported
    _n, id_hash = _person(rows, 0)
    _load("household", clerk_a, [(id_hash, {"name": "某某", "status": "active"})])
    run = queue_run(acting_user=clerk_a, payout=payout, enqueue=False)

    def meanwhile(done, total):
        if done == 1 and change == "reference_replaced":
            # A new household list arrives after the first rule: reading the old one's rows now would be wrong.
            _load("household", clerk_a, [(id_hash, {"name": "某某", "status": "active"})])
        if done == 1 and change == "roster_replaced":
            Roster.objects.create(
                payout=payout, department=payout.department, filename="新.xlsx", size=1, sha256="0" * 64,
                stored_file="x.bin", uploaded_by=clerk_a, status=RosterStatus.IMPORTED,
            )  # fmt: skip

    with pytest.raises(JobError) as error:
        execute_run(run, meanwhile)
    assert error.value.code == change
    run.refresh_from_db()
    assert run.status == RunStatus.SUPERSEDED and run.error_code == change
    assert "checks_stale" in [code for code, _m in submission_blockers(payout)]


def test_a_new_reference_load_rechecks_every_draft_payout(
    imported, payout, finance_admin, django_capture_on_commit_callbacks
):
    """The death office's new list stops this month's payment without anyone pressing 重新比对."""
    from checks.references import reference_upload

    _roster, rows = imported
    number, _hash = _person(rows, 2)
    runs_before = CheckRun.objects.filter(payout=payout).count()
    csv = f"身份证号,姓名,死亡日期\n{number},某某,2026-06-01\n".encode()
    # Eager tasks: the import, and the check runs it queues, run as soon as their transactions commit.
    with django_capture_on_commit_callbacks(execute=True):
        reference_upload(
            acting_user=finance_admin,
            source=ReferenceSource.objects.get(code="death"),
            as_of=dt.date(2026, 11, 20),
            filename="death.csv",
            data=csv,
        )
    assert CheckRun.objects.filter(payout=payout).count() == runs_before + 1
    latest = CheckRun.objects.filter(payout=payout).order_by("-pk").first()
    assert latest.status == RunStatus.DONE
    finding = Finding.objects.get(payout=payout, rule="deceased")
    assert finding.status == FindingStatus.OPEN and finding.run_id == latest.pk
