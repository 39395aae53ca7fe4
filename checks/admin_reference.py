"""Reference data in the admin: finance keeps the sources; the providing department uploads its files and
watches each import, its history and its row problems. Every change goes through `checks.references`."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from checks.enums import SourceKind
from checks.models import ReferenceSource
from checks.reference_selectors import reference_issues, reference_loads_visible_to
from checks.references import EDITABLE_FIELDS, reference_source_save, reference_upload
from org.admin_mixins import ScopedAdminMixin

HISTORY_LENGTH = 30
ISSUES_PER_PAGE = 100


class ReferenceSourceForm(forms.ModelForm):
    class Meta:
        model = ReferenceSource
        fields = ("name", "department", "policy", "description")

    def clean(self):
        data = super().clean()
        if data.get("policy") is not None and self.instance.kind != SourceKind.ROLL:
            self.add_error("policy", _("只有“其他部门名单”类数据源可以对应补贴政策。"))
        return data


class ReferenceUploadForm(forms.Form):
    file = forms.FileField(label=_("数据文件"), help_text=_("支持 .xlsx、.xls、.csv（UTF-8 或 GBK）"))
    as_of = forms.DateField(
        label=_("数据截止日期"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("文件所反映情况的截止日期；文件中的日期不得晚于它。"),
    )

    def clean_as_of(self):
        as_of = self.cleaned_data["as_of"]
        if as_of > timezone.localdate():
            raise ValidationError(_("数据截止日期不能晚于今天。"), code="as_of_in_future")
        return as_of


@admin.register(ReferenceSource)
class ReferenceSourceAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = ReferenceSourceForm
    list_display = ("code", "name", "kind", "department", "current_as_of", "current_rows")
    list_filter = ("kind", "department")
    list_select_related = ("department", "current_load")
    search_fields = ("code", "name")
    fields = ("code", "name", "kind", "department", "policy", "description")
    change_form_template = "admin/checks/reference_source_change_form.html"

    @admin.display(description=_("当前数据截止日期"), ordering="current_load__as_of")
    def current_as_of(self, source):
        return source.current_load.as_of if source.current_load else "—"

    @admin.display(description=_("当前数据行数"), ordering="current_load__valid")
    def current_rows(self, source):
        return source.current_load.valid if source.current_load else "—"

    def get_readonly_fields(self, request, obj=None):
        readonly = ["code", "kind"]
        if obj is not None and obj.kind != SourceKind.ROLL:
            readonly.append("policy")  # only a roll stands for a policy (exclusive_policy)
        return readonly

    def has_add_permission(self, request) -> bool:
        return False  # sources are data of the rules (checks/migrations/0002); finance edits, never adds

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in EDITABLE_FIELDS}
        if changes:
            reference_source_save(acting_user=request.user, source=obj, **changes)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:source_id>/upload/", view(self.upload_view), name="checks_referencesource_upload"),
            path(
                "<int:source_id>/loads/<int:load_id>/issues/",
                view(self.issues_view),
                name="checks_referencesource_load_issues",
            ),
            *super().get_urls(),
        ]

    def _history(self, request, source):
        return reference_loads_visible_to(request.user).filter(source=source).order_by("-pk")[:HISTORY_LENGTH]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["loads"] = self._history(request, obj)
            context["can_upload"] = request.user.has_perm("checks.add_referenceload")
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def upload_view(self, request, source_id: int):
        source = get_object_or_404(self.get_queryset(request), pk=source_id)
        if not request.user.has_perm("checks.add_referenceload"):
            raise PermissionDenied
        form = ReferenceUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                reference_upload(
                    acting_user=request.user,
                    source=source,
                    as_of=form.cleaned_data["as_of"],
                    filename=upload.name,
                    data=upload.read(),
                )
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, "；".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
            else:
                self.message_user(request, _("文件已上传，正在检查和导入。"), messages.SUCCESS)
                return redirect(reverse("admin:checks_referencesource_upload", args=[source.pk]))
        return TemplateResponse(
            request,
            "admin/checks/reference_upload.html",
            {
                **self.admin_site.each_context(request),
                "title": _("上传比对数据：%(name)s") % {"name": source.name},
                "opts": self.model._meta,
                "original": source,
                "form": form,
                "loads": self._history(request, source),
                "can_upload": True,
                "layout_doc": _KIND_HINTS.get(source.kind, ""),
            },
        )

    def issues_view(self, request, source_id: int, load_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        load = get_object_or_404(reference_loads_visible_to(request.user), pk=load_id, source_id=source_id)
        page = Paginator(reference_issues(load), ISSUES_PER_PAGE).get_page(request.GET.get("page"))
        return TemplateResponse(
            request,
            "admin/checks/reference_load_issues.html",
            {
                **self.admin_site.each_context(request),
                "title": _("%(name)s %(as_of)s 的问题行") % {"name": load.source.name, "as_of": load.as_of},
                "opts": self.model._meta,
                "original": load.source,
                "load": load,
                "page": page,
            },
        )


# What each kind of file must hold, shown above the upload form (the full description: docs/reference-data-format.md).
_KIND_HINTS = {
    SourceKind.DEATH: _("必需列：身份证号、死亡日期（或火化日期）；可选：姓名。"),
    SourceKind.HOUSEHOLD: _(
        "必需列：身份证号、姓名；可选：户籍地区划代码（6、9 或 12 位）、"
        "户籍状态（正常、迁出、注销，空为正常）。同一身份证号只能出现一次。"
    ),
    SourceKind.PUBLIC_EMPLOYEE: _("必需列：身份证号；可选：姓名、工作单位。同一身份证号只能出现一次。"),
    SourceKind.ROLL: _("必需列：身份证号；可选：姓名、纳入日期（或认定日期）、类别。"),
}
