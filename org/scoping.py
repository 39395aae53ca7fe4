"""What a user may see, decided in one place.

Every model whose rows belong to a department or a region uses ``ScopedQuerySet`` and names the path
to those fields; screens, APIs and exports call ``.visible_to(user)`` and never filter by role themselves
(the model is NetBox's permission-aware ``RestrictedQuerySet``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    department_id: int | None = None
    region_code: str | None = None

    @property
    def nothing(self) -> bool:
        return not self.everything and self.department_id is None and self.region_code is None


NO_SCOPE = Scope()
ALL_SCOPE = Scope(everything=True)


def scope_of(user) -> Scope:
    from org.enums import COUNTY_WIDE_ROLES, DEPARTMENT_ROLES, TOWNSHIP_ROLES

    if user is None or not user.is_authenticated or not user.is_active:
        return NO_SCOPE
    if user.is_superuser or user.role in COUNTY_WIDE_ROLES:
        return ALL_SCOPE
    if user.role in DEPARTMENT_ROLES:
        return Scope(department_id=user.department_id)
    if user.role in TOWNSHIP_ROLES:
        return Scope(department_id=user.department_id, region_code=user.region.code)
    return NO_SCOPE


class ScopedQuerySet(models.QuerySet):
    """A queryset that can restrict itself to what one user may see.

    A model declares ``scope_department_field`` (path to the department id, e.g. ``"policy__department"``)
    and/or ``scope_region_field`` (path to a division code, e.g. ``"region__code"``). A model that
    declares neither is visible only to county-wide roles.
    """

    def visible_to(self, user) -> ScopedQuerySet:
        return self.within(scope_of(user))

    def within(self, scope: Scope) -> ScopedQuerySet:
        if scope.everything:
            return self.all()
        if scope.nothing:
            return self.none()
        # A scoped user sees the rows that match every dimension of their scope the model has;
        # a model with none of them is not theirs to see.
        filters = {}
        department_field = getattr(self.model, "scope_department_field", None)
        region_field = getattr(self.model, "scope_region_field", None)
        if scope.department_id is not None and department_field:
            filters[department_field] = scope.department_id
        if scope.region_code is not None and region_field:
            filters[f"{region_field}__startswith"] = scope.region_code
        if not filters:
            return self.none()
        return self.filter(**filters)
