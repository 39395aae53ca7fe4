"""Shared fixtures (a pytest plugin): a published policy, a payout of department A, roster files made by the
synthetic generator, and uploading one with its import (and the checks after it) run at once."""

from decimal import Decimal

import pytest

from bench import synth
from disbursement.services import payout_create
from policies.services import policy_list_publish, policy_list_submit
from recipients.models import Roster
from recipients.services import roster_upload
from tests.policies.factories import draft_list


@pytest.fixture
def published_policy(finance_admin, finance_reviewer, department_a):
    policy_list = draft_list(finance_admin, 2026, [("MZ-01", department_a, {"name": "困难群众生活补贴"})])
    policy_list_submit(acting_user=finance_admin, policy_list=policy_list)
    policy_list_publish(acting_user=finance_reviewer, policy_list=policy_list)
    return policy_list.entries.get().policy


@pytest.fixture
def payout(clerk_a, published_policy, county):
    return payout_create(
        acting_user=clerk_a,
        policy=published_policy,
        period="2026-11",
        region=county,
        budget_document="二七财预〔2026〕88号",
        budget_amount=Decimal("1000000.00"),
    )


@pytest.fixture
def synth_county():
    return synth.make_county(7, townships=3, villages_per_township=3)


@pytest.fixture
def roster_file(tmp_path, synth_county):
    """Writes a roster of n rows (with the given error rate) and returns (path, rows)."""

    def make(n=40, *, error_rate=0.0, seed=11, name="roster.xlsx"):
        rows = list(synth.iter_roster_rows(seed, synth_county, n, error_rate=error_rate))
        path = tmp_path / name
        if name.endswith(".csv"):
            synth.write_roster_csv(rows, path)
        else:
            synth.write_roster_xlsx(rows, path)
        return path, rows

    return make


@pytest.fixture
def upload(clerk_a, payout, django_capture_on_commit_callbacks):
    def run(path, *, user=None):
        with django_capture_on_commit_callbacks(execute=True):
            roster = roster_upload(
                acting_user=user or clerk_a, payout=payout, filename=path.name, data=path.read_bytes()
            )
        return Roster.objects.select_related("job").get(pk=roster.pk)

    return run
