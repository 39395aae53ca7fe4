"""Recall and precision of every rule over a county with planted cases (bench.synth_checks).

The county: 2,000 payments in the draft payout under check, 5 planted cases per rule (each meeting exactly one rule;
a shared-account case is two or three payments), 26 kinds of near miss (clean payments one step short of a rule)
twice each, three payments out of the checks' reach (cancelled, stopped), and the reference loads and other
payouts the rules compare against — real keyed hashes, the default database (SQLite, or PostgreSQL in CI).

What the engine is held to: every planted payment found under its rule (recall 100 % for each rule); at least
99 % of all findings are planted ones (at the time of writing: 68 findings, 68 of them planted, none on a clean
payment or a near miss); nothing at all about the payments the checks must not see; and a report that never
shows a full ID number.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from django.db import transaction

from bench.synth_checks import PLANTED_VARIANTS, build_check_county
from checks.engine import run_checks
from checks.models import Finding
from checks.selectors import findings_report
from disbursement.models import Payout
from org.models import User

# The tests only read what the module fixture kept; the marker makes pytest-django set up the test database
# before that fixture (it sets up only the databases some test asks for).
pytestmark = pytest.mark.django_db

PLANTED_PER_RULE = 5
# An 18-character ID number standing alone (not a run of digits inside a longer token such as a hash).
FULL_ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")


@pytest.fixture(scope="module")
def checked(django_db_setup, django_db_blocker):
    """Build the county, run the checks once, keep what they found as plain data, and roll everything back."""
    with django_db_blocker.unblock(), transaction.atomic():
        county = build_check_county(
            seed=20261,
            payments=2_000,
            registrations=2_400,
            deaths=150,
            public_employees=150,
            rolls=250,
            planted_per_rule=PLANTED_PER_RULE,
            real_hashes=True,
        )
        payout = Payout.objects.get(pk=county.payout_id)
        run = run_checks(payout=payout, acting_user=User.objects.get(pk=county.clerk_id))
        findings = list(Finding.objects.filter(payout=payout).values_list("rule", "payment_id", "status"))
        report = findings_report(payout)
        rules_run = run.rules_run
        transaction.set_rollback(True)
    return county, findings, report, rules_run


def _describe(county, pairs) -> str:
    return ", ".join(sorted(f"{rule}@{county.labels.get(pid, 'clean')}#{pid}" for rule, pid in pairs)) or "none"


def test_every_rule_ran(checked):
    _county, _findings, _report, rules_run = checked
    skipped = {entry["rule"]: entry["skipped"] for entry in rules_run if "skipped" in entry}
    assert skipped == {}, f"rules skipped over a county with every source loaded: {skipped}"
    assert {entry["rule"] for entry in rules_run} == set(PLANTED_VARIANTS)


def test_every_planted_payment_is_found_under_its_rule(checked):
    county, findings, _report, _rules = checked
    found = defaultdict(set)
    for rule, payment_id, _status in findings:
        found[rule].add(payment_id)
    for rule, planted in county.planted.items():
        assert len(planted) >= PLANTED_PER_RULE, f"{rule}: only {len(planted)} planted"
        missed = planted - found[rule]
        assert not missed, (
            f"{rule}: recall {len(planted) - len(missed)}/{len(planted)}; "
            f"missed {_describe(county, [(rule, pid) for pid in missed])}"
        )


def test_findings_are_the_planted_ones(checked):
    county, findings, _report, _rules = checked
    true = [(rule, pid) for rule, pid, _s in findings if pid in county.planted.get(rule, ())]
    false = [(rule, pid) for rule, pid, _s in findings if pid not in county.planted.get(rule, ())]
    total = len(findings)
    precision = len(true) / total if total else 0.0
    assert precision >= 0.99, (
        f"precision {precision:.2%}: {len(true)} of {total} findings planted; "
        f"{len(false)} false: {_describe(county, false)}"
    )
    # Findings on clean payments (near misses included) get no more than that 1 % allowance (none at 68 findings),
    # and no finding points outside the payout's live payments.
    on_clean = [(rule, pid) for rule, pid in false if pid in county.clean]
    assert len(on_clean) <= len(findings) // 100, (
        f"{len(on_clean)} findings on clean rows: {_describe(county, on_clean)}"
    )
    known = county.clean | {pid for pids in county.planted.values() for pid in pids}
    strays = [(rule, pid) for rule, pid, _s in findings if pid not in known]
    assert not strays, f"findings on payments the checks must not see: {_describe(county, strays)}"


def test_the_report_never_shows_a_full_id_number(checked):
    county, findings, report, _rules = checked
    text = json.dumps(report, ensure_ascii=False, default=str)
    assert len(report["findings"]) == len(findings)
    assert len(county.id_numbers) >= 2_000
    leaked = [number for number in county.id_numbers if number in text]
    assert not leaked, f"{len(leaked)} full ID numbers in the report, e.g. {leaked[0][:6]}…"
    assert not FULL_ID.findall(text)
