"""Public read-only API routes, mounted under /api/v1/public/."""

from django.urls import path

from policies import api

app_name = "policies-public"

urlpatterns = [
    path("policy-lists/", api.PublicPolicyListsView.as_view(), name="policy-lists"),
    path("policies/", api.PublicPolicyEntriesView.as_view(), name="policies"),
    path("policies/<slug:code>/", api.PublicPolicyDetailView.as_view(), name="policy"),
]
