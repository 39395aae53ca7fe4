"""Public pages (no login): the home page and the published policy list. Nothing personal is shown here unmasked."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import quote, urlencode

from django import forms
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from org.models import Department, Region
from policies.enums import PolicyLevel
from policies.fields import ENTRY_FIELDS, display_value, field_label
from policies.models import PolicyEntry, PolicyList
from policies.selectors import current_published_list, list_diff, public_entries, published_lists

# Published lists are frozen, so a short shared cache is safe; a 404 is not cached (a list may be published soon).
PUBLIC_MAX_AGE = 300

EXPORT_CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}

# Changed fields whose before/after values mean something to a reader; the rest are named only.
_DIFF_VALUE_FIELDS = frozenset(ENTRY_FIELDS) - {
    "scope", "basis_file", "eligible_regions", "exclusive_with", "restrictions", "is_secret",
}  # fmt: skip


def _public_cache(view):
    """Let shared caches keep a successful page briefly; anything else keeps the no-store default."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        return response

    return wrapper


def _not_found(request) -> HttpResponse:
    # One page for an unknown code, an unpublished year and a secret policy: it must not tell them apart.
    return render(request, "disclosure/policy_not_found.html", {"nav": "policies"}, status=404)


@cache_control(public=True, max_age=60)
def home(request):
    departments = Department.objects.filter(is_active=True).order_by("code")
    current = current_published_list()
    policy_count = public_entries(year=current.year).count() if current else 0
    return render(
        request,
        "disclosure/home.html",
        {"nav": "home", "departments": departments, "current_list": current, "policy_count": policy_count},
    )


# --- The policy list ---------------------------------------------------------------------------


