"""投诉举报/咨询 in the admin: the scoped list with its time-limit flag, and one complaint's page where finance assigns
it (分办) and the responsible department answers it (答复). Every change goes through disclosure.complaints."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.templatetags.static import static
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from banks.models import Bank
from disclosure.complaints import (
    ANSWER_MAX,
    already_answered,
    answer_refusal,
    can_answer,
    can_assign,
    complaint_answer,
    complaint_assign,
    complaints_answered_late,
    complaints_on_time,
    complaints_overdue,
)
from disclosure.enums import ComplaintStatus
from disclosure.models import Complaint
from org.admin_mixins import ScopedAdminMixin
from org.models import Department

OVERDUE_OPEN = "open_overdue"
ANSWERED_LATE = "answered_late"
ON_TIME = "on_time"

# The fields finance may change (分办) and the one the department fills in (答复); everything else is read-only.
ASSIGN_FIELDS = ("department", "bank")
ANSWER_FIELDS = ("answer",)
CONTENT_FIELDS = (
    "tracking_no",
    "kind",
    "policy",
    "township",
    "text",
    "contact_name",
    "contact_masked",
    "created_at",
    "due_at",
    "time_limit",
)
HANDLING_FIELDS = ("status", "department", "bank", "assigned_at")
ANSWERED_FIELDS = ("answer", "answered_by", "answered_at")


class OverdueFilter(admin.SimpleListFilter):
    """限时办理: the open ones past their limit, the ones answered late, the rest."""

    title = _("限时办理")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return ((OVERDUE_OPEN, _("待答复已超期")), (ANSWERED_LATE, _("超期答复")), (ON_TIME, _("按期")))

    def queryset(self, request, queryset):
        if self.value() == OVERDUE_OPEN:
            return complaints_overdue(queryset)
        if self.value() == ANSWERED_LATE:
            return complaints_answered_late(queryset)
        if self.value() == ON_TIME:
            return complaints_on_time(queryset)
        return queryset


class ComplaintAdminForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ("department", "bank", "answer")
        widgets = {"answer": forms.Textarea(attrs={"rows": 8, "cols": 80})}
        help_texts = {"answer": _("提交后即在公众查询页面公开，只能答复一次。请勿写入身份证号、银行卡号等个人信息。")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "department" in self.fields:
            self.fields["department"].queryset = Department.objects.filter(is_active=True).order_by("code")
        if "bank" in self.fields:
            self.fields["bank"].queryset = Bank.objects.filter(is_active=True).order_by("code")
        for name in ASSIGN_FIELDS:
            widget = self.fields[name].widget if name in self.fields else None
            # A department or bank is kept on its own page, not added or edited from a complaint.
            for flag in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                if hasattr(widget, flag):
                    setattr(widget, flag, False)
        if "answer" in self.fields:
            self.fields["answer"].required = False
            self.fields["answer"].max_length = ANSWER_MAX
            self.fields["answer"].widget.attrs["maxlength"] = str(ANSWER_MAX)

    def clean(self):
        cleaned = super().clean()
        if "department" in self.fields and "department" in self.changed_data and cleaned.get("department") is None:
            self.add_error("department", _("请选择承办部门。"))
        return cleaned


def _message(exc: Exception) -> str:
    return "；".join(getattr(exc, "messages", None) or [str(exc) or str(_("无权办理。"))])


@admin.register(Complaint)
class ComplaintAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = ComplaintAdminForm
    list_display = (
        "tracking_no", "kind", "policy", "department", "township_name", "filed_on", "due_on", "status", "time_limit",
    )  # fmt: skip
    list_filter = (OverdueFilter, "status", "kind", "department")
    list_select_related = ("policy", "department", "township")
    search_fields = ("tracking_no",)

    def has_add_permission(self, request) -> bool:
        return False  # complaints come from the public form only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        allowed = super().has_change_permission(request, obj)
        if obj is None or not allowed:
            return allowed
        # Nothing left to do on it for this user: the page is read-only.
        return can_assign(request.user, obj) or can_answer(request.user, obj)

    def _editable(self, request, obj) -> set[str]:
        if obj is None:
            return set()
        editable = set()
        if can_assign(request.user, obj):
            editable.update(ASSIGN_FIELDS)
        if can_answer(request.user, obj):
            editable.update(ANSWER_FIELDS)
        return editable

    def get_fieldsets(self, request, obj=None):
        answer = ANSWERED_FIELDS if obj is not None and obj.status == ComplaintStatus.ANSWERED else ()
        if not answer and "answer" in self._editable(request, obj):
            answer = ANSWER_FIELDS
        sets = [(_("反映内容"), {"fields": CONTENT_FIELDS}), (_("办理"), {"fields": HANDLING_FIELDS})]
        if answer:
            sets.append((_("答复"), {"fields": answer}))
        return sets

    def get_readonly_fields(self, request, obj=None):
        every = (*CONTENT_FIELDS, *HANDLING_FIELDS, *ANSWERED_FIELDS)
        editable = self._editable(request, obj)
        return tuple(dict.fromkeys(name for name in every if name not in editable))

    @admin.display(description=_("所在乡镇（街道）"), ordering="township__code")
    def township_name(self, obj: Complaint) -> str:
        return obj.township.name if obj.township_id else "-"

    @admin.display(description=_("受理时间"), ordering="created_at")
    def filed_on(self, obj: Complaint) -> str:
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("答复期限"), ordering="due_at")
    def due_on(self, obj: Complaint) -> str:
        return timezone.localtime(obj.due_at).strftime("%Y-%m-%d %H:%M")

    @admin.display(description=_("限时办理"))
    def time_limit(self, obj: Complaint):
        if obj.status == ComplaintStatus.OPEN and obj.due_at < timezone.now():
            label = _("已超期")
        elif obj.status == ComplaintStatus.ANSWERED and obj.is_overdue:
            label = _("超期答复")
        else:
            return _("按期")
        return format_html(
            '<strong class="complaint-overdue"><img src="{}" alt="" width="14" height="14"> {}</strong>',
            static("admin/img/icon-no.svg"),
            label,
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A page opened before someone else answered: say so, rather than the bare 403 of a read-only page.
        if request.method == "POST" and object_id and request.POST.get("answer", "").strip():
            obj = self.get_object(request, unquote(object_id))
            if obj is not None and obj.status == ComplaintStatus.ANSWERED and answer_refusal(request.user, obj) is None:
                self.message_user(request, _message(already_answered(obj)), messages.ERROR)
                return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """The form's values are handed to the services; the row itself is never saved from here."""
        data = form.cleaned_data
        done: list[str] = []
        try:
            if any(name in form.fields and name in form.changed_data for name in ASSIGN_FIELDS):
                assigned = complaint_assign(
                    complaint=obj,
                    department=data.get("department"),
                    bank=data.get("bank"),
                    acting_user=request.user,
                )
                done.append(str(_("已分办给 %(department)s。") % {"department": assigned.department.name}))
            if "answer" in form.fields and (data.get("answer") or "").strip():
                complaint_answer(complaint=obj, answer=data["answer"], acting_user=request.user)
                done.append(str(_("已答复，答复已在公众查询页面公开。")))
        except (ValidationError, PermissionDenied) as exc:
            request._complaint_refused = True
            self.message_user(request, _message(exc), messages.ERROR)
        request._complaint_done = done
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # no related rows: nothing is written but by the services

    def log_change(self, request, obj, message):
        if getattr(request, "_complaint_refused", False) or not getattr(request, "_complaint_done", None):
            return None  # nothing changed; the trail (audit) has what did
        return super().log_change(request, obj, message)

    def response_change(self, request, obj):
        if getattr(request, "_complaint_refused", False):
            return HttpResponseRedirect(request.path)
        done = getattr(request, "_complaint_done", [])
        for text in done:
            self.message_user(request, text, messages.SUCCESS)
        if not done:
            self.message_user(request, _("没有修改。"), messages.INFO)
        if "_continue" in request.POST:
            return HttpResponseRedirect(request.path)
        return self.response_post_save_change(request, obj)
