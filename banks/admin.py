"""The register of disbursing banks, their agreements and API tokens, and the failure-reason catalogue in the admin:
finance keeps them; every save goes through a service in ``banks.services`` or ``banks.tokens``."""

from __future__ import annotations

import secrets

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from banks.models import Agreement, Bank, BankToken, FailureReason
from banks.services import agreement_save, bank_save, failure_reason_save
from banks.tokens import bank_token_issue, bank_token_revoke, bank_token_rotate
from org.admin_mixins import ReadOnlyAdminMixin
from org.scoping import scope_of

# One-time marks of the issue forms on display, so that a re-sent POST (reload, back button) never issues a second
# token nobody has seen. Only the mark is in the session; the token itself never is.
_ISSUE_MARKS = "banks_token_issue_marks"


def can_manage_tokens(user) -> bool:
    return (
        user.has_perm("banks.add_banktoken") and user.has_perm("banks.change_banktoken") and scope_of(user).everything
    )


def _give_mark(request, mark: str) -> str:
    marks = request.session.get(_ISSUE_MARKS, [])
    request.session[_ISSUE_MARKS] = [*marks[-4:], mark]
    return mark


def _take_mark(request, mark: str) -> bool:
    marks = request.session.get(_ISSUE_MARKS, [])
    if mark not in marks:
        return False
    request.session[_ISSUE_MARKS] = [m for m in marks if m != mark]
    return True


class AgreementInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Agreement
    fields = ("number", "signed_on", "valid_from", "valid_until", "ack_hours", "result_hours")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    verbose_name_plural = _("代发协议（在“代发协议”中新增或修改）")


class TokenIssueForm(forms.Form):
    label = forms.CharField(
        label=_("用途说明"), max_length=80, required=False, help_text=_("如“生产环境 2026”，便于日后识别和吊销。")
    )
    mark = forms.CharField(widget=forms.HiddenInput)


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "file_encoding", "signature_required", "is_active", "live_tokens")
    list_filter = ("is_active", "file_encoding", "signature_required")
    search_fields = ("code", "name")
    fields = ("code", "name", "aliases", "file_encoding", "is_active", "signature_required", "user")
    readonly_fields = ("user",)
    inlines = (AgreementInline,)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # batches refer to banks; a bank that stops paying is made inactive

    def save_model(self, request, obj, form, change):
        bank_save(acting_user=request.user, bank=obj)

    @admin.display(description=_("有效令牌"))
    def live_tokens(self, bank: Bank) -> int:
        return bank.tokens.filter(revoked_at__isnull=True).count()

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["tokens"] = obj.tokens.select_related("created_by", "revoked_by").order_by("-created_at")
            context["can_manage_tokens"] = can_manage_tokens(request.user)
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/tokens/issue/", wrap(self.issue_view), {"rotate": False}, name="banks_bank_token_issue"),
            path("<int:pk>/tokens/rotate/", wrap(self.issue_view), {"rotate": True}, name="banks_bank_token_rotate"),
            path("<int:pk>/tokens/<int:token_pk>/revoke/", wrap(self.revoke_view), name="banks_bank_token_revoke"),
            *super().get_urls(),
        ]

    def _page(self, request, bank: Bank, template: str, title: str, **context) -> TemplateResponse:
        response = TemplateResponse(
            request,
            f"admin/banks/bank/{template}",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "opts": self.model._meta,
                "original": bank,
                **context,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def issue_view(self, request, pk: int, rotate: bool):
        if not can_manage_tokens(request.user):
            raise PermissionDenied
        bank = get_object_or_404(Bank, pk=pk)
        if request.method == "POST":
            form = TokenIssueForm(request.POST)
            if form.is_valid():
                mark = form.cleaned_data["mark"]
                if not _take_mark(request, mark):
                    self.message_user(
                        request, _("该表单已提交过：令牌不会再次显示；如需令牌，请重新签发。"), messages.WARNING
                    )
                    return redirect(reverse("admin:banks_bank_change", args=[bank.pk]) + "#tokens")
                issue = bank_token_rotate if rotate else bank_token_issue
                try:
                    token, raw = issue(acting_user=request.user, bank=bank, label=form.cleaned_data["label"])
                except ValidationError as exc:
                    _give_mark(request, mark)
                    form.add_error("label", exc)
                else:
                    # Rendered, not redirected: the token lives in this one response and nowhere else.
                    return self._page(
                        request,
                        bank,
                        "token_issued.html",
                        _("新的接口令牌：%(bank)s") % {"bank": bank.name},
                        token=token,
                        raw_token=raw,
                        rotated=rotate,
                    )
        else:
            form = TokenIssueForm(initial={"mark": _give_mark(request, secrets.token_urlsafe(16))})
        title = _("轮换接口令牌：%(bank)s") if rotate else _("签发接口令牌：%(bank)s")
        return self._page(
            request,
            bank,
            "token_form.html",
            title % {"bank": bank.name},
            form=form,
            rotate=rotate,
            live=bank.tokens.filter(revoked_at__isnull=True).order_by("-created_at"),
        )

    def revoke_view(self, request, pk: int, token_pk: int):
        if not can_manage_tokens(request.user):
            raise PermissionDenied
        token = get_object_or_404(BankToken.objects.select_related("bank"), pk=token_pk, bank_id=pk)
        if request.method == "POST":
            if token.revoked_at is None:
                bank_token_revoke(acting_user=request.user, token=token)
                self.message_user(
                    request, _("令牌 ykt_%(prefix)s_… 已吊销。") % {"prefix": token.prefix}, messages.SUCCESS
                )
            return redirect(reverse("admin:banks_bank_change", args=[pk]) + "#tokens")
        return self._page(
            request,
            token.bank,
            "token_revoke.html",
            _("吊销接口令牌 ykt_%(prefix)s_…") % {"prefix": token.prefix},
            token=token,
        )


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = (
        "number", "bank", "signed_on", "valid_from", "valid_until", "ack_hours", "result_hours",
        "free_card_activation", "payment_notification", "convenient_withdrawal", "data_security",
    )  # fmt: skip
    list_filter = ("bank",)
    list_select_related = ("bank",)
    search_fields = ("number", "bank__code", "bank__name")
    date_hierarchy = "valid_from"
    fieldsets = (
        (None, {"fields": ("bank", "number", "signed_on", ("valid_from", "valid_until"))}),
        (
            _("服务条款"),
            {"fields": ("free_card_activation", "payment_notification", "convenient_withdrawal", "data_security")},
        ),
        (_("办理时限"), {"fields": (("ack_hours", "result_hours"),)}),
        (None, {"fields": ("notes",)}),
    )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the evaluation of past periods rests on the agreement then in force; end it with 终止日期

    def save_model(self, request, obj, form, change):
        agreement_save(acting_user=request.user, agreement=obj)


@admin.register(FailureReason)
class FailureReasonAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "correctable", "position", "is_active")
    list_filter = ("correctable", "is_active")
    search_fields = ("code", "name")
    fields = ("code", "name", "correctable", "position", "is_active")

    def get_readonly_fields(self, request, obj=None):
        return ("code",) if obj is not None else ()  # banks quote the code; results already stored refer to it

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # payments refer to the code; a reason no longer used is disabled

    def save_model(self, request, obj, form, change):
        failure_reason_save(acting_user=request.user, reason=obj)


# The evaluation pages (考评, BankScore) live in their own module; the admin discovers only this one.
from banks import admin_evaluation  # noqa: E402, F401
