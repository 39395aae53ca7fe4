"""个人查询, the page: a form on GET, the answer to a POST. The rules are disclosure.lookup's; this renders them."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.html import format_html_join
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from disclosure.challenge import challenge_new
from disclosure.lookup import challenge_due, lookup_attempt, year_choices
from yikatong.domain.masking import mask_id, mask_name

TEMPLATE = "disclosure/lookup.html"


def _year_options(chosen: str):
    # Built here rather than by a template loop: this page is the busiest public one, and the loop cost more than
    # everything else on it (docs/benchmarks.md).
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, " selected" if str(value) == chosen else "", label) for value, label in year_choices()),
    )


def _render(request, context: dict, status: int = 200):
    context.setdefault("challenge", None)
    context["year_options"] = _year_options(context.get("typed_year", ""))
    return render(request, TEMPLATE, {"nav": "lookup", **context}, status=status)


@sensitive_post_parameters("name", "id_number")
@never_cache
@require_http_methods(["GET", "POST"])
def lookup(request):
    if request.method == "GET":
        return _render(request, {"challenge": challenge_due(request)})
    outcome = lookup_attempt(request, request.POST)
    context = {"outcome": outcome}
    if outcome.kind == "invalid":
        # The errors of what was typed, but the ID itself is never written back into the page.
        context.update(errors=outcome.form.errors, typed_name=outcome.form.data.get("name", ""))
    elif outcome.kind == "challenge":
        context.update(
            challenge=outcome.challenge,
            # Wrong only if something was answered: a blank answer is just a missing one.
            challenge_failed=bool(
                outcome.form.data.get("challenge_token") and outcome.form.data.get("challenge_answer")
            ),
            typed_name=outcome.form.data.get("name", ""),
            typed_year=outcome.form.data.get("year", ""),
        )
    if outcome.kind in ("invalid", "answered") and outcome.challenge_next:
        context["challenge"] = challenge_new()
    if outcome.kind == "answered":
        data = outcome.form.cleaned_data
        context.update(
            who_name=mask_name(data["name"]),
            who_id=mask_id(data["id_number"]),
            typed_year=str(data["year"] or ""),
        )
    response = _render(request, context, status=429 if outcome.kind == "limited" else 200)
    if outcome.kind == "limited":
        response["Retry-After"] = str(outcome.retry_after)
    return response
