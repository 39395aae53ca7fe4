"""Public read-only API routes of disclosure, mounted under /api/v1/public/ beside the policy list's."""

from django.urls import path

from disclosure import api

app_name = "disclosure-public"

urlpatterns = [
    path("notices/", api.PublicNoticesView.as_view(), name="notices"),
    path("notices/<int:pk>/", api.PublicNoticeRowsView.as_view(), name="notice"),
    path("lookup/", api.PublicLookupView.as_view(), name="lookup"),
]
