"""The policy list in the browser admin: finance keeps the yearly list, departments propose changes."""

from __future__ import annotations

from urllib.parse import quote

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from org.admin_mixins import ScopedAdminMixin
from org.models import Department
from policies.enums import ListStatus, ProposalKind, ProposalStatus
from policies.exchange import export_entries, policy_list_import
from policies.fields import ENTRY_FIELDS, display_value, entry_snapshot, field_label
from policies.forms import PolicyEntryForm, ProposalEntryForm, ProposalForm
from policies.models import PolicyEntry, PolicyList, PolicyProposal
from policies.selectors import entries_visible_to, list_diff
from policies.services import (
    policy_entry_create,
    policy_entry_remove,
    policy_entry_update,
    policy_list_publish,
    policy_list_return,
    policy_list_start,
    policy_list_submit,
    policy_proposal_create,
    policy_proposal_decide,
)


def _message_for(exc: ValidationError) -> str:
    return "；".join(exc.messages)


def _entry_values(form) -> dict:
    values = {name: form.cleaned_data[name] for name in ENTRY_FIELDS if name in form.cleaned_data}
    values["department_id"] = values.pop("department").pk
    return values


class StartListForm(forms.Form):
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("清单文件"), help_text=_("Excel（.xlsx）或 CSV，列见“政策清单文件格式”说明"))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(PolicyList)
class PolicyListAdmin(admin.ModelAdmin):
    list_display = ("year", "title", "status", "entry_count", "submitted_by", "published_by", "published_at")
    list_filter = ("status",)
    readonly_fields = (
        "year",
        "status",
        "submitted_by",
        "submitted_at",
        "published_by",
        "published_at",
        "return_reason",
    )
    fields = ("year", "title", *readonly_fields[1:])
    change_form_template = "admin/policies/policylist/change_form.html"
    change_list_template = "admin/policies/policylist/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_entry_count=Count("entries"))

    @admin.display(description=_("政策数"), ordering="_entry_count")
    def entry_count(self, obj) -> int:
        return obj._entry_count

    def has_add_permission(self, request) -> bool:
        return False  # a list is opened with "新建年度清单", which copies last year's

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.status == ListStatus.DRAFT)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        own = [
            path("start/", self.admin_site.admin_view(self.start_view), name="policies_policylist_start"),
            path("<int:pk>/diff/", self.admin_site.admin_view(self.diff_view), name="policies_policylist_diff"),
            path("<int:pk>/submit/", self.admin_site.admin_view(self.submit_view), name="policies_policylist_submit"),
            path("<int:pk>/return/", self.admin_site.admin_view(self.return_view), name="policies_policylist_return"),
            path("<int:pk>/import/", self.admin_site.admin_view(self.import_view), name="policies_policylist_import"),
            path(
                "<int:pk>/export.<str:fmt>",
                self.admin_site.admin_view(self.export_view),
                name="policies_policylist_export",
            ),
            path(
                "<int:pk>/publish/", self.admin_site.admin_view(self.publish_view), name="policies_policylist_publish"
            ),
        ]
        return own + super().get_urls()

    def _back(self, pk: int):
        return redirect(reverse("admin:policies_policylist_change", args=[pk]))

    def _run(self, request, pk: int, action, **kwargs):
        policy_list = get_object_or_404(PolicyList, pk=pk)
        try:
            action(acting_user=request.user, policy_list=policy_list, **kwargs)
        except ValidationError as exc:
            self.message_user(request, _message_for(exc), messages.ERROR)
        else:
            self.message_user(request, _("操作成功。"), messages.SUCCESS)
        return self._back(pk)

    def start_view(self, request):
        if not request.user.has_perm("policies.add_policylist"):
            raise PermissionDenied
        form = StartListForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                policy_list = policy_list_start(acting_user=request.user, year=form.cleaned_data["year"])
            except ValidationError as exc:
                form.add_error("year", exc)
            else:
                self.message_user(request, _("已新建 %(year)s 年清单草稿。") % {"year": policy_list.year})
                return self._back(policy_list.pk)
        return TemplateResponse(
            request,
            "admin/policies/form_page.html",
            {
                **self.admin_site.each_context(request),
                "title": _("新建年度政策清单"),
                "form": form,
                "opts": self.model._meta,
                "submit_label": _("新建"),
            },
        )

    def submit_view(self, request, pk: int):
        if request.method != "POST":
            return self._back(pk)
        return self._run(request, pk, policy_list_submit)

    def publish_view(self, request, pk: int):
        if request.method != "POST":
            return self._back(pk)
        return self._run(request, pk, policy_list_publish)

    def return_view(self, request, pk: int):
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            return self._run(request, pk, policy_list_return, reason=form.cleaned_data["reason"])
        return TemplateResponse(
            request,
            "admin/policies/form_page.html",
            {
                **self.admin_site.each_context(request),
                "title": _("退回政策清单"),
                "form": form,
                "opts": self.model._meta,
                "submit_label": _("退回"),
            },
        )

    def import_view(self, request, pk: int):
        if not request.user.has_perm("policies.add_policyentry"):
            raise PermissionDenied
        policy_list = get_object_or_404(PolicyList, pk=pk)
        form = ImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                report = policy_list_import(
                    acting_user=request.user, policy_list=policy_list, file_bytes=upload.read(), filename=upload.name
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if not report.errors:
                    self.message_user(
                        request,
                        _("导入完成：新增 %(c)s 条，更新 %(u)s 条。") % {"c": report.created, "u": report.updated},
                        messages.SUCCESS,
                    )
                    return self._back(pk)
        return TemplateResponse(
            request,
            "admin/policies/policylist/import.html",
            {
                **self.admin_site.each_context(request),
                "title": _("导入 %(year)s 年政策清单") % {"year": policy_list.year},
                "form": form,
                "report": report,
                "opts": self.model._meta,
                "policy_list": policy_list,
            },
        )

    def export_view(self, request, pk: int, fmt: str):
        if not request.user.has_perm("policies.view_policyentry") or fmt not in ("xlsx", "csv"):
            raise PermissionDenied
        policy_list = get_object_or_404(PolicyList, pk=pk)
        entries = entries_visible_to(request.user, policy_list).order_by("department__code", "policy__code")
        content_type = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )
        response = HttpResponse(export_entries(entries, fmt), content_type=content_type)
        name = f"{policy_list.year}年政策清单.{fmt}"
        response["Content-Disposition"] = (
            f"attachment; filename=\"policies-{policy_list.year}.{fmt}\"; filename*=UTF-8''{quote(name)}"
        )
        return response

    def diff_view(self, request, pk: int):
        if not request.user.has_perm("policies.view_policylist"):
            raise PermissionDenied
        policy_list = get_object_or_404(PolicyList, pk=pk)
        diff = list_diff(policy_list, entries=entries_visible_to(request.user))
        departments = dict(Department.objects.values_list("code", "name"))
        changed = [
            (
                entry,
                [
                    (field_label(name), display_value(name, old, departments), display_value(name, new, departments))
                    for name, old, new in changes
                ],
            )
            for entry, changes in diff.changed
        ]
        return TemplateResponse(
            request,
            "admin/policies/policylist/diff.html",
            {
                **self.admin_site.each_context(request),
                "title": _("%(year)s 年清单与上年对比") % {"year": policy_list.year},
                "diff": diff,
                "changed": changed,
                "policy_list": policy_list,
                "opts": self.model._meta,
            },
        )


