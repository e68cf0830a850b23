from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .forms import StaffAuthenticationForm
from .models import ApiKey, Membership, Plan, User, Workspace
from .services import user_plan_change

# The staff admin's sign-in names a lockout (accounts/lockout.py) instead of blaming the credentials.
admin.site.login_form = StaffAuthenticationForm


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "byok_allowed", "monthly_platform_credits", "monthly_price", "ordering"]
    readonly_fields = ["code"]

    def get_readonly_fields(self, request, obj=None):
        # The code is the plan's identity (users point at it): set once.
        return ["code"] if obj else []


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "plan", "is_staff", "is_active"]
    list_filter = ["plan", "is_staff", "is_active"]
    list_select_related = ["plan"]
    fieldsets = DjangoUserAdmin.fieldsets + (("Subscription", {"fields": ["plan"]}),)

    def save_model(self, request, obj, form, change):
        # A plan change goes through the service so it is audited and takes effect everywhere at once.
        if change and "plan" in form.changed_data:
            new_plan = obj.plan_id
            obj.plan_id = form.initial["plan"]
            super().save_model(request, obj, form, change)
            user_plan_change(user=obj, plan_code=new_plan, actor=request.user)
            obj.refresh_from_db(fields=["plan"])
        else:
            super().save_model(request, obj, form, change)


class MembershipInline(admin.TabularInline):
    """Read-only here: membership changes go through the services (audited, ownership rules enforced)."""

    model = Membership
    extra = 0
    can_delete = False
    fields = readonly_fields = ["user", "role", "created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "owner", "created_at"]
    list_select_related = ["owner"]
    search_fields = ["slug", "name", "owner__username"]
    readonly_fields = ["owner", "created_at"]
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are created by their members and revoked through the service (audited, invalidated)."""

    list_display = ["name", "key_hint", "user", "workspace", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_select_related = ["user", "workspace"]
    search_fields = ["name", "key_hint", "user__username", "workspace__slug"]
    fields = readonly_fields = ["name", "key_hint", "user", "workspace", "created_at", "expires_at", "revoked_at",
                                "last_used_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
