"""The audit trail in the owner console: read-only, and only the events this user may see."""

from django.contrib.admin import SimpleListFilter

from accounts.models import Workspace

from .scope import console_audit_events
from .site import ConsoleModelAdmin


class AuditWorkspaceFilter(SimpleListFilter):
    """Only the workspaces this user may see are offered (the stock FK filter would list every workspace)."""

    title = "workspace"
    parameter_name = "workspace"

    def lookups(self, request, model_admin):
        return [(w.pk, w.name) for w in Workspace.objects.filter(pk__in=model_admin.access(request).workspace_ids)]

    def queryset(self, request, queryset):
        return queryset.filter(workspace_id=self.value()) if self.value() else queryset


class AuditEventConsoleAdmin(ConsoleModelAdmin):
    list_display = ["created_at", "action", "actor_label", "target_hint", "workspace"]
    list_filter = ["action", AuditWorkspaceFilter, "created_at"]
    search_fields = ["actor_label", "target_hint"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    # Columns as text: no widget, and no query per foreign key on the detail page.
    readonly_fields = ["created_at", "action", "actor_label", "actor_ip", "workspace", "target_hint", "details",
                       "request_id", "chain_sequence", "chained_at"]
    fields = readonly_fields

    def get_queryset(self, request):
        return console_audit_events(self.access(request))
