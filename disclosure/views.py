"""Public pages (no login). Nothing personal is shown here unmasked."""

from django.shortcuts import render
from django.views.decorators.cache import cache_control

from org.models import Department


@cache_control(public=True, max_age=60)
def home(request):
    departments = Department.objects.filter(is_active=True).order_by("code")
    return render(request, "disclosure/home.html", {"departments": departments})
