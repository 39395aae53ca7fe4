"""The policy list in the browser admin, as finance and as departments see it."""

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from policies.enums import ListStatus, ProposalStatus
from policies.models import PolicyEntry, PolicyList, PolicyProposal
from tests.policies.factories import draft_list


@pytest.fixture
def list_2026(finance_admin, department_a, department_b):
    return draft_list(
        finance_admin,
        2026,
        [
            ("MZ-01", department_a, {"name": "高龄津贴（80—89周岁）"}),
            ("NY-01", department_b, {"name": "耕地地力保护补贴", "standard_unit": "元/亩", "frequency": "yearly"}),
        ],
    )


def test_a_clerk_sees_only_their_departments_policies(login, clerk_a, list_2026):
    page = login(clerk_a).get("/admin/policies/policyentry/").content.decode()
    assert "高龄津贴（80—89周岁）" in page
    assert "耕地地力保护补贴" not in page


def test_outsider_cannot_open_another_departments_policy(login, outsider, list_2026):
    entry = PolicyEntry.objects.get(policy__code="MZ-01")
    response = login(outsider).get(f"/admin/policies/policyentry/{entry.pk}/change/")
    assert response.status_code == 302  # the admin's "does not exist" redirect
    assert "高龄津贴" not in response.content.decode()


