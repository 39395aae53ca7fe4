"""Reading the policy list: what the public may see, what a user may see, and what changed in a year."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from policies.enums import ListStatus
from policies.fields import entry_snapshot
from policies.models import PolicyEntry, PolicyList


def published_lists() -> QuerySet[PolicyList]:
    return PolicyList.objects.filter(status=ListStatus.PUBLISHED).order_by("-year")


def current_published_list() -> PolicyList | None:
    return published_lists().first()


def public_entries(
    *,
    year: int | None = None,
    department: str = "",
    level: str = "",
    target: str = "",
    q: str = "",
) -> QuerySet[PolicyEntry]:
    """Published, never secret entries of one year (the latest published when not given)."""
    policy_list = published_lists().filter(year=year).first() if year else current_published_list()
    if policy_list is None:
        return PolicyEntry.objects.none()
    entries = (
        PolicyEntry.objects.filter(policy_list=policy_list, policy_list__status=ListStatus.PUBLISHED, is_secret=False)
        .select_related("policy", "department", "policy_list")
        .order_by("department__code", "policy__code")
    )
    if department:
        entries = entries.filter(department__code=department)
    if level:
        entries = entries.filter(level=level)
    if target:
        entries = entries.filter(target_group__icontains=target)
    if q:
        entries = entries.filter(
            Q(name__icontains=q)
            | Q(short_name__icontains=q)
            | Q(policy__code__iexact=q)
            | Q(target_group__icontains=q)
            | Q(basis_title__icontains=q)
        )
    return entries


def entries_visible_to(user, policy_list: PolicyList | None = None) -> QuerySet[PolicyEntry]:
    entries = PolicyEntry.objects.visible_to(user).select_related("policy", "department", "policy_list")
    if policy_list is not None:
        entries = entries.filter(policy_list=policy_list)
    return entries


@dataclass
class ListDiff:
    year: int
    previous_year: int | None
    added: list[PolicyEntry] = field(default_factory=list)
    withdrawn: list[PolicyEntry] = field(default_factory=list)
    # (entry, [(field, before, after), …]) for policies in both years whose content changed.
    changed: list[tuple[PolicyEntry, list[tuple[str, Any, Any]]]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.withdrawn or self.changed)


def list_diff(policy_list: PolicyList, *, entries: QuerySet[PolicyEntry] | None = None) -> ListDiff:
    """What this year's list adds, withdraws and changes against the latest published list before it.

    ``entries`` narrows both years to what the asking user may see (a department its own policies).
    """
    previous = published_lists().filter(year__lt=policy_list.year).first()
    base = entries if entries is not None else PolicyEntry.objects.all()
    base = base.select_related("policy", "department")
    now = {entry.policy_id: entry for entry in base.filter(policy_list=policy_list)}
    before = {entry.policy_id: entry for entry in base.filter(policy_list=previous)} if previous else {}
    diff = ListDiff(year=policy_list.year, previous_year=previous.year if previous else None)
    for policy_id, entry in sorted(now.items(), key=lambda item: item[1].policy.code):
        old = before.get(policy_id)
        if old is None:
            diff.added.append(entry)
            continue
        old_values, new_values = entry_snapshot(old), entry_snapshot(entry)
        changes = [
            (name, old_values[name], new_values[name]) for name in new_values if old_values[name] != new_values[name]
        ]
        if changes:
            diff.changed.append((entry, changes))
    diff.withdrawn = sorted((e for pid, e in before.items() if pid not in now), key=lambda e: e.policy.code)
    return diff
