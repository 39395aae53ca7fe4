"""Admin pages show only what the signed-in user's scope allows (``org.scoping``), never more."""

from __future__ import annotations

from django.contrib import admin


class ScopedAdminMixin:
    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


class ReadOnlyAdminMixin:
    """For records nobody edits by hand (audit entries, jobs): view and filter only."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.site_header = "一卡通 · 惠民惠农财政补贴资金管理平台"
admin.site.site_title = "一卡通管理平台"
admin.site.index_title = "工作台"