def test_a_clerk_reads_their_policy_but_cannot_save_it(login, clerk_a, list_2026):
    entry = PolicyEntry.objects.get(policy__code="MZ-01")
    client = login(clerk_a)
    page = client.get(f"/admin/policies/policyentry/{entry.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "申报调整" in page.content.decode()
    response = client.post(f"/admin/policies/policyentry/{entry.pk}/change/", {"name": "改名"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.name == "高龄津贴（80—89周岁）"


def test_finance_edits_a_draft_entry_in_the_admin(login, finance_admin, list_2026, department_a):
    entry = PolicyEntry.objects.get(policy__code="MZ-01")
    client = login(finance_admin)
    form = client.get(f"/admin/policies/policyentry/{entry.pk}/change/").context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(
        {
            "standard_amount": "120.00",
            "eligible_regions": "410103015, 410103100",
            "exclusive_with": "",
            "basis_file": "",
        }
    )
    response = client.post(f"/admin/policies/policyentry/{entry.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    entry.refresh_from_db()
    assert entry.standard_amount == Decimal("120.00")
    assert entry.eligible_regions == ["410103015", "410103100"]


def test_a_clerk_proposes_a_change_in_the_admin_and_finance_approves_it(login, clerk_a, finance_admin, list_2026):
    entry = PolicyEntry.objects.get(policy__code="MZ-01")
    client = login(clerk_a)
    page = client.get(f"/admin/policies/policyproposal/propose/?kind=change&entry={entry.pk}")
    assert page.status_code == 200
    content = page.context["content"]
    # Unchecked boxes are not posted; a 0 share is (0 == False, so test identity, not equality).
    values = {name: content[name].value() for name in content.fields}
    data = {f"entry-{name}": value for name, value in values.items() if value is not None and value is not False}
    data.update(
        {
            "policy_list": list_2026.pk,
            "kind": "change",
            "policy": entry.policy_id,
            "proposed_code": "",
            "reason": "标准提高",
            "entry-standard_amount": "150.00",
            "entry-eligible_regions": "",
            "entry-exclusive_with": "",
        }
    )
    response = client.post("/admin/policies/policyproposal/propose/", data)
    assert response.status_code == 302, (response.context["meta"].errors, response.context["content"].errors)
    proposal = PolicyProposal.objects.get()
    assert proposal.payload == {"standard_amount": "150.00"}
    assert proposal.department == clerk_a.department

    finance = login(finance_admin)
    finance.post(f"/admin/policies/policyproposal/{proposal.pk}/decide/", {"decision": "approve", "reason": ""})
    proposal.refresh_from_db()
    entry.refresh_from_db()
    assert proposal.status == ProposalStatus.APPROVED
    assert entry.standard_amount == Decimal("150.00")


def test_outsider_does_not_see_another_departments_proposals(login, clerk_a, outsider, list_2026):
    from policies.services import policy_proposal_create

    policy_proposal_create(
        acting_user=clerk_a,
        policy_list=list_2026,
        kind="withdraw",
        policy=PolicyEntry.objects.get(policy__code="MZ-01").policy,
        reason="并入",
    )
    page = login(outsider).get("/admin/policies/policyproposal/").content.decode()
    assert "MZ-01" not in page


def test_finance_submits_and_a_reviewer_publishes_with_the_buttons(login, finance_admin, finance_reviewer, list_2026):
    login(finance_admin).post(f"/admin/policies/policylist/{list_2026.pk}/submit/")
    reviewer = login(finance_reviewer)
    page = reviewer.get(f"/admin/policies/policylist/{list_2026.pk}/change/").content.decode()
    assert "审核通过并公布" in page
    reviewer.post(f"/admin/policies/policylist/{list_2026.pk}/publish/")
    list_2026.refresh_from_db()
    assert list_2026.status == ListStatus.PUBLISHED
    assert list_2026.published_by == finance_reviewer


def test_a_clerk_cannot_use_the_publish_button(login, clerk_a, finance_admin, list_2026):
    login(finance_admin).post(f"/admin/policies/policylist/{list_2026.pk}/submit/")
    response = login(clerk_a).post(f"/admin/policies/policylist/{list_2026.pk}/publish/")
    assert response.status_code in (302, 403)
    list_2026.refresh_from_db()
    assert list_2026.status == ListStatus.IN_REVIEW


def test_finance_opens_next_years_list_from_the_admin(login, finance_admin, finance_reviewer, list_2026):
    login(finance_admin).post(f"/admin/policies/policylist/{list_2026.pk}/submit/")
    login(finance_reviewer).post(f"/admin/policies/policylist/{list_2026.pk}/publish/")
    response = login(finance_admin).post("/admin/policies/policylist/start/", {"year": 2027})
    assert response.status_code == 302
    assert PolicyList.objects.get(year=2027).entries.count() == 2
    diff_page = login(finance_admin).get(f"/admin/policies/policylist/{PolicyList.objects.get(year=2027).pk}/diff/")
    assert "2026" in diff_page.content.decode()


def test_finance_imports_a_list_in_the_admin_and_sees_each_bad_row(login, finance_admin, list_2026):
    from policies.exchange import export_entries

    good = export_entries(list_2026.entries.all(), "csv").decode("utf-8-sig")
    lines = good.splitlines()
    bad = "\n".join([lines[0], lines[1].replace("二七区民政局", "不存在的局", 1), *lines[2:]]) + "\n"
    client = login(finance_admin)
    upload = SimpleUploadedFile("清单.csv", bad.encode("utf-8-sig"), content_type="text/csv")
    page = client.post(f"/admin/policies/policylist/{list_2026.pk}/import/", {"file": upload})
    assert page.status_code == 200
    assert "department_unknown" in page.content.decode()
    assert "不存在的局" not in PolicyEntry.objects.values_list("department__name", flat=True)


def test_a_clerk_cannot_open_the_import_page(login, clerk_a, list_2026):
    response = login(clerk_a).post(
        f"/admin/policies/policylist/{list_2026.pk}/import/",
        {"file": SimpleUploadedFile("x.csv", b"a,b\n", content_type="text/csv")},
    )
    assert response.status_code == 403
    assert list_2026.entries.count() == 2


def test_the_admin_export_of_a_clerk_holds_only_their_departments_policies(login, clerk_a, list_2026):
    response = login(clerk_a).get(f"/admin/policies/policylist/{list_2026.pk}/export.csv")
    text = response.content.decode("utf-8-sig")
    assert "高龄津贴（80—89周岁）" in text
    assert "耕地地力保护补贴" not in text


def test_the_admin_diff_reads_in_chinese(login, finance_admin, finance_reviewer, list_2026):
    from policies.services import policy_entry_update

    login(finance_admin).post(f"/admin/policies/policylist/{list_2026.pk}/submit/")
    login(finance_reviewer).post(f"/admin/policies/policylist/{list_2026.pk}/publish/")
    login(finance_admin).post("/admin/policies/policylist/start/", {"year": 2027})
    list_2027 = PolicyList.objects.get(year=2027)
    entry = list_2027.entries.get(policy__code="MZ-01")
    policy_entry_update(
        acting_user=finance_admin, entry=entry, values={"frequency": "yearly", "excludes_public_employees": True}
    )
    page = login(finance_admin).get(f"/admin/policies/policylist/{list_2027.pk}/diff/").content.decode()
    assert "发放频次" in page and "按月" in page and "按年" in page
    assert "财政供养人员不得享受" in page and "否" in page and "是" in page
    assert "yearly" not in page and "True" not in page
