"""Recording audit events. Always called inside the transaction of the change it records."""

from django.contrib.auth import get_user_model

from byok_project.request_context import current_request_context

from ..models import AuditAction, AuditEvent

User = get_user_model()


def audit_record(
    *,
    action: AuditAction,
    actor: User | None,
    system_actor: str = "",
    owner: User | None = None,
    workspace=None,
    target=None,
    details: dict | None = None,
) -> AuditEvent:
    """Store one event. `actor` is the person who acted; `system_actor` names the task when nobody did.

    `target` is a provider key (its id and hint are kept, never a secret).
    """
    context = current_request_context()
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=actor.get_username() if actor else f"system:{system_actor or 'byok'}",
        actor_ip=context.ip if context else None,
        actor_user_agent=context.user_agent if context else "",
        request_id=context.request_id if context else "",
        owner=owner,
        workspace=workspace,
        target_key_id=target.pk if target is not None else None,
        target_hint=target.key_hint if target is not None else "",
        details=details or {},
    )
