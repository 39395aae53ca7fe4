from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from audit.enums import AuditAction
from audit.models import AuditEvent
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin
from org.enums import Role

_ACTION_LABELS = dict(AuditAction.choices)
_ROLE_LABELS = dict(Role.choices)


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "actor_label", "role_label", "action_label", "object_type", "object_repr")
    list_display_links = ("id", "created_at")
    list_filter = ("action", "actor_role", "object_type")
    search_fields = ("actor_label", "object_id", "object_repr", "request_id")
    date_hierarchy = "created_at"
    show_full_result_count = False
    list_per_page = 50

    @admin.display(description=_("操作"), ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return str(_ACTION_LABELS.get(event.action, event.action))

    @admin.display(description=_("角色"), ordering="actor_role")
    def role_label(self, event: AuditEvent) -> str:
        return str(_ROLE_LABELS.get(event.actor_role, event.actor_role or "-"))
