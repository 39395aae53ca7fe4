"""Payouts in the admin: a clerk opens a round of their policy and uploads its roster, watching the import."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from disbursement.forms import PayoutCreateForm, RosterUploadForm
from disbursement.models import Payment, Payout
from disbursement.services import payout_create
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from recipients.models import Roster
from recipients.services import roster_upload


@admin.register(Payout)
class PayoutAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "title", "period", "region", "department", "budget_amount", "status", "created_at")
    list_filter = ("status", "department", "period")
    search_fields = ("code", "title")
    change_form_template = "admin/disbursement/payout/change_form.html"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            form = PayoutCreateForm

            class Bound(form):
                def __init__(self, *args, **inner):
                    super().__init__(*args, user=request.user, **inner)

            kwargs["form"] = Bound
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return [f.name for f in Payout._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def has_view_permission(self, request, obj=None) -> bool:
        return super().has_view_permission(request, obj) or super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        created = payout_create(
            acting_user=request.user, policy=data["policy"], period=data["period"], region=data["region"],
            budget_document=data["budget_document"], budget_amount=data["budget_amount"], title=data["title"],
            roster_due=data["roster_due"], review_due=data["review_due"], payment_due=data["payment_due"],
        )  # fmt: skip
        obj.pk = created.pk

    def get_urls(self):
        return [
            path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="disbursement_payout_upload"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["rosters"] = Roster.objects.filter(payout=obj).select_related("job", "uploaded_by")[:20]
            context["upload_form"] = RosterUploadForm()
            context["can_upload"] = request.user.has_perm("recipients.add_roster") and obj.status == "draft"
            context["payment_count"] = obj.payments.count()
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def upload_view(self, request, pk: int):
        payout = get_object_or_404(Payout.objects.visible_to(request.user), pk=pk)
        form = RosterUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                roster_upload(acting_user=request.user, payout=payout, filename=upload.name, data=upload.read())
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, "；".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
            else:
                self.message_user(request, _("名册已上传，正在导入。"), messages.SUCCESS)
        return redirect(reverse("admin:disbursement_payout_change", args=[payout.pk]))


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("payout", "row", "recipient", "amount", "account_masked", "bank_name", "holder_name", "status")
    list_filter = ("status", "payout__department", "period")
    search_fields = ("payout__code", "recipient__name")
    list_select_related = ("payout", "recipient")
    exclude = ("account_hash", "account_cipher")
