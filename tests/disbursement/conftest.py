"""Fixtures for the review tests: the reviewers of each step, and payouts ready to submit (roster imported, checks
run, blocking findings kept)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from checks.enums import FindingStatus, Severity
from checks.models import Finding
from checks.services import finding_keep
from disbursement.review import payout_submit
from disbursement.services import payout_create
from org.enums import Role
from recipients.services import roster_upload
from tests.factories import UserFactory


@pytest.fixture
def township_reviewer(department_a, township):
    return UserFactory(
        username="township_reviewer", role=Role.TOWNSHIP_REVIEWER, department=department_a, region=township
    )


@pytest.fixture
def other_township_reviewer(department_a, other_township):
    """A township reviewer of department A in another township: not this payout's reviewer."""
    return UserFactory(
        username="other_township_reviewer", role=Role.TOWNSHIP_REVIEWER, department=department_a, region=other_township
    )


@pytest.fixture
def reviewer_b(department_b):
    return UserFactory(username="reviewer_b", role=Role.DEPARTMENT_REVIEWER, department=department_b)


@pytest.fixture
def reviewer_a2(department_a):
    return UserFactory(username="reviewer_a2", role=Role.DEPARTMENT_REVIEWER, department=department_a)


@pytest.fixture
def ready(roster_file, django_capture_on_commit_callbacks):
    """Uploads a roster of n people (100.00 each) to the payout as `user`, runs its checks, keeps what blocks."""

    def make(payout, user, n: int = 5):
        # Other people for each payout: two payouts of one policy and period never pay the same person.
        path, _rows = roster_file(n, seed=1000 + payout.pk, name=f"{payout.code}.xlsx")
        with django_capture_on_commit_callbacks(execute=True):
            roster_upload(acting_user=user, payout=payout, filename=path.name, data=path.read_bytes())
        blocking = Finding.objects.filter(payout=payout, status=FindingStatus.OPEN, severity=Severity.BLOCK)
        for finding in blocking.order_by("pk"):
            finding_keep(acting_user=user, finding=finding, reason="已入户核实")
        return payout

    return make


@pytest.fixture
def township_payout(township_clerk, published_policy, township):
    return payout_create(
        acting_user=township_clerk,
        policy=published_policy,
        period="2026-11",
        region=township,
        budget_document="二七财预〔2026〕89号",
        budget_amount=Decimal("100000.00"),
    )


@pytest.fixture
def submitted_township(township_payout, township_clerk, ready):
    """A township payout the township clerk submitted: at step 1 (乡镇审核)."""
    ready(township_payout, township_clerk)
    return payout_submit(acting_user=township_clerk, payout=township_payout)


@pytest.fixture
def submitted_county(payout, clerk_a, ready):
    """A county payout the department clerk submitted: township steps and the clerk's own step skipped."""
    ready(payout, clerk_a)
    return payout_submit(acting_user=clerk_a, payout=payout)
