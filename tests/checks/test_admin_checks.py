"""Cross-checks in the browser admin: the payout page's 数据比对 section and its buttons, the findings list and the
two decisions, the kept evidence, finance's rule settings and the list of runs."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from audit.models import AuditEvent
from checks.enums import FindingStatus, Severity
from checks.models import CheckRun, Finding, PolicyRule, Rule
from checks.services import checks_start, finding_keep
from disbursement.enums import PaymentStatus, PayoutStatus
from disbursement.models import Payment
from tests.checks.helpers import assert_no_id_number, id_numbers, plant_death


@pytest.fixture
def imported(roster_file, upload):
    path, rows = roster_file(12)
    upload(path)
    return rows


@pytest.fixture
def dead(imported, payout, clerk_a, django_capture_on_commit_callbacks):
    plant_death(clerk_a, payout)
    with django_capture_on_commit_callbacks(execute=True):
        checks_start(acting_user=clerk_a, payout=payout)
    return Finding.objects.select_related("payment").get(payout=payout, rule="deceased")


def page_of(client, url) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- The payout page ---------------------------------------------------------------------------------------------


def test_the_payout_page_shows_the_latest_run_findings_and_what_blocks_submission(login, clerk_a, payout, dead):
    page = page_of(login(clerk_a), f"/admin/disbursement/payout/{payout.pk}/change/")
    assert "数据比对" in page and "已完成" in page and "比对 12 条发放明细" in page
    assert "已死亡或火化" in page and "1 条疑点" in page
    assert "比对数据未导入" in page  # the household list was never loaded
    assert "本政策不适用" in page  # this policy does not exclude public employees
    assert "还有 1 条阻断级疑点未处理（剔除或核实保留）。" in page
    assert f"/admin/checks/finding/?payout__id__exact={payout.pk}&amp;rule=deceased" in page
    assert 'id="checks-start"' in page and "重新比对" in page
    assert 'id="payout-submit"' in page


@pytest.mark.parametrize("actor", ["reviewer_a", "auditor"])
def test_reviewer_and_auditor_see_the_section_without_buttons_and_may_not_press_them(
    request, actor, login, payout, dead
):
    client = login(request.getfixturevalue(actor))
    page = page_of(client, f"/admin/disbursement/payout/{payout.pk}/change/")
    assert "数据比对" in page and "已死亡或火化" in page
    assert 'id="checks-start"' not in page and 'id="payout-submit"' not in page
    runs = CheckRun.objects.count()
    assert client.post(f"/admin/disbursement/payout/{payout.pk}/checks/").status_code == 403
    assert client.post(f"/admin/disbursement/payout/{payout.pk}/submit/").status_code == 403
    assert CheckRun.objects.count() == runs
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.DRAFT


def test_the_clerk_reruns_the_checks_from_the_payout_page(
    login, clerk_a, payout, dead, django_capture_on_commit_callbacks
):
    client = login(clerk_a)
    before = CheckRun.objects.filter(payout=payout).count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/disbursement/payout/{payout.pk}/checks/", follow=True)
    assert "已开始重新比对。" in messages_of(response)
    run = CheckRun.objects.filter(payout=payout).order_by("-pk").first()
    assert CheckRun.objects.filter(payout=payout).count() == before + 1
    assert AuditEvent.objects.filter(action="checks.start", object_id=str(run.pk), actor_label="clerk_a").exists()


def test_a_run_in_progress_shows_a_progress_bar_following_its_job(login, clerk_a, payout, imported):
    run = checks_start(acting_user=clerk_a, payout=payout)  # queued: its job runs only after the commit
    page = page_of(login(clerk_a), f"/admin/disbursement/payout/{payout.pk}/change/")
    assert "排队中" in page
    assert f'data-job-url="/api/v1/jobs/{run.job_id}/"' in page
    assert "数据比对尚未完成。" in page


def test_submit_is_refused_with_the_blockers_then_allowed_after_keeping(login, clerk_a, payout, dead):
    client = login(clerk_a)
    refused = client.post(f"/admin/disbursement/payout/{payout.pk}/submit/", follow=True)
    assert messages_of(refused) == ["不能提交审核：还有 1 条阻断级疑点未处理（剔除或核实保留）。"]
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.DRAFT

    client.post(f"/admin/checks/finding/{dead.pk}/keep/", {"reason": "本人到场核实"})
    submitted = client.post(f"/admin/disbursement/payout/{payout.pk}/submit/", follow=True)
    assert "已提交审核。" in messages_of(submitted)
    payout.refresh_from_db()
    assert payout.status == PayoutStatus.SUBMITTED
    assert AuditEvent.objects.filter(action="payout.submit", object_id=str(payout.pk)).exists()
    page = submitted.content.decode()
    assert 'id="payout-submit"' not in page and 'id="checks-start"' not in page


def test_outsider_cannot_rerun_or_submit_anothers_payout(login, outsider, payout, dead):
    client = login(outsider)
    assert client.post(f"/admin/disbursement/payout/{payout.pk}/checks/").status_code == 404
    assert client.post(f"/admin/disbursement/payout/{payout.pk}/submit/").status_code == 404


# --- The findings list and one finding ----------------------------------------------------------------------------


def test_the_findings_list_filters_and_reads_plainly_without_id_numbers(login, clerk_a, payout, imported, dead):
    client = login(clerk_a)
    page = page_of(client, f"/admin/checks/finding/?payout__id__exact={payout.pk}&rule=deceased")
    assert payout.code in page
    assert dead.recipient.name in page and dead.recipient.id_masked in page
    assert "已死亡或火化" in page and "阻断" in page and "待处理" in page
    assert "于 2026-03-01 死亡或火化（死亡火化信息第 2 行）。" in page
    assert_no_id_number(page, id_numbers(imported))
    filtered = page_of(client, f"/admin/checks/finding/?payout__id__exact={payout.pk}&status__exact=kept")
    assert dead.recipient.id_masked not in filtered


def test_outsider_sees_no_findings(login, outsider, dead):
    client = login(outsider)
    page = page_of(client, "/admin/checks/finding/")
    assert dead.recipient.id_masked not in page
    assert client.get(f"/admin/checks/finding/{dead.pk}/change/").status_code == 302  # "does not exist"
    assert client.post(f"/admin/checks/finding/{dead.pk}/keep/", {"reason": "x"}).status_code == 404
    assert client.post(f"/admin/checks/finding/{dead.pk}/remove/").status_code == 404
    assert client.get(f"/admin/checks/finding/{dead.pk}/attachment/").status_code == 404
    dead.refresh_from_db()
    assert dead.status == FindingStatus.OPEN


def test_the_clerk_keeps_a_finding_with_a_reason_and_a_document(login, clerk_a, dead):
    client = login(clerk_a)
    page = page_of(client, f"/admin/checks/finding/{dead.pk}/change/")
    assert 'id="finding-keep"' in page and 'id="finding-remove"' in page

    refused = client.post(f"/admin/checks/finding/{dead.pk}/keep/", {"reason": "  "}, follow=True)
    assert "保留须填写核实情况和理由。" in messages_of(refused)
    dead.refresh_from_db()
    assert dead.status == FindingStatus.OPEN

    response = client.post(
        f"/admin/checks/finding/{dead.pk}/keep/",
        {"reason": "入户核实，本人健在", "attachment": SimpleUploadedFile("入户记录.pdf", b"%PDF-1.4 visit")},
        follow=True,
    )
    assert "已核实保留。" in messages_of(response)
    dead.refresh_from_db()
    assert dead.status == FindingStatus.KEPT and dead.decided_by == clerk_a
    assert dead.attachment_name == "入户记录.pdf" and dead.attachment_file
    event = AuditEvent.objects.get(action="finding.keep")
    assert event.actor_label == "clerk_a" and event.after["reason"] == "入户核实，本人健在"


def test_the_clerk_removes_a_finding_and_its_payment_is_cancelled(login, clerk_a, dead):
    client = login(clerk_a)
    response = client.post(f"/admin/checks/finding/{dead.pk}/remove/", {"note": "确已死亡"}, follow=True)
    assert "已剔除：该发放明细已取消，其上的疑点一并关闭。" in messages_of(response)
    dead.refresh_from_db()
    assert dead.status == FindingStatus.REMOVED and dead.reason == "确已死亡"
    assert Payment.objects.get(pk=dead.payment_id).status == PaymentStatus.CANCELLED
    assert AuditEvent.objects.get(action="finding.remove").after["note"] == "确已死亡"
    page = response.content.decode()
    assert 'id="finding-keep"' not in page  # a removed finding is closed


@pytest.mark.parametrize("actor", ["reviewer_a", "auditor"])
def test_reviewer_and_auditor_see_the_kept_reason_and_document_but_cannot_decide(request, actor, login, clerk_a, dead):
    finding_keep(acting_user=clerk_a, finding=dead, reason="死亡信息有误", attachment=("证明.pdf", b"%PDF proof"))
    client = login(request.getfixturevalue(actor))
    page = page_of(client, f"/admin/checks/finding/{dead.pk}/change/")
    assert "死亡信息有误" in page and "核实后保留" in page and "证明.pdf" in page
    assert 'id="finding-keep"' not in page and 'id="finding-remove"' not in page
    download = client.get(f"/admin/checks/finding/{dead.pk}/attachment/")
    assert download.status_code == 200 and download.content == b"%PDF proof"
    assert download["Content-Disposition"].startswith("attachment;") and "inline" not in download["Content-Disposition"]
    assert client.post(f"/admin/checks/finding/{dead.pk}/remove/").status_code == 403
    assert client.post(f"/admin/checks/finding/{dead.pk}/keep/", {"reason": "x"}).status_code == 403
    dead.refresh_from_db()
    assert dead.status == FindingStatus.KEPT and dead.reason == "死亡信息有误"


def test_no_attachment_is_not_found(login, clerk_a, dead):
    assert login(clerk_a).get(f"/admin/checks/finding/{dead.pk}/attachment/").status_code == 404


# --- Rules, per-policy settings, runs ----------------------------------------------------------------------------


def test_finance_softens_a_rule_and_the_change_is_audited(login, finance_admin):
    rule = Rule.objects.get(code="shared_account")
    response = login(finance_admin).post(
        f"/admin/checks/rule/{rule.pk}/change/",
        {"enabled": "on", "severity": "block", "params": '{"min_people": 4}', "description": rule.description},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.severity == Severity.BLOCK and rule.params == {"min_people": 4}
    event = AuditEvent.objects.get(action="rule.save")
    assert event.before == {"severity": "warn", "params": {"min_people": 3}}
    assert event.after == {"rule": "shared_account", "severity": "block", "params": {"min_people": 4}}


def test_rule_params_must_be_an_object(login, finance_admin):
    rule = Rule.objects.get(code="shared_account")
    response = login(finance_admin).post(
        f"/admin/checks/rule/{rule.pk}/change/", {"enabled": "on", "severity": "warn", "params": "[3]"}
    )
    assert response.status_code == 200 and "参数须为 JSON 对象" in response.content.decode()
    assert not AuditEvent.objects.filter(action="rule.save").exists()


def test_a_clerk_sees_the_rules_but_cannot_change_them(login, clerk_a):
    rule = Rule.objects.get(code="deceased")
    client = login(clerk_a)
    assert "已死亡或火化" in page_of(client, "/admin/checks/rule/")
    response = client.post(f"/admin/checks/rule/{rule.pk}/change/", {"severity": "warn", "params": "{}"})
    assert response.status_code == 403
    assert Rule.objects.get(pk=rule.pk).severity == Severity.BLOCK


def test_finance_overrides_a_rule_for_one_policy_and_removes_the_override(login, finance_admin, published_policy):
    rule = Rule.objects.get(code="deceased")
    client = login(finance_admin)
    response = client.post(
        "/admin/checks/policyrule/add/",
        {"policy": published_policy.pk, "rule": rule.pk, "severity": "warn", "params": "{}"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    setting = PolicyRule.objects.get(policy=published_policy, rule=rule)
    assert setting.enabled is False and setting.severity == Severity.WARN
    added = AuditEvent.objects.get(action="rule.save")
    assert added.before is None
    assert added.after == {
        "policy": published_policy.code,
        "rule": "deceased",
        "enabled": False,
        "severity": "warn",
        "params": {},
    }

    response = client.post(f"/admin/checks/policyrule/{setting.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not PolicyRule.objects.exists()
    removed = AuditEvent.objects.filter(action="rule.save").order_by("-pk").first()
    assert removed.after["removed"] is True and removed.before["severity"] == "warn"


def test_a_clerk_cannot_override_rules(login, clerk_a, published_policy):
    rule = Rule.objects.get(code="deceased")
    response = login(clerk_a).post(
        "/admin/checks/policyrule/add/", {"policy": published_policy.pk, "rule": rule.pk, "severity": "warn"}
    )
    assert response.status_code == 403
    assert not PolicyRule.objects.exists()


def test_the_runs_list_is_read_only_and_scoped(login, clerk_a, outsider, payout, dead):
    run = CheckRun.objects.filter(payout=payout).order_by("-pk").first()
    client = login(clerk_a)
    assert payout.code in page_of(client, "/admin/checks/checkrun/")
    detail = page_of(client, f"/admin/checks/checkrun/{run.pk}/change/")
    assert "已死亡或火化" in detail and "比对数据未导入" in detail
    assert 'name="_save"' not in detail
    assert payout.code not in page_of(login(outsider), "/admin/checks/checkrun/")


def test_rule_settings_are_shown_as_json(login, finance_admin):
    page = page_of(login(finance_admin), "/admin/checks/rule/")
    assert json.dumps({"min_people": 3}) in page.replace("&quot;", '"')
