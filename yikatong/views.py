"""Site-wide views: the audited 403 page and a health check."""

from django.db import connection
from django.http import JsonResponse
from django.views.defaults import permission_denied as django_permission_denied

from yikatong.api import record_denied


def permission_denied(request, exception=None):
    record_denied(request, reason="permission_denied")
    return django_permission_denied(request, exception)


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
