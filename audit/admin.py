"""Staff admin: the audit trail, read-only. Events are append-only; nobody adds, changes or deletes them here."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "action", "actor_label", "owner", "workspace", "target_hint", "request_id",
                    "chain_sequence"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_label", "target_hint", "request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["owner", "workspace"]
    ordering = ["-created_at", "-id"]
    # Render the event's columns as text: no widget, and no query per foreign key on the detail page.
    readonly_fields = [
        "created_at", "action", "actor_label", "actor_id", "actor_ip", "actor_user_agent", "request_id",
        "owner_id", "workspace_id", "target_key_id", "target_hint", "details",
        "chain_sequence", "previous_hash", "content_hash", "chain_hash", "chained_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
