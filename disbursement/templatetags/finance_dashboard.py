"""The admin home page's door to its numbers: ``{% finance_dashboard as board %}`` (disbursement.dashboard)."""

from django import template

from disbursement.dashboard import finance_dashboard as dashboard_numbers

register = template.Library()


@register.simple_tag(takes_context=True)
def finance_dashboard(context) -> dict | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return None
    return dashboard_numbers(user)
