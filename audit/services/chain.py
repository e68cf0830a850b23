"""The hash chain: each owner's events, linked in order after commit; events that concern no owner form the
system chain. Changing, removing or reordering any chained event breaks every later link (audit/services/verify.py).
"""

import hashlib
import json
from datetime import UTC

from django.db import transaction

from ..models import AuditChainHead, AuditEvent, audit_chain_filter, audit_chain_name

CHAIN_BATCH = 1000


def canonical_json(value: dict) -> str:
    """The one serialisation that is hashed, shipped and exported."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def audit_event_content(event: AuditEvent) -> dict:
    """The immutable fields of an event, as hashed, shipped and exported."""
    return {
        "id": event.pk,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "actor_ip": event.actor_ip,
        "actor_user_agent": event.actor_user_agent,
        "request_id": event.request_id,
        "owner_id": event.owner_id,
        "workspace_id": event.workspace_id,
        "target_key_id": event.target_key_id,
        "target_hint": event.target_hint,
        "details": event.details,
    }


def audit_event_record(event: AuditEvent) -> dict:
    """The content plus its place in the chain: what the sinks and the export receive."""
    return {
        **audit_event_content(event),
        "chain": event.chain_name,
        "chain_sequence": event.chain_sequence,
        "previous_hash": event.previous_hash,
        "content_hash": event.content_hash,
        "chain_hash": event.chain_hash,
    }


def audit_content_hash(event: AuditEvent) -> str:
    return hashlib.sha256(canonical_json(audit_event_content(event)).encode()).hexdigest()


def audit_chain_hash(*, previous_hash: str, chain_sequence: int, content_hash: str) -> str:
    """The link: covers the previous link, so changing, removing or reordering any event breaks every later one."""
    return hashlib.sha256(f"{previous_hash}:{chain_sequence}:{content_hash}".encode()).hexdigest()


def audit_chain_extend(*, owner_id: int | None) -> list[AuditEvent]:
    """Link the owner's committed, unchained events (oldest first) to the end of their chain.

    The head row's lock serialises workers chaining the same owner, so the chain never forks; events are hashed as
    read back from the database, so verification later recomputes exactly the same bytes.
    """
    with transaction.atomic():
        head, _ = AuditChainHead.objects.select_for_update().get_or_create(chain=audit_chain_name(owner_id=owner_id))
        pending = list(
            AuditEvent.objects.filter(audit_chain_filter(owner_id=owner_id), chained_at__isnull=True)
            .order_by("id")[:CHAIN_BATCH]
        )
        for event in pending:
            sequence = head.sequence + 1
            content_hash = audit_content_hash(event)
            chain_hash = audit_chain_hash(previous_hash=head.last_hash, chain_sequence=sequence,
                                          content_hash=content_hash)
            AuditEvent.objects.link_into_chain(event_id=event.pk, chain_sequence=sequence,
                                               previous_hash=head.last_hash, content_hash=content_hash,
                                               chain_hash=chain_hash)
            head.sequence, head.last_hash = sequence, chain_hash
        if pending:
            head.save(update_fields=["sequence", "last_hash", "updated_at"])
    return pending
