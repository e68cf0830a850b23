"""Workspace API keys in the owner console: owners and workspace admins see every key of their workspaces and
revoke any of them (a confirmation page, then a POST). Nothing here can show a key: only its hint is stored."""

from django.contrib import admin, messages
from django.contrib.admin import SimpleListFilter
from django.http import HttpResponseRedirect
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_revoke
from core.errors import DomainError

from .scope import console_api_keys
from .site import ConsoleModelAdmin, ManagedWorkspaceFilter


class ApiKeyStatusFilter(SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True).exclude(expires_at__lte=now)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
        return queryset


def api_key_status(key: ApiKey, now) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


class ApiKeyConsoleAdmin(ConsoleModelAdmin):
    list_display = ["name", "key_hint", "user", "workspace", "status", "created_at", "expires_at", "last_used_at"]
    list_filter = [ManagedWorkspaceFilter, ApiKeyStatusFilter]
    search_fields = ["name", "key_hint", "user__username"]
    ordering = ["-created_at", "-id"]
    readonly_fields = ["name", "key_hint", "user", "workspace", "status", "created_at", "expires_at", "revoked_at",
                       "last_used_at"]
    fields = readonly_fields
    change_form_template = "byok_console/apikey_change_form.html"

    def get_queryset(self, request):
        return console_api_keys(self.access(request))

    @admin.display(description="status")
    def status(self, key: ApiKey) -> str:
        return api_key_status(key, timezone.now())

    def change_view(self, request, object_id, form_url="", extra_context=None):
        key = self.get_object(request, object_id)
        context = {"can_revoke": key.revoked_at is None, "revoke_url": self.url("revoke", key.pk),
                   **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self):
        return [self.view_path("<path:object_id>/revoke/", self.revoke_view, "revoke"), *super().get_urls()]

    def revoke_view(self, request, object_id):
        """GET: what will stop working, and a button; POST: revoke (every process refuses the key within a
        second)."""
        key = self.get_object(request, object_id)  # 404 unless it is a key of a workspace the user manages
        if request.method == "POST":
            try:
                api_key_revoke(key=key, actor=request.user)
            except DomainError as exc:
                return self.redirect_to_change(request, key, exc.message, level=messages.ERROR)
            return self.redirect_to_change(request, key, f"“{key.name}” ({key.key_hint}) is revoked: calls with it "
                                                         f"are refused from now on.")
        if key.revoked_at is not None:
            return HttpResponseRedirect(self.url("change", key.pk))
        return self.render(request, "byok_console/apikey_revoke_confirm.html",
                           {"title": f"Revoke {key.name}", "original": key, "key": key})
