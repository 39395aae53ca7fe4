"""The registry and rosters in the admin: read-only views; every change comes from a roster import."""

from django.contrib import admin

from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from recipients.models import Recipient, RecipientAccount, RecipientChange, Roster


class AccountInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RecipientAccount
    fields = ("bank_name", "account_masked", "holder_name", "is_current", "first_seen_at", "last_used_at")
    readonly_fields = fields
    extra = 0


class ChangeInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = RecipientChange
    fields = ("changed_at", "field", "before", "after", "roster")
    readonly_fields = fields
    extra = 0


@admin.register(Recipient)
class RecipientAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # The registry spans every policy; only county-wide roles (finance, auditors) may browse it whole.
    list_display = ("name", "id_masked", "sex", "birth_date", "birthplace_code", "updated_at")
    search_fields = ("name",)
    fields = (
        "name",
        "id_masked",
        "sex",
        "birth_date",
        "birthplace_code",
        "village",
        "phone",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [AccountInline, ChangeInline]

    def has_module_permission(self, request) -> bool:
        from org.scoping import scope_of

        return scope_of(request.user).everything

    def has_view_permission(self, request, obj=None) -> bool:
        from org.scoping import scope_of

        return scope_of(request.user).everything


@admin.register(Roster)
class RosterAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "payout",
        "filename",
        "status",
        "rows_read",
        "valid",
        "rejected",
        "warnings",
        "uploaded_by",
        "uploaded_at",
    )
    list_filter = ("status", "department")
    # Problems are read in the payout page's error report (a roster may have many thousands of them).
    exclude = ("stored_file",)
