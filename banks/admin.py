"""The register of disbursing banks in the admin: finance edits it; every save goes through ``bank_save``."""

from __future__ import annotations

from django.contrib import admin

from banks.models import Bank
from banks.services import bank_save


@admin.register(Bank)
class BankAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "file_encoding", "is_active")
    list_filter = ("is_active", "file_encoding")
    search_fields = ("code", "name")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # batches refer to banks; a bank that stops paying is made inactive

    def save_model(self, request, obj, form, change):
        bank_save(acting_user=request.user, bank=obj)
