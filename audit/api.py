"""The audit trail of a workspace, for its owner and admins. Read-only: there is nothing to write here.

A surface: it reads accounts' selectors (who may see the workspace); audit's models and services import nothing of
accounts, which records through them."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied

from accounts.selectors import can_manage_workspace, workspaces_visible_to

from .models import AuditAction, AuditEvent
from .selectors import audit_events_filter, audit_events_visible_in_workspace


class AuditEventListApi(generics.ListAPIView):
    class AuditEventFilterInput(serializers.Serializer):
        action = serializers.ChoiceField(choices=AuditAction.choices, required=False)
        key_id = serializers.IntegerField(required=False, min_value=1, help_text="Events about this provider key.")
        actor = serializers.CharField(required=False, max_length=150, help_text="Username, or system:<task>.")
        since = serializers.DateTimeField(required=False, help_text="From this time (inclusive), ISO 8601.")
        until = serializers.DateTimeField(required=False, help_text="Before this time (exclusive), ISO 8601.")

    class AuditEventOutput(serializers.ModelSerializer):
        actor = serializers.CharField(source="actor_label")
        workspace = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
        key_id = serializers.IntegerField(source="target_key_id", allow_null=True)
        key_hint = serializers.CharField(source="target_hint")

        class Meta:
            model = AuditEvent
            fields = [
                "id", "created_at", "action", "actor", "actor_ip", "actor_user_agent", "request_id", "workspace",
                "key_id", "key_hint", "details", "chain_sequence", "chain_hash",
            ]

    serializer_class = AuditEventOutput

    @extend_schema(
        parameters=[AuditEventFilterInput],
        summary="The workspace's audit trail, newest first (owner and admins only)",
        description="The workspace's own events (members, ownership) plus its owner's key and plan events.",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        workspace = get_object_or_404(workspaces_visible_to(self.request.user), slug=self.kwargs["slug"])
        if not can_manage_workspace(workspace=workspace, user=self.request.user):
            raise PermissionDenied("Only the workspace's owner and admins can read its audit trail.")
        filters = self.AuditEventFilterInput(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return audit_events_filter(events=audit_events_visible_in_workspace(workspace=workspace),
                                   **filters.validated_data)


urlpatterns = [
    path("workspaces/<slug:slug>/audit-events/", AuditEventListApi.as_view(), name="workspace-audit-events"),
]
