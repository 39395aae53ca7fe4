from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from org.admin_mixins import ScopedAdminMixin
from org.models import Department, Region, User
from org.services import department_save, user_save, user_validate_scope


@admin.register(Department)
class DepartmentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ("code", "name", "short_name", "phone", "is_active")
    search_fields = ("code", "name", "short_name")
    list_filter = ("is_active",)

    def save_model(self, request, obj, form, change):
        department_save(acting_user=request.user, department=obj, created=not change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # departments are deactivated, never deleted: their history points at them


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    # Divisions are reference data everybody may read; they are loaded from a file (load_divisions).
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")
    raw_id_fields = ("parent",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class _RoleScopeCheck:
    def clean(self):
        data = super().clean()
        if "role" in data:
            user_validate_scope(role=data["role"], department=data.get("department"), region=data.get("region"))
        return data


class UserChangeWithScopeForm(_RoleScopeCheck, UserChangeForm):
    pass


class UserCreationWithScopeForm(_RoleScopeCheck, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)


@admin.register(User)
class UserAdmin(ScopedAdminMixin, DjangoUserAdmin):
    form = UserChangeWithScopeForm
    add_form = UserCreationWithScopeForm
    list_display = ("username", "full_name", "role", "department", "region", "is_active", "last_login")
    list_filter = ("role", "department", "is_active")
    search_fields = ("username", "full_name")
    raw_id_fields = ("region",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("身份与职责"), {"fields": ("full_name", "phone", "role", "department", "region")}),
        (_("状态"), {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"fields": ("username", "usable_password", "password1", "password2")}),
        (_("身份与职责"), {"fields": ("full_name", "phone", "role", "department", "region")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def save_model(self, request, obj, form, change):
        user_save(acting_user=request.user, user=obj, created=not change)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # users are deactivated; the trail names them


# Roles (org.roles) replace Django's groups; an editable group list would suggest otherwise.
admin.site.unregister(Group)
