from django.contrib import admin

from jobs.models import Job
from org.admin_mixins import ReadOnlyAdminMixin, ScopedAdminMixin


@admin.register(Job)
class JobAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "status", "progress_done", "progress_total", "attempts", "created_at", "finished_at")
    list_filter = ("kind", "status")
    search_fields = ("target_id",)
