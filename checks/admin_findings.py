"""Findings (比对疑点) in the admin: the clerk's list to clear, the two decisions, the kept evidence; and finance's
rule settings and the read-only list of check runs. Every change goes through a service."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import content_disposition_header
from django.utils.translation import gettext_lazy as _

from checks.enums import FindingStatus, RuleCode
from checks.evidence import describe_evidence, rule_label, rules_run_rows
from checks.models import CheckRun, Finding, PolicyRule, Rule
from checks.rule_settings import policy_rule_remove, policy_rule_save, rule_save
from checks.services import LIVE_PAYMENT_STATUSES, finding_keep, finding_remove
from disbursement.enums import PayoutStatus
from disbursement.models import payment_ref
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from recipients import storage


def _messages(exc: ValidationError) -> str:
    return "；".join(exc.messages)


class RuleListFilter(admin.SimpleListFilter):
    title = _("规则")
    parameter_name = "rule"

    def lookups(self, request, model_admin):
        return [(code, rule_label(code)) for code in RuleCode.values]

    def queryset(self, request, queryset):
        return queryset.filter(rule=self.value()) if self.value() else queryset


class KeepForm(forms.Form):
    reason = forms.CharField(label=_("核实情况和保留理由"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    attachment = forms.FileField(label=_("佐证材料"), required=False)


class RemoveForm(forms.Form):
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "payout_code",
        "roster_row",
        "person",
        "rule_name",
        "severity",
        "status",
        "evidence_text",
        "decided_by",
        "decided_at",
    )
    list_filter = (("payout", admin.RelatedOnlyFieldListFilter), RuleListFilter, "severity", "status")
    list_select_related = ("payout", "recipient", "payment", "decided_by")
    search_fields = ("payout__code", "recipient__name")
    ordering = ("payout", "payment__row", "rule")  # as the clerk's roster reads
    list_per_page = 50
    fields = (
        "payout",
        "reference",
        "person",
        "rule_name",
        "severity",
        "status",
        "evidence_text",
        "first_found_at",
        "decision_note",
        "attachment_link",
        "decided_by",
        "decided_at",
    )
    readonly_fields = ("reference", "person", "rule_name", "evidence_text", "decision_note", "attachment_link")
    change_form_template = "admin/checks/finding/change_form.html"

    @admin.display(description=_("发放项目"), ordering="payout__code")
    def payout_code(self, obj: Finding) -> str:
        return obj.payout.code

    @admin.display(description=_("名册行"), ordering="payment__row")
    def roster_row(self, obj: Finding):
        return obj.payment.row if obj.payment_id else "—"

    @admin.display(description=_("发放明细编号"))
    def reference(self, obj: Finding) -> str:
        return payment_ref(obj.payout.code, obj.payment.row) if obj.payment_id else "—"

    @admin.display(description=_("补贴对象"), ordering="recipient__name")
    def person(self, obj: Finding) -> str:
        return f"{obj.recipient.name}（{obj.recipient.id_masked}）"

    @admin.display(description=_("规则"), ordering="rule")
    def rule_name(self, obj: Finding) -> str:
        return rule_label(obj.rule)

    @admin.display(description=_("依据"))
    def evidence_text(self, obj: Finding) -> str:
        return describe_evidence(obj.rule, obj.evidence)

    @admin.display(description=_("处理理由或说明"))
    def decision_note(self, obj: Finding) -> str:
        # One column holds both: the reason a kept finding needs, or the clerk's note on a removal.
        return obj.reason or "—"

    @admin.display(description=_("佐证材料"))
    def attachment_link(self, obj: Finding):
        if not obj.attachment_file:
            return "—"
        url = reverse("admin:checks_finding_attachment", args=[obj.pk])
        return format_html('<a href="{}" download>{}</a>', url, obj.attachment_name or _("下载"))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/remove/", wrap(self.remove_view), name="checks_finding_remove"),
            path("<int:pk>/keep/", wrap(self.keep_view), name="checks_finding_keep"),
            path("<int:pk>/attachment/", wrap(self.attachment_view), name="checks_finding_attachment"),
            *super().get_urls(),
        ]

    def _decidable(self, request, finding: Finding) -> bool:
        return (
            request.user.has_perm("checks.change_finding")
            and finding.payout.status == PayoutStatus.DRAFT
            and finding.status in (FindingStatus.OPEN, FindingStatus.KEPT)
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        finding = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if finding is not None and self._decidable(request, finding):
            extra_context.update(
                can_decide=True,
                can_remove=finding.payment_id is not None and finding.payment.status in LIVE_PAYMENT_STATUSES,
                keep_form=KeepForm(initial={"reason": finding.reason}),
                remove_form=RemoveForm(),
            )
        if finding is not None:
            extra_context["payout_url"] = reverse("admin:disbursement_payout_change", args=[finding.payout_id])
        return super().change_view(request, object_id, form_url, extra_context=extra_context)

    def _scoped(self, request, pk: int) -> Finding:
        # Another department's finding is "not found", never "forbidden": its existence is not theirs to know.
        return get_object_or_404(self.get_queryset(request), pk=pk)

    def _back(self, finding: Finding):
        return redirect(reverse("admin:checks_finding_change", args=[finding.pk]))

    def _decide(self, request, finding: Finding, action, done: str, **kwargs):
        try:
            action(acting_user=request.user, finding=finding, **kwargs)
        except ValidationError as exc:
            self.message_user(request, _messages(exc), messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return self._back(finding)

    def _may_decide(self, request, pk: int) -> Finding | None:
        """The finding to decide on a POST by someone allowed to decide (403 otherwise); None on a GET."""
        finding = self._scoped(request, pk)
        if request.method != "POST":
            return None
        if not request.user.has_perm("checks.change_finding"):
            raise PermissionDenied
        return finding

    def remove_view(self, request, pk: int):
        finding = self._may_decide(request, pk)
        if finding is None:
            return redirect(reverse("admin:checks_finding_change", args=[pk]))
        form = RemoveForm(request.POST)
        note = form.cleaned_data["note"] if form.is_valid() else ""
        return self._decide(
            request, finding, finding_remove, _("已剔除：该发放明细已取消，其上的疑点一并关闭。"), note=note
        )

    def keep_view(self, request, pk: int):
        finding = self._may_decide(request, pk)
        if finding is None:
            return redirect(reverse("admin:checks_finding_change", args=[pk]))
        form = KeepForm(request.POST, request.FILES)
        if not form.is_valid():
            self.message_user(request, "；".join(m for errors in form.errors.values() for m in errors), messages.ERROR)
            return self._back(finding)
        upload = form.cleaned_data["attachment"]
        attachment = (upload.name, upload.read()) if upload else None
        return self._decide(
            request, finding, finding_keep, _("已核实保留。"), reason=form.cleaned_data["reason"], attachment=attachment
        )

    def attachment_view(self, request, pk: int):
        finding = self._scoped(request, pk)
        if not self.has_view_permission(request, finding):
            raise PermissionDenied
        if not finding.attachment_file:
            raise Http404
        response = HttpResponse(storage.load(finding.attachment_file), content_type="application/octet-stream")
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=finding.attachment_name or "attachment"
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- Rules: finance tunes the defaults and the per-policy overrides -------------------------------------------


class ParamsField(forms.JSONField):
    def validate(self, value):
        super().validate(value)
        if value not in (None, "") and not isinstance(value, dict):
            raise ValidationError(_('参数须为 JSON 对象，如 {"min_people": 3}。'), code="params_not_object")


class RuleForm(forms.ModelForm):
    params = ParamsField(label=_("参数"), required=False, help_text=_('JSON 对象，如 {"min_people": 3}；不需要时留 {}'))

    class Meta:
        model = Rule
        fields = ("enabled", "severity", "params", "description")


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ("position", "code", "name", "enabled", "severity", "params_text")
    list_display_links = ("code", "name")
    list_filter = ("enabled", "severity")
    fields = ("code", "name", "enabled", "severity", "params", "description")
    readonly_fields = ("code", "name")

    @admin.display(description=_("参数"))
    def params_text(self, obj: Rule) -> str:
        return json.dumps(obj.params, ensure_ascii=False) if obj.params else "—"

    def has_add_permission(self, request) -> bool:
        return False  # a rule is a query in checks.rules plus its row: both come with a release

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in RuleForm.Meta.fields}
        if "params" in changes and changes["params"] is None:
            changes["params"] = {}
        rule_save(acting_user=request.user, rule=obj, **changes)


class PolicyRuleForm(forms.ModelForm):
    params = ParamsField(label=_("参数"), required=False, help_text=_("覆盖规则的默认参数，JSON 对象；不需要时留 {}"))

    class Meta:
        model = PolicyRule
        fields = ("policy", "rule", "enabled", "severity", "params")


@admin.register(PolicyRule)
class PolicyRuleAdmin(admin.ModelAdmin):
    form = PolicyRuleForm
    list_display = ("policy", "rule_name", "enabled", "severity", "params_text")
    list_filter = ("rule", "enabled", "severity")
    list_select_related = ("policy", "rule")
    search_fields = ("policy__code", "policy__name")

    @admin.display(description=_("规则"), ordering="rule__position")
    def rule_name(self, obj: PolicyRule) -> str:
        return obj.rule.name

    @admin.display(description=_("参数"))
    def params_text(self, obj: PolicyRule) -> str:
        return json.dumps(obj.params, ensure_ascii=False) if obj.params else "—"

    def get_readonly_fields(self, request, obj=None):
        return ("policy", "rule") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        saved = policy_rule_save(
            acting_user=request.user,
            policy=obj.policy,
            rule=obj.rule,
            enabled=form.cleaned_data["enabled"],
            severity=form.cleaned_data["severity"],
            params=form.cleaned_data.get("params") or {},
        )
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        policy_rule_remove(acting_user=request.user, setting=obj)

    def delete_queryset(self, request, queryset):
        for setting in queryset.order_by("pk"):
            policy_rule_remove(acting_user=request.user, setting=setting)


# --- Check runs: what was compared, read-only -------------------------------------------------------------------


def _result(row: dict) -> str:
    if row["skipped"]:
        return _("未比对：%(why)s") % {"why": row["skipped_label"]}
    return _("%(n)s 条疑点") % {"n": row["findings"]} if row["findings"] else _("未发现疑点")


@admin.register(CheckRun)
class CheckRunAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("payout", "status", "started_by", "started_at", "finished_at", "payments", "findings_total")
    list_filter = ("status",)
    list_select_related = ("payout", "started_by")
    search_fields = ("payout__code",)
    fields = (
        "payout",
        "status",
        "started_by",
        "started_at",
        "finished_at",
        "payments",
        "error_code",
        "rules_table",
        "loads",
    )
    readonly_fields = ("rules_table",)

    @admin.display(description=_("发现疑点"))
    def findings_total(self, obj: CheckRun) -> int:
        return sum(entry.get("findings", 0) or 0 for entry in obj.rules_run or [])

    @admin.display(description=_("各规则结果"))
    def rules_table(self, obj: CheckRun):
        rows = rules_run_rows(obj.rules_run)
        if not rows:
            return "—"
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((row["name"], row["severity_label"], _result(row)) for row in rows),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("规则"),
            _("级别"),
            _("结果"),
            body,
        )
