"""The audit trail in the owner console: read-only, and only the events this user may see."""

import json

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.html import format_html

from ..models import ProviderKey
from .audit_summary import audit_summary
from .scope import console_audit_events
from .site import ConsoleModelAdmin, ManagedWorkspaceFilter


class AuditEventConsoleAdmin(ConsoleModelAdmin):
    list_display = ["when", "what_happened", "action", "workspace"]
    list_filter = ["action", ManagedWorkspaceFilter, "created_at"]
    search_fields = ["actor_label", "target_hint"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    # Columns as text: no widget, and no query per foreign key on the detail page.
    readonly_fields = ["when", "summary", "action", "who", "from_address", "workspace", "key", "details", "request",
                       "position_in_chain", "sealed"]
    fields = readonly_fields

    @admin.display(description="when", ordering="created_at")
    def when(self, event) -> str:
        return f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M:%S %Z}"

    @admin.display(description="what happened")
    def what_happened(self, event) -> str:
        """The sentence, with the raw details one click away."""
        return format_html('<span class="byok-summary">{}</span><details class="byok-raw"><summary>details</summary>'
                           '<pre>{}</pre></details>', audit_summary(event),
                           json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False))

    @admin.display(description="summary")
    def summary(self, event) -> str:
        return audit_summary(event)

    @admin.display(description="who")
    def who(self, event) -> str:
        return event.actor_label.replace("system:", "byok (") + ")" if event.actor_label.startswith("system:") \
            else event.actor_label

    @admin.display(description="key")
    def key(self, event) -> str:
        return event.target_hint or "—"

    @admin.display(description="from IP address")
    def from_address(self, event) -> str:
        return event.actor_ip or "—"

    @admin.display(description="request id")
    def request(self, event) -> str:
        return event.request_id or "—"

    @admin.display(description="position in the tamper-evident chain")
    def position_in_chain(self, event) -> str:
        return str(event.chain_sequence) if event.chain_sequence else "not sealed yet"

    @admin.display(description="sealed at")
    def sealed(self, event) -> str:
        return f"{timezone.localtime(event.chained_at):%Y-%m-%d %H:%M:%S %Z}" if event.chained_at else "—"

    def get_queryset(self, request):
        # The key's current name, for the sentences, in the same query (a deleted key has none).
        return console_audit_events(self.access(request)).annotate(
            key_name=Subquery(ProviderKey.objects.filter(pk=OuterRef("target_key_id")).values("name")[:1]))
