"""Authentication by password, permissions by role (``org.roles``) instead of per-user grants."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from org.roles import STAFF_ROLES, role_allows, role_allows_app


class RoleBackend(ModelBackend):
    def user_can_authenticate(self, user) -> bool:
        # A bank identity never signs in with a password; it uses its API credential.
        return super().user_can_authenticate(user) and (user.is_superuser or user.role in STAFF_ROLES)

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        if not user_obj.is_active:
            return False
        if user_obj.is_superuser:
            return True
        return role_allows(user_obj.role, perm)

    def has_module_perms(self, user_obj, app_label) -> bool:
        if not user_obj.is_active:
            return False
        if user_obj.is_superuser:
            return True
        return role_allows_app(user_obj.role, app_label)

    def get_all_permissions(self, user_obj, obj=None) -> set[str]:
        # Django's admin asks has_perm/has_module_perms; listing every permission is not needed here.
        return set()