class PolicyFilterForm(forms.Form):
    department = forms.ChoiceField(label=gettext_lazy("主管部门"), required=False)
    level = forms.ChoiceField(
        label=gettext_lazy("政策层级"),
        required=False,
        choices=[("", gettext_lazy("全部层级")), *PolicyLevel.choices],
    )
    target = forms.CharField(label=gettext_lazy("补贴对象"), required=False, max_length=50, strip=True)
    q = forms.CharField(
        label=gettext_lazy("关键词"),
        required=False,
        max_length=50,
        strip=True,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": gettext_lazy("如：低保、MZ-04")}),
    )

    def __init__(self, *args, departments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = [("", _("全部部门")), *((d.code, d.name) for d in departments)]

    def filters(self) -> dict[str, str]:
        """The valid filters only: a tampered value is reported on the form and otherwise ignored."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in ("department", "level", "target", "q")}


def _published_list(year: int | None) -> PolicyList | None:
    if year is None:
        return current_published_list()
    return published_lists().filter(year=year).first()


def _filtered(request, policy_list: PolicyList) -> tuple[PolicyFilterForm, Any, dict[str, str]]:
    everything = public_entries(year=policy_list.year)
    departments = Department.objects.filter(pk__in=everything.values("department")).order_by("code")
    form = PolicyFilterForm(request.GET or None, departments=departments)
    filters = form.filters() if form.is_bound else dict.fromkeys(("department", "level", "target", "q"), "")
    return form, public_entries(year=policy_list.year, **filters), filters


@dataclass
class PublicChange:
    entry: PolicyEntry
    changes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class PublicDiff:
    previous_year: int | None
    added: list[PolicyEntry] = field(default_factory=list)
    withdrawn: list[PolicyEntry] = field(default_factory=list)
    changed: list[PublicChange] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.withdrawn or self.changed)


def _public_diff(policy_list: PolicyList) -> PublicDiff:
    """``list_diff`` as the public may see it: a secret entry is neither added, withdrawn nor changed.

    A policy that stops being secret is new to the public, so it shows as added; one that becomes secret
    simply is not there (calling it withdrawn would be untrue).
    """
    diff = list_diff(policy_list)
    departments = dict(Department.objects.values_list("code", "name"))
    public = PublicDiff(
        previous_year=diff.previous_year,
        added=[entry for entry in diff.added if not entry.is_secret],
        withdrawn=[entry for entry in diff.withdrawn if not entry.is_secret],
    )
    for entry, changes in diff.changed:
        if entry.is_secret:
            continue
        if any(name == "is_secret" for name, _before, _after in changes):
            public.added.append(entry)
            continue
        public.changed.append(
            PublicChange(
                entry=entry,
                changes=[
                    {
                        "label": field_label(name),
                        "show_values": name in _DIFF_VALUE_FIELDS,
                        "before": display_value(name, before, departments),
                        "after": display_value(name, after, departments),
                    }
                    for name, before, after in changes
                ],
            )
        )
    public.added.sort(key=lambda entry: entry.policy.code)
    return public


@require_GET
@_public_cache
def policy_list(request, year: int | None = None):
    current = current_published_list()
    chosen = _published_list(year)
    if year is not None and chosen is None:
        return _not_found(request)
    context: dict[str, Any] = {
        "nav": "policies",
        "policy_list": chosen,
        "current": current,
        "years": list(published_lists().values_list("year", flat=True)),
    }
    if chosen is not None:
        form, entries, filters = _filtered(request, chosen)
        entries = list(entries)
        query = urlencode({name: value for name, value in filters.items() if value})
        context.update(
            form=form,
            entries=entries,
            filtered=any(filters.values()),
            query=query,
            diff=_public_diff(chosen),
            export_xlsx=reverse("disclosure:policy-export", args=[chosen.year, "xlsx"]),
            export_csv=reverse("disclosure:policy-export", args=[chosen.year, "csv"]),
        )
    return render(request, "disclosure/policy_list.html", context)


def _without_secret_references(entries: list[PolicyEntry], year: int) -> list[PolicyEntry]:
    """Drop codes of policies the public may not see from each entry's exclusive list (in memory, never saved).

    A public policy may name a secret one it cannot be combined with; printing that code would reveal it.
    """
    visible = set(public_entries(year=year).values_list("policy__code", flat=True))
    for entry in entries:
        entry.exclusive_with = [code for code in entry.exclusive_with or [] if code in visible]
    return entries


@require_GET
@_public_cache
def policy_export(request, year: int, fmt: str):
    chosen = _published_list(year)
    if chosen is None or fmt not in EXPORT_CONTENT_TYPES:
        return _not_found(request)
    # Imported here so that the public pages keep working should the exchange module fail to import.
    from policies.exchange import export_entries

    _form, entries, _filters = _filtered(request, chosen)
    content = export_entries(_without_secret_references(list(entries), chosen.year), fmt, public=True)
    response = HttpResponse(content, content_type=EXPORT_CONTENT_TYPES[fmt])
    filename = _("%(year)s年惠民惠农财政补贴政策清单.%(ext)s") % {"year": chosen.year, "ext": fmt}
    # The ASCII name is for clients that predate RFC 6266; every current browser takes filename*.
    response["Content-Disposition"] = (
        f"attachment; filename=\"policy-list-{chosen.year}.{fmt}\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


# --- One policy --------------------------------------------------------------------------------


def _region_names(codes: list[str]) -> list[str]:
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    return [names.get(code, code) for code in codes]


@require_GET
@_public_cache
def policy_detail(request, year: int, code: str):
    entry = public_entries(year=year).filter(policy__code=code).first()
    if entry is None:
        return _not_found(request)
    # Only exclusive policies the public may see are named: a secret one's code must not leak from here.
    exclusive = list(
        public_entries(year=year)
        .filter(policy__code__in=[c for c in entry.exclusive_with if isinstance(c, str)])
        .order_by("policy__code")
    )
    shares = [
        (str(PolicyEntry._meta.get_field(name).verbose_name).rstrip("%"), getattr(entry, name))
        for name in ("share_central", "share_provincial", "share_municipal", "share_county")
    ]
    return render(
        request,
        "disclosure/policy_detail.html",
        {
            "nav": "policies",
            "entry": entry,
            "year": year,
            "exclusive": exclusive,
            "shares": [(label, value) for label, value in shares if value],
            "regions": _region_names(entry.eligible_regions or []),
            "is_current": entry.policy_list == current_published_list(),
        },
    )


@cache_control(public=True, max_age=300)
def policy_basis_file(request, year: int, code: str):
    """The basis document of a published, public policy; the same 404 as the page for anything else."""
    entry = public_entries(year=year).filter(policy__code=code).first()
    if entry is None or not entry.basis_file:
        return _not_found(request)
    try:
        handle = entry.basis_file.open("rb")
    except FileNotFoundError:
        return _not_found(request)
    name = entry.basis_file.name.rsplit("/", 1)[-1]
    return FileResponse(handle, as_attachment=False, filename=name)