@admin.register(PolicyEntry)
class PolicyEntryAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = PolicyEntryForm
    list_display = (
        "code",
        "name",
        "department",
        "level",
        "standard_amount",
        "standard_unit",
        "frequency",
        "status",
        "is_secret",
        "list_year",
    )
    list_filter = ("policy_list__year", "department", "level", "frequency", "status", "is_secret")
    search_fields = ("name", "short_name", "policy__code", "target_group")
    list_select_related = ("policy", "department", "policy_list")
    ordering = ("-policy_list__year", "department__code", "policy__code")
    change_form_template = "admin/policies/policyentry/change_form.html"
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "policy_list",
                    "code",
                    "name",
                    "short_name",
                    "department",
                    "business_office",
                    "status",
                    "is_secret",
                )
            },
        ),
        (
            _("层级与资金分担"),
            {"fields": ("level", "share_central", "share_provincial", "share_municipal", "share_county")},
        ),
        (
            _("对象与标准"),
            {
                "fields": (
                    "beneficiary",
                    "target_group",
                    "scope",
                    "standard_kind",
                    "standard_amount",
                    "standard_unit",
                    "quantity_unit",
                    "frequency",
                )
            },
        ),
        (
            _("资格与限制"),
            {
                "fields": (
                    "min_age",
                    "max_age",
                    "eligible_regions",
                    "exclusive_with",
                    "excludes_public_employees",
                    "restrictions",
                    "valid_from",
                    "valid_to",
                )
            },
        ),
        (_("政策依据"), {"fields": ("basis_title", "basis_number", "basis_issuer", "basis_date", "basis_file")}),
        (_("咨询"), {"fields": ("contact_office", "contact_phone")}),
    )

    @admin.display(description=_("政策编码"), ordering="policy__code")
    def code(self, obj) -> str:
        return obj.policy.code

    @admin.display(description=_("年度"), ordering="policy_list__year")
    def list_year(self, obj) -> int:
        return obj.policy_list.year

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.policy_list.status == ListStatus.DRAFT)

    def has_delete_permission(self, request, obj=None) -> bool:
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.policy_list.status == ListStatus.DRAFT)

    def get_actions(self, request):
        return {}  # no bulk delete: entries leave a list one by one, each audited

    def save_model(self, request, obj, form, change):
        if change:
            values = {
                name: value
                for name, value in _entry_values(form).items()
                if name in form.changed_data or (name == "department_id" and "department" in form.changed_data)
            }
            policy_entry_update(acting_user=request.user, entry=obj, values=values)
        else:
            created = policy_entry_create(
                acting_user=request.user,
                policy_list=form.cleaned_data["policy_list"],
                code=form.cleaned_data["code"],
                values=_entry_values(form),
            )
            obj.pk = created.pk

    def delete_model(self, request, obj):
        policy_entry_remove(acting_user=request.user, entry=obj)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_propose"] = (
            obj is not None
            and obj.policy_list.status == ListStatus.DRAFT
            and request.user.has_perm("policies.add_policyproposal")
            and request.user.department_id == obj.department_id
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(PolicyProposal)
class PolicyProposalAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "policy_list",
        "department",
        "kind",
        "target",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
    )
    list_filter = ("status", "kind", "department", "policy_list__year")
    readonly_fields = (
        "policy_list",
        "department",
        "kind",
        "policy",
        "proposed_code",
        "payload_table",
        "reason",
        "status",
        "proposed_by",
        "proposed_at",
        "decided_by",
        "decided_at",
        "decision_note",
    )
    fields = readonly_fields
    change_form_template = "admin/policies/policyproposal/change_form.html"

    @admin.display(description=_("政策"))
    def target(self, obj) -> str:
        return obj.policy.code if obj.policy_id else obj.proposed_code

    @admin.display(description=_("申报内容"))
    def payload_table(self, obj):
        from django.utils.html import format_html_join

        departments = dict(Department.objects.values_list("code", "name"))
        rows = [(field_label(key), display_value(key, value, departments)) for key, value in obj.payload.items()]
        return format_html_join("", "<div><strong>{}</strong>：{}</div>", rows) or "-"

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # proposals are decided with the buttons, never edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        own = [
            path("propose/", self.admin_site.admin_view(self.propose_view), name="policies_policyproposal_propose"),
            path(
                "<int:pk>/decide/", self.admin_site.admin_view(self.decide_view), name="policies_policyproposal_decide"
            ),
        ]
        return own + super().get_urls()

    def add_view(self, request, form_url="", extra_context=None):
        return redirect(reverse("admin:policies_policyproposal_propose") + "?" + request.GET.urlencode())

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_decide"] = (
            obj is not None
            and obj.status == ProposalStatus.PENDING
            and request.user.has_perm("policies.change_policyproposal")
        )
        context["reason_form"] = ReasonForm()
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def propose_view(self, request):
        if not request.user.has_perm("policies.add_policyproposal"):
            raise PermissionDenied
        entry = None
        if request.GET.get("entry"):
            entry = get_object_or_404(entries_visible_to(request.user), pk=request.GET["entry"])
        initial = {"kind": request.GET.get("kind", ProposalKind.ADD)}
        if entry is not None:
            initial.update(policy_list=entry.policy_list_id, policy=entry.policy_id)
        meta = ProposalForm(request.POST or None, user=request.user, initial=initial)
        content = ProposalEntryForm(
            request.POST or None,
            instance=PolicyEntry(
                **(
                    {name: getattr(entry, name) for name in ENTRY_FIELDS if name not in ("department", "basis_file")}
                    if entry is not None
                    else {}
                )
            ),
            prefix="entry",
        )
        if request.method == "POST" and meta.is_valid():
            kind = meta.cleaned_data["kind"]
            if kind == ProposalKind.WITHDRAW or content.is_valid():
                payload = {}
                if kind != ProposalKind.WITHDRAW:
                    proposed = entry_snapshot(content.save(commit=False))
                    proposed.pop("department", None)
                    proposed.pop("basis_file", None)
                    current = {}
                    if kind == ProposalKind.CHANGE and meta.cleaned_data["policy"] is not None:
                        target = (
                            entries_visible_to(request.user, meta.cleaned_data["policy_list"])
                            .filter(policy=meta.cleaned_data["policy"])
                            .first()
                        )
                        current = entry_snapshot(target) if target is not None else {}
                    payload = {key: value for key, value in proposed.items() if current.get(key) != value}
                try:
                    proposal = policy_proposal_create(
                        acting_user=request.user,
                        policy_list=meta.cleaned_data["policy_list"],
                        kind=kind,
                        policy=meta.cleaned_data["policy"],
                        proposed_code=meta.cleaned_data["proposed_code"],
                        payload=payload,
                        reason=meta.cleaned_data["reason"],
                    )
                except ValidationError as exc:
                    meta.add_error(None, exc)
                else:
                    self.message_user(request, _("申报已提交，等待财政部门审批。"), messages.SUCCESS)
                    return redirect(reverse("admin:policies_policyproposal_change", args=[proposal.pk]))
        return TemplateResponse(
            request,
            "admin/policies/policyproposal/propose.html",
            {
                **self.admin_site.each_context(request),
                "title": _("申报政策调整"),
                "meta": meta,
                "content": content,
                "opts": self.model._meta,
            },
        )

    def decide_view(self, request, pk: int):
        proposal = get_object_or_404(PolicyProposal, pk=pk)
        if request.method == "POST":
            approve = request.POST.get("decision") == "approve"
            try:
                policy_proposal_decide(
                    acting_user=request.user, proposal=proposal, approve=approve, note=request.POST.get("reason", "")
                )
            except ValidationError as exc:
                self.message_user(request, _message_for(exc), messages.ERROR)
            else:
                self.message_user(request, _("已处理。"), messages.SUCCESS)
        return redirect(reverse("admin:policies_policyproposal_change", args=[pk]))
