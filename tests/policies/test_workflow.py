"""Keeping the yearly list: drafting, review, publication, the freeze, and who may do what."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from audit.models import AuditEvent
from org.enums import Role
from policies.enums import ListStatus, ProposalKind, ProposalStatus
from policies.models import PolicyEntry, PolicyList
from policies.selectors import list_diff
from policies.services import (
    policy_entry_update,
    policy_list_publish,
    policy_list_return,
    policy_list_start,
    policy_list_submit,
    policy_proposal_create,
    policy_proposal_decide,
)
from tests.policies.factories import draft_list, entry_values


@pytest.fixture
def list_2025(finance_admin, department_a, department_b):
    return draft_list(
        finance_admin,
        2025,
        [
            ("MZ-01", department_a, {}),
            ("MZ-02", department_a, {"name": "城市低保", "standard_amount": Decimal("560.00")}),
            ("NY-01", department_b, {"name": "耕地地力保护补贴", "standard_unit": "元/亩", "frequency": "yearly"}),
        ],
    )


@pytest.fixture
def published_2025(list_2025, finance_admin, finance_reviewer):
    policy_list_submit(acting_user=finance_admin, policy_list=list_2025)
    return policy_list_publish(acting_user=finance_reviewer, policy_list=list_2025)


def _entry(policy_list, code):
    return PolicyEntry.objects.get(policy_list=policy_list, policy__code=code)


def test_finance_drafts_submits_and_a_second_person_publishes(published_2025, finance_admin, finance_reviewer):
    published_2025.refresh_from_db()
    assert published_2025.status == ListStatus.PUBLISHED
    assert (published_2025.submitted_by, published_2025.published_by) == (finance_admin, finance_reviewer)
    assert set(PolicyEntry.objects.filter(policy_list=published_2025).values_list("frozen", flat=True)) == {True}
    actions = list(
        AuditEvent.objects.filter(object_type="policies.policylist").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["policy_list.start", "policy_list.submit", "policy_list.publish"]


def test_the_submitter_cannot_publish_their_own_list(list_2025, finance_admin):
    finance_admin_who_reviews = finance_admin
    policy_list_submit(acting_user=finance_admin, policy_list=list_2025)
    finance_admin.role = Role.FINANCE_REVIEWER  # even holding the reviewer role, one person cannot sign twice
    finance_admin.save(update_fields=["role"])
    with pytest.raises(ValidationError) as caught:
        policy_list_publish(acting_user=finance_admin_who_reviews, policy_list=list_2025)
    assert caught.value.code == "maker_checker"
    list_2025.refresh_from_db()
    assert list_2025.status == ListStatus.IN_REVIEW


def test_the_database_refuses_a_list_published_by_its_submitter(list_2025, finance_admin):
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyList.objects.filter(pk=list_2025.pk).update(
            status=ListStatus.PUBLISHED,
            submitted_by=finance_admin,
            published_by=finance_admin,
            published_at="2025-01-01T00:00:00Z",
        )


def test_a_reviewer_returns_a_list_with_a_reason_and_it_can_be_edited_again(list_2025, finance_admin, finance_reviewer):
    policy_list_submit(acting_user=finance_admin, policy_list=list_2025)
    with pytest.raises(ValidationError):
        policy_entry_update(
            acting_user=finance_admin, entry=_entry(list_2025, "MZ-01"), values={"standard_amount": Decimal("120.00")}
        )
    with pytest.raises(ValidationError) as caught:
        policy_list_return(acting_user=finance_reviewer, policy_list=list_2025, reason="  ")
    assert caught.value.code == "reason_required"
    policy_list_return(acting_user=finance_reviewer, policy_list=list_2025, reason="高龄津贴标准待确认")
    policy_entry_update(
        acting_user=finance_admin, entry=_entry(list_2025, "MZ-01"), values={"standard_amount": Decimal("120.00")}
    )
    assert _entry(list_2025, "MZ-01").standard_amount == Decimal("120.00")


def test_next_year_starts_as_a_copy_and_editing_it_leaves_the_published_year_unchanged(published_2025, finance_admin):
    list_2026 = policy_list_start(acting_user=finance_admin, year=2026)
    assert list_2026.entries.count() == 3
    policy_entry_update(
        acting_user=finance_admin,
        entry=_entry(list_2026, "MZ-02"),
        values={"standard_amount": Decimal("580.00"), "target_group": "城市低保对象（调整）"},
    )

    assert _entry(published_2025, "MZ-02").standard_amount == Decimal("560.00")
    assert _entry(published_2025, "MZ-02").target_group == "80周岁以上老年人"
    assert _entry(list_2026, "MZ-02").standard_amount == Decimal("580.00")


def test_a_published_list_cannot_be_edited_through_the_service(published_2025, finance_admin):
    with pytest.raises(ValidationError) as caught:
        policy_entry_update(
            acting_user=finance_admin,
            entry=_entry(published_2025, "MZ-01"),
            values={"standard_amount": Decimal("1.00")},
        )
    assert caught.value.code == "list_not_draft"


def test_the_database_refuses_to_change_a_frozen_entry(published_2025):
    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyEntry.objects.filter(policy_list=published_2025).update(standard_amount=Decimal("1.00"))
    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyEntry.objects.filter(policy_list=published_2025).delete()
    assert _entry(published_2025, "MZ-02").standard_amount == Decimal("560.00")


def test_the_database_refuses_to_reopen_a_published_list(published_2025):
    with pytest.raises(DatabaseError), transaction.atomic():
        PolicyList.objects.filter(pk=published_2025.pk).update(status=ListStatus.DRAFT)
    published_2025.refresh_from_db()
    assert published_2025.status == ListStatus.PUBLISHED


def test_the_diff_shows_added_withdrawn_and_changed_policies(published_2025, finance_admin, department_a):
    list_2026 = policy_list_start(acting_user=finance_admin, year=2026)
    _entry(list_2026, "NY-01").delete()
    policy_entry_update(
        acting_user=finance_admin, entry=_entry(list_2026, "MZ-02"), values={"standard_amount": Decimal("580.00")}
    )
    from policies.services import policy_entry_create

    policy_entry_create(
        acting_user=finance_admin,
        policy_list=list_2026,
        code="MZ-03",
        values=entry_values(department_a, name="困境儿童生活补贴"),
    )
    diff = list_diff(list_2026)
    assert diff.previous_year == 2025
    assert [entry.policy.code for entry in diff.added] == ["MZ-03"]
    assert [entry.policy.code for entry in diff.withdrawn] == ["NY-01"]
    assert [(entry.policy.code, changes) for entry, changes in diff.changed] == [
        ("MZ-02", [("standard_amount", "560.00", "580.00")])
    ]


def test_a_duplicate_code_in_a_list_is_refused(list_2025, finance_admin, department_a):
    from policies.services import policy_entry_create

    with pytest.raises(ValidationError) as caught:
        policy_entry_create(
            acting_user=finance_admin, policy_list=list_2025, code="MZ-01", values=entry_values(department_a)
        )
    assert caught.value.code == "duplicate_code"
    assert list_2025.entries.count() == 3


def test_funding_shares_must_add_up_to_100_in_the_database(list_2025):
    with pytest.raises(IntegrityError), transaction.atomic():
        PolicyEntry.objects.filter(policy_list=list_2025).update(share_county=Decimal("90"))


# --- Who may do what ---------------------------------------------------------------------------


def test_a_department_clerk_cannot_edit_a_policy_directly(list_2025, clerk_a):
    with pytest.raises(PermissionDenied):
        policy_entry_update(
            acting_user=clerk_a, entry=_entry(list_2025, "MZ-01"), values={"standard_amount": Decimal("1.00")}
        )


def test_a_department_clerk_can_neither_submit_nor_publish(list_2025, clerk_a, finance_admin):
    with pytest.raises(PermissionDenied):
        policy_list_submit(acting_user=clerk_a, policy_list=list_2025)
    policy_list_submit(acting_user=finance_admin, policy_list=list_2025)
    with pytest.raises(PermissionDenied):
        policy_list_publish(acting_user=clerk_a, policy_list=list_2025)
    list_2025.refresh_from_db()
    assert list_2025.status == ListStatus.IN_REVIEW


def test_an_auditor_cannot_change_anything(list_2025, auditor):
    with pytest.raises(PermissionDenied):
        policy_list_submit(acting_user=auditor, policy_list=list_2025)


def test_a_clerk_proposes_a_change_to_their_own_policy_and_finance_applies_it(list_2025, clerk_a, finance_admin):
    entry = _entry(list_2025, "MZ-02")
    proposal = policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2025,
        kind=ProposalKind.CHANGE,
        policy=entry.policy,
        payload={"standard_amount": "580.00"},
        reason="省定标准提高",
    )
    assert _entry(list_2025, "MZ-02").standard_amount == Decimal("560.00")  # nothing changes until approved
    policy_proposal_decide(acting_user=finance_admin, proposal=proposal, approve=True)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    assert _entry(list_2025, "MZ-02").standard_amount == Decimal("580.00")


def test_outsider_cannot_propose_for_another_departments_policy(list_2025, outsider):
    with pytest.raises(PermissionDenied):
        policy_proposal_create(
            acting_user=outsider,
            policy_list=list_2025,
            kind=ProposalKind.WITHDRAW,
            policy=_entry(list_2025, "MZ-01").policy,
            reason="不再执行",
        )
    assert not list_2025.proposals.exists()


def test_a_clerk_proposes_a_new_policy_and_a_withdrawal(list_2025, clerk_a, finance_admin):
    add = policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2025,
        kind=ProposalKind.ADD,
        proposed_code="MZ-09",
        payload={
            "name": "困境儿童生活补贴",
            "level": "county",
            "target_group": "困境儿童",
            "basis_title": "困境儿童保障通知",
            "standard_amount": "300.00",
            "standard_unit": "元/人·月",
            "frequency": "monthly",
        },
        reason="新出台政策",
    )
    withdraw = policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2025,
        kind=ProposalKind.WITHDRAW,
        policy=_entry(list_2025, "MZ-01").policy,
        reason="并入其他政策",
    )
    policy_proposal_decide(acting_user=finance_admin, proposal=add, approve=True)
    policy_proposal_decide(acting_user=finance_admin, proposal=withdraw, approve=True)
    codes = set(list_2025.entries.values_list("policy__code", flat=True))
    assert codes == {"MZ-02", "MZ-09", "NY-01"}
    assert _entry(list_2025, "MZ-09").department == clerk_a.department


def test_a_proposal_with_invalid_content_is_refused_at_once(list_2025, clerk_a):
    with pytest.raises(ValidationError):
        policy_proposal_create(
            acting_user=clerk_a,
            policy_list=list_2025,
            kind=ProposalKind.ADD,
            proposed_code="MZ-09",
            payload={"name": "缺字段的政策"},
            reason="x",
        )
    assert not list_2025.proposals.exists()


def test_a_rejection_needs_a_reason_and_a_decision_is_made_once(list_2025, clerk_a, finance_admin):
    proposal = policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2025,
        kind=ProposalKind.WITHDRAW,
        policy=_entry(list_2025, "MZ-01").policy,
        reason="并入其他政策",
    )
    with pytest.raises(ValidationError):
        policy_proposal_decide(acting_user=finance_admin, proposal=proposal, approve=False, note="")
    policy_proposal_decide(acting_user=finance_admin, proposal=proposal, approve=False, note="年中不调整")
    with pytest.raises(ValidationError) as caught:
        policy_proposal_decide(acting_user=finance_admin, proposal=proposal, approve=True)
    assert caught.value.code == "proposal_decided"
    assert list_2025.entries.filter(policy__code="MZ-01").exists()


def test_a_clerk_cannot_decide_a_proposal(list_2025, clerk_a, reviewer_a):
    proposal = policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2025,
        kind=ProposalKind.WITHDRAW,
        policy=_entry(list_2025, "MZ-01").policy,
        reason="并入其他政策",
    )
    for user in (clerk_a, reviewer_a):
        with pytest.raises(PermissionDenied):
            policy_proposal_decide(acting_user=user, proposal=proposal, approve=True)
    proposal.refresh_from_db()
    assert proposal.status == ProposalStatus.PENDING
