"""Reads of the audit trail."""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from .models import AuditChainHead, AuditEvent

User = get_user_model()


def audit_events_visible_in_workspace(*, workspace) -> QuerySet[AuditEvent]:
    """What a workspace's owner and admins see: the workspace's own events (memberships, ownership), plus the
    owner's events that concern no single workspace (their keys and their plan, which serve every workspace)."""
    return (
        AuditEvent.objects.filter(Q(workspace=workspace) | Q(owner_id=workspace.owner_id, workspace__isnull=True))
        .select_related("workspace")
        .order_by("-created_at", "-id")
    )


def audit_events_filter(
    *,
    events: QuerySet[AuditEvent],
    action: str | None = None,
    key_id: int | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    conditions = {"action": action, "target_key_id": key_id, "actor_label": actor,
                  "created_at__gte": since, "created_at__lt": until}
    return events.filter(**{lookup: value for lookup, value in conditions.items() if value is not None})


def audit_events_for_export(
    *, owner: User | None = None, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.order_by("created_at", "id")
    if owner is not None:
        events = events.filter(owner=owner)
    return audit_events_filter(events=events, since=since, until=until)


def audit_chain_owner_ids() -> list[int | None]:
    """Every chain that has events or a head (a head without events means they were removed)."""
    from_events = set(AuditEvent.objects.order_by().values_list("owner_id", flat=True).distinct())
    from_heads = {None if chain == "system" else int(chain.removeprefix("owner:"))
                  for chain in AuditChainHead.objects.values_list("chain", flat=True)}
    return sorted(from_events | from_heads, key=lambda owner_id: (owner_id is not None, owner_id or 0))
