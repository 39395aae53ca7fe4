"""发放公示 and 制度文件 in the admin. Publishing, withdrawing and saving go through disclosure.notices."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from disbursement.models import Payout
from disclosure.enums import NoticeStatus
from disclosure.models import Notice, PublishedDocument
from disclosure.notices import (
    DEFAULT_NOTICE_DAYS,
    NOTICE_PAYOUT_STATUSES,
    document_save,
    document_snapshot,
    notice_publish,
    notice_publish_check,
    notice_withdraw,
)
from org.admin_mixins import ScopedAdminMixin
from org.models import Department
from org.scoping import scope_of


def _messages(exc: Exception) -> str:
    return "；".join(getattr(exc, "messages", None) or [str(exc)])


class NoticePublishForm(forms.ModelForm):
    class Meta:
        model = Notice
        fields = ["payout", "title", "published_from", "published_to", "objection_line"]
        help_texts = {
            "title": _("不填则为“政策名称（期间）发放名单公示”"),
            "published_to": _("不填则公示 %(days)s 天") % {"days": DEFAULT_NOTICE_DAYS},
            "objection_line": _("不填则为主管部门名称和咨询电话"),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payout"].queryset = Payout.objects.visible_to(user).filter(status__in=NOTICE_PAYOUT_STATUSES)
        for name in ("title", "published_to", "objection_line"):
            self.fields[name].required = False
        self.user = user

    def clean(self):
        data = super().clean()
        if data.get("payout") is not None:
            try:
                notice_publish_check(
                    payout=data["payout"],
                    acting_user=self.user,
                    published_from=data.get("published_from"),
                    published_to=data.get("published_to"),
                )
            except (ValidationError, PermissionDenied) as exc:
                raise ValidationError(_messages(exc)) from None
        return data

    def _post_clean(self):
        pass  # the notice is built and checked by disclosure.notices, not by ModelForm's instance validation


class NoticeWithdrawForm(forms.ModelForm):
    withdraw = forms.BooleanField(label=_("撤回该公示"), required=False)

    class Meta:
        model = Notice
        fields = ["withdrawn_reason"]

    def _post_clean(self):
        pass  # nothing is written from this form but through notice_withdraw

    def clean(self):
        data = super().clean()
        if data.get("withdraw") and not (data.get("withdrawn_reason") or "").strip():
            self.add_error("withdrawn_reason", _("请填写撤回理由。"))
        return data


@admin.register(Notice)
class NoticeAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["title", "payout", "published_from", "published_to", "status", "public_link"]
    list_filter = ["status", "payout__department"]
    search_fields = ["title", "payout__code"]
    list_select_related = ["payout"]
    readonly_fields = [
        "payout", "title", "published_from", "published_to", "objection_line", "status", "published_by",
        "published_at", "withdrawn_by", "withdrawn_at", "public_link",
    ]  # fmt: skip

    @admin.display(description=_("公开页面"))
    def public_link(self, notice: Notice):
        if notice.pk is None or notice.status != NoticeStatus.PUBLISHED:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("disclosure:notice", args=[notice.pk]),
            _("查看"),
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = NoticePublishForm

            class BoundPublishForm(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, user=request.user, **inner)

            kwargs["form"] = BoundPublishForm
            kwargs["fields"] = NoticePublishForm.Meta.fields
        else:
            kwargs["form"] = NoticeWithdrawForm
            kwargs["fields"] = ["withdrawn_reason", "withdraw"] if obj.status == NoticeStatus.PUBLISHED else []
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return NoticePublishForm.Meta.fields
        editable = ["withdraw", "withdrawn_reason"] if obj.status == NoticeStatus.PUBLISHED else ["withdrawn_reason"]
        return [*self.readonly_fields, *editable]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        if obj.status != NoticeStatus.PUBLISHED:
            return [*self.readonly_fields, "withdrawn_reason"]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a notice is withdrawn, never deleted: the trail refers to it

    def save_model(self, request, obj, form, change):
        try:
            if not change:
                saved = notice_publish(
                    payout=form.cleaned_data["payout"],
                    acting_user=request.user,
                    published_from=form.cleaned_data["published_from"],
                    published_to=form.cleaned_data.get("published_to"),
                    title=form.cleaned_data.get("title") or "",
                    objection_line=form.cleaned_data.get("objection_line") or "",
                )
                obj.pk = saved.pk
            elif form.cleaned_data.get("withdraw"):
                notice_withdraw(
                    notice=obj, reason=form.cleaned_data.get("withdrawn_reason") or "", acting_user=request.user
                )
        except (ValidationError, PermissionDenied) as exc:
            request._notice_refused = _messages(exc)  # per request: the ModelAdmin is shared by all of them

    def response_add(self, request, obj, post_url_continue=None):
        return self._answer(request, obj) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        return self._answer(request, obj) or super().response_change(request, obj)

    def _answer(self, request, obj):
        refused = getattr(request, "_notice_refused", None)
        if refused is None:
            return None
        messages.error(request, refused)
        target = reverse("admin:disclosure_notice_change", args=[obj.pk]) if obj.pk else request.path
        return HttpResponseRedirect(target)


class DocumentForm(forms.ModelForm):
    class Meta:
        model = PublishedDocument
        fields = ["title", "doc_number", "department", "issued_on", "summary", "file", "is_published"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        scope = scope_of(user)
        if not scope.everything:
            # A department publishes under its own name only.
            self.fields["department"].queryset = Department.objects.filter(pk=scope.department_id)
            self.fields["department"].required = True
            self.fields["department"].empty_label = None


@admin.register(PublishedDocument)
class PublishedDocumentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["title", "doc_number", "department", "issued_on", "is_published", "published_at"]
    list_filter = ["is_published", "department"]
    search_fields = ["title", "doc_number"]
    readonly_fields = ["published_at", "created_by"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        base = DocumentForm

        class BoundDocumentForm(base):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        kwargs["form"] = BoundDocumentForm
        return super().get_form(request, obj, change=change, **kwargs)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # unpublish instead: what was public once stays on the record

    def save_model(self, request, obj, form, change):
        before = None
        if change:
            before = document_snapshot(PublishedDocument.objects.get(pk=obj.pk))
        document_save(document=obj, acting_user=request.user, before=before)
