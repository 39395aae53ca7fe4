"""个人查询, the page: a form on GET, the answer to a POST. The rules are disclosure.lookup's; this renders them."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from disclosure.lookup import LookupForm, challenge_due, lookup_attempt
from yikatong.domain.masking import mask_id, mask_name

TEMPLATE = "disclosure/lookup.html"


@sensitive_post_parameters("name", "id_number")
@never_cache
@require_http_methods(["GET", "POST"])
def lookup(request):
    if request.method == "GET":
        return render(request, TEMPLATE, {"nav": "lookup", "form": LookupForm(), "challenge": challenge_due(request)})
    outcome = lookup_attempt(request, request.POST)
    context = {"nav": "lookup", "form": LookupForm(), "outcome": outcome, "challenge": None}
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
    if outcome.kind in ("invalid", "answered"):
        context["challenge"] = challenge_due(request)
    if outcome.kind == "answered":
        data = outcome.form.cleaned_data
        context.update(
            who_name=mask_name(data["name"]),
            who_id=mask_id(data["id_number"]),
            typed_year=str(data["year"] or ""),
        )
    response = render(request, TEMPLATE, context, status=429 if outcome.kind == "limited" else 200)
    if outcome.kind == "limited":
        response["Retry-After"] = str(outcome.retry_after)
    return response
