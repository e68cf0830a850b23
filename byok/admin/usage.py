"""Staff admin: usage records that could not be written (byok.gateway.usage parks them here), read-only."""

from django.contrib import admin

from ..models import UsageDeadLetter


@admin.register(UsageDeadLetter)
class UsageDeadLetterAdmin(admin.ModelAdmin):
    list_display = ["created_at", "call_id", "reason"]
    search_fields = ["call_id", "reason"]
    fields = readonly_fields = ["created_at", "call_id", "reason", "entry"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
