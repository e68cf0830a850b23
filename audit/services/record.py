"""Recording an event: written in the transaction of the change it records, handed to a worker after commit.

The worker gets the event's id (never its content), links the owner's pending events into their hash chain and
ships each event once per sink (audit/services/sinks.py). A broker outage is the sweep's to make up for.
"""

import logging
from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.broker import PUBLISH_RETRY_POLICY
from core.request_context import current_request_context

from ..models import AuditAction, AuditEvent
from ..tasks import audit_event_process

User = get_user_model()
logger = logging.getLogger(__name__)


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
    event = AuditEvent.objects.create(
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
    transaction.on_commit(partial(_queue_processing, event_id=event.pk))
    return event


def _queue_processing(*, event_id: int) -> None:
    """Hand a committed event to a worker. A broker outage must not fail the change: the sweep ships it later."""
    try:
        audit_event_process.apply_async(args=(event_id,), retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except (BrokerUnavailable, OSError) as exc:
        # The exception text can carry the broker address; its class is enough to diagnose.
        logger.warning("Audit event %s is stored but was not queued (%s); the sweep will ship it.",
                       event_id, type(exc).__name__)
