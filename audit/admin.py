from django.contrib import admin

from audit.models import AuditEvent
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "actor_label", "actor_role", "action", "object_type", "object_repr")
    list_filter = ("action", "actor_role", "object_type")
    search_fields = ("actor_label", "object_id", "object_repr", "request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
