"""Staff admin: provider keys, secrets never shown.

Read-only: keys are created and changed by their owners through the services (tested, audited). The encrypted
fields are left out of every form, so neither ciphertext nor plaintext ever reaches a page; staff see hints and
metadata. Deleting goes through the service so it is audited like an owner's delete.
"""

from django.contrib import admin

from ..models import ProviderKey
from ..services.keys import provider_key_delete

METADATA_FIELDS = [
    "owner", "provider", "family", "name", "key_hint", "credential_type", "status", "inference_profile", "regions",
    "region_hints", "enabled", "fallback_mode", "scope", "workspaces", "expires_at", "session_token_expires_at",
    "created_at", "updated_at", "rotated_at", "last_used_at", "last_test_status", "last_tested_at",
    "last_test_summary", "failing_since", "failure_reason", "unreachable_since",
]


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "provider", "key_hint", "status", "enabled", "credential_type", "expires_at",
                    "created_at"]
    list_filter = ["provider", "enabled", "credential_type", "fallback_mode", "scope", "owner__plan"]
    list_select_related = ["owner__plan"]  # status needs the owner's plan: one query for the whole page
    search_fields = ["name", "owner__username", "key_hint"]
    fields = readonly_fields = METADATA_FIELDS
    exclude = ["secret", "session_secret"]

    @admin.display(description="status")
    def status(self, key: ProviderKey) -> str:
        return ProviderKey.Status(key.status).label

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        provider_key_delete(key=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for key in queryset.select_related("owner"):
            provider_key_delete(key=key, actor=request.user)
