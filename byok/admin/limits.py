"""Staff admin: ceilings per plan on the limits owners set. Every save and delete goes through the service (audited,
every data-plane process applies it at once)."""

from django.contrib import admin

from ..models import PlanCeiling
from ..services.limits import plan_ceiling_set


@admin.register(PlanCeiling)
class PlanCeilingAdmin(admin.ModelAdmin):
    list_display = ["plan", "metric", "value", "updated_at"]
    list_filter = ["plan", "metric"]
    list_select_related = ["plan"]
    fields = ["plan", "metric", "value"]

    def get_readonly_fields(self, request, obj=None):
        return ["plan", "metric"] if obj else []  # a ceiling is one plan's one metric: change its value, or delete it

    def save_model(self, request, obj, form, change):
        saved = plan_ceiling_set(plan=obj.plan, metric=obj.metric, value=obj.value, actor=request.user)
        obj.pk, obj.updated_at = saved.pk, saved.updated_at

    def delete_model(self, request, obj):
        plan_ceiling_set(plan=obj.plan, metric=obj.metric, value=None, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset.select_related("plan"):
            self.delete_model(request, obj)
