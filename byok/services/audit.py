"""The audit trail: recording events, chaining and shipping them after commit, verifying and reading the chains.

An event is written in the transaction of the change it records (`audit_record`). After commit a task gets its id
(never its content), links the owner's pending events into their hash chain and ships each event once per sink.
A periodic sweep does the same for anything a lost task or a broker outage left behind.
"""

import csv
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, timedelta
from functools import partial
from typing import TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.request_context import current_request_context

from ..models import AuditAction, AuditEvent
from ..models.audit import (
    GENESIS_HASH,
    AuditChainHead,
    AuditDelivery,
    AuditSink,
    audit_chain_filter,
    audit_chain_name,
)

User = get_user_model()
logger = logging.getLogger(__name__)
audit_log = logging.getLogger("byok.audit")

CHAIN_BATCH = 1000
SHIP_BATCH = 200
WEBHOOK_TIMEOUT_SECONDS = 10
# One quick retry, then give up: the request that committed the event must not wait on a dead broker.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


class AuditShippingFailed(Exception):
    """A sink (the webhook, the mail server) did not take an event; the task retries with backoff and the sweep
    tries again later."""


# --- Recording -----------------------------------------------------------------------------------------------


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
    from byok import tasks  # here, not at the top: the tasks module imports this one

    try:
        tasks.audit_event_process.apply_async(args=(event_id,), retry=True, retry_policy=PUBLISH_RETRY_POLICY)
    except (BrokerUnavailable, OSError) as exc:
        # The exception text can carry the broker address; its class is enough to diagnose.
        logger.warning("Audit event %s is stored but was not queued (%s); the sweep will ship it.",
                       event_id, type(exc).__name__)


# --- The hash chain ------------------------------------------------------------------------------------------


def _canonical_json(value: dict) -> str:
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


def audit_content_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical_json(audit_event_content(event)).encode()).hexdigest()


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


# --- Shipping ------------------------------------------------------------------------------------------------


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


def audit_webhook_signature(*, body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    # A redirected POST would turn into a GET without the event, yet look delivered.
    def redirect_request(self, *args, **kwargs):
        return None


_webhook_opener = urllib.request.build_opener(_RefuseRedirects)


def _ship_to_log(*, event: AuditEvent, line: str) -> None:
    audit_log.info(line)


def _ship_to_webhook(*, event: AuditEvent, line: str) -> None:
    body = line.encode()
    request = urllib.request.Request(settings.BYOK_AUDIT_WEBHOOK_URL, data=body, method="POST", headers={
        "Content-Type": "application/json",
        "X-BYOK-Event-Id": str(event.pk),
        "X-BYOK-Signature": audit_webhook_signature(body=body, secret=settings.BYOK_AUDIT_WEBHOOK_SECRET),
    })
    try:
        with _webhook_opener.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, http.client.HTTPException) as exc:  # URLError, timeouts and resets are OSErrors
        raise AuditShippingFailed(f"webhook unreachable ({type(exc).__name__})") from exc
    if not 200 <= status < 300:
        raise AuditShippingFailed(f"webhook answered HTTP {status}")




def _ship_to_owner_email(*, event: AuditEvent, line: str) -> None:
    from .notifications import owner_event_email  # here: notifications reads models this module defines

    try:
        owner_event_email(event=event)
    except (smtplib.SMTPException, OSError) as exc:
        raise AuditShippingFailed(f"mail server unavailable ({type(exc).__name__})") from exc


# Events an owner must hear about at once. The owner-email sink ships only these: once per event, durably, like
# the other sinks (a mail outage delays the email; the sweep sends it later).
OWNER_EMAIL_ACTIONS = (AuditAction.FALLBACK_ACTIVATED, AuditAction.BYOK_RECOVERED,
                       AuditAction.SESSION_REFRESH_FAILED, AuditAction.KEY_EXPIRED)


_SHIPPERS = {AuditSink.LOG: _ship_to_log, AuditSink.WEBHOOK: _ship_to_webhook,
             AuditSink.OWNER_EMAIL: _ship_to_owner_email}


def audit_active_sinks() -> list[str]:
    return [AuditSink.LOG, AuditSink.OWNER_EMAIL] + ([AuditSink.WEBHOOK] if settings.BYOK_AUDIT_WEBHOOK_URL else [])


def _deliver(*, event: AuditEvent, sink: str) -> bool:
    """Ship once: the delivery row is inserted first, as a claim, and kept only if shipping succeeded.

    A second run (or a concurrent worker, which waits on the unique row) hits the constraint and ships nothing.
    """
    try:
        with transaction.atomic():
            AuditDelivery.objects.create(event=event, sink=sink)
            _SHIPPERS[sink](event=event, line=_canonical_json(audit_event_record(event)))
    except IntegrityError:
        return False
    return True


def _undelivered(*, sink: str, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    if sink == AuditSink.OWNER_EMAIL:
        events = events.filter(action__in=OWNER_EMAIL_ACTIONS)
    return events.filter(chained_at__isnull=False).exclude(deliveries__sink=sink)


def audit_event_chain_and_ship(*, event_id: int) -> int:
    """Chain the event's owner's pending events, then ship that chain's unshipped events up to this one.

    Returns how many deliveries were made. A webhook failure propagates (the task retries); what was shipped stays.
    """
    owner_ids = AuditEvent.objects.filter(pk=event_id).values_list("owner_id", flat=True)
    if not owner_ids:
        logger.warning("Audit event %s does not exist; nothing to chain or ship.", event_id)
        return 0
    owner_id = owner_ids[0]
    audit_chain_extend(owner_id=owner_id)
    chain_events = AuditEvent.objects.filter(audit_chain_filter(owner_id=owner_id), pk__lte=event_id)
    delivered = 0
    for sink in audit_active_sinks():
        for event in _undelivered(sink=sink, events=chain_events).order_by("chain_sequence")[:SHIP_BATCH]:
            delivered += _deliver(event=event, sink=sink)
    return delivered


def audit_pending_sweep() -> dict[str, int]:
    """Chain and ship committed events that no task handled (lost task, broker outage).

    Events younger than BYOK_AUDIT_SWEEP_GRACE_SECONDS are left to the task queued when they committed.
    """
    grace = timedelta(seconds=settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS)
    stale = AuditEvent.objects.filter(created_at__lt=timezone.now() - grace)
    chained = 0
    owner_ids = set(stale.filter(chained_at__isnull=True).order_by().values_list("owner_id", flat=True).distinct())
    for owner_id in owner_ids:
        while batch := audit_chain_extend(owner_id=owner_id):
            chained += len(batch)
    delivered = failed = 0
    for sink in audit_active_sinks():
        for event in _undelivered(sink=sink, events=stale).order_by("owner_id", "chain_sequence")[:SHIP_BATCH]:
            try:
                delivered += _deliver(event=event, sink=sink)
            except AuditShippingFailed as exc:
                failed += 1
                # The endpoint is down: stop hammering it; the next sweep tries again.
                logger.warning("Audit sweep could not ship event %s to %s: %s", event.pk, sink, exc)
                break
    return {"chained": chained, "delivered": delivered, "failed": failed}


# --- Verification --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    event_id: int | None
    chain_sequence: int | None
    problem: str
    expected: str
    found: str


@dataclass(frozen=True)
class ChainReport:
    chain: str
    owner: str
    verified_events: int
    pending_events: int
    broken: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict:
        return {**asdict(self), "intact": self.intact}


def _owner_label(owner_id: int | None) -> str:
    if owner_id is None:
        return "(system)"
    username = User.objects.filter(pk=owner_id).values_list("username", flat=True).first()
    return username or f"(deleted user {owner_id})"


def audit_chain_verify(*, owner_id: int | None) -> ChainReport:
    """Recompute one chain from its first event and report the first link that does not hold."""
    chain = audit_chain_name(owner_id=owner_id)
    events = AuditEvent.objects.filter(audit_chain_filter(owner_id=owner_id))
    previous_hash, expected_sequence, broken = GENESIS_HASH, 1, None
    for event in events.filter(chained_at__isnull=False).order_by("chain_sequence").iterator(chunk_size=2000):
        broken = _first_broken_link(event=event, expected_sequence=expected_sequence, previous_hash=previous_hash)
        if broken:
            break
        previous_hash, expected_sequence = event.chain_hash, expected_sequence + 1
    verified = expected_sequence - 1
    head = AuditChainHead.objects.filter(chain=chain).first()
    if broken is None and head is not None and (head.sequence, head.last_hash) != (verified, previous_hash):
        broken = ChainBreak(event_id=None, chain_sequence=verified + 1,
                            problem="the chain ends early: its last events are missing",
                            expected=f"{head.sequence} events ending in {head.last_hash}",
                            found=f"{verified} events ending in {previous_hash}")
    elif broken is None and head is None and verified:
        broken = ChainBreak(event_id=None, chain_sequence=None, problem="the chain head is missing",
                            expected=f"a head at sequence {verified}", found="none")
    return ChainReport(chain=chain, owner=_owner_label(owner_id), verified_events=verified,
                       pending_events=events.filter(chained_at__isnull=True).count(), broken=broken)


def _first_broken_link(*, event: AuditEvent, expected_sequence: int, previous_hash: str) -> ChainBreak | None:
    def brk(problem: str, expected, found) -> ChainBreak:
        return ChainBreak(event_id=event.pk, chain_sequence=event.chain_sequence, problem=problem,
                          expected=str(expected), found=str(found))

    if event.chain_sequence != expected_sequence:
        return brk("an event is missing before this one (sequence gap)", expected_sequence, event.chain_sequence)
    if event.previous_hash != previous_hash:
        return brk("previous_hash does not match the event before it", previous_hash, event.previous_hash)
    content_hash = audit_content_hash(event)
    if content_hash != event.content_hash:
        return brk("the event's content was changed after it was chained", event.content_hash, content_hash)
    chain_hash = audit_chain_hash(previous_hash=previous_hash, chain_sequence=expected_sequence,
                                  content_hash=content_hash)
    if chain_hash != event.chain_hash:
        return brk("the event's chain hash was changed", chain_hash, event.chain_hash)
    return None


def audit_chain_owner_ids() -> list[int | None]:
    """Every chain that has events or a head (a head without events means they were removed)."""
    from_events = set(AuditEvent.objects.order_by().values_list("owner_id", flat=True).distinct())
    from_heads = {None if chain == "system" else int(chain.removeprefix("owner:"))
                  for chain in AuditChainHead.objects.values_list("chain", flat=True)}
    return sorted(from_events | from_heads, key=lambda owner_id: (owner_id is not None, owner_id or 0))


# --- Reads ---------------------------------------------------------------------------------------------------


# --- Export --------------------------------------------------------------------------------------------------

EXPORT_FORMATS = ("jsonl", "csv")
_EXPORT_COLUMNS = [
    "id", "created_at", "action", "actor_id", "actor_label", "actor_ip", "actor_user_agent", "request_id",
    "owner_id", "workspace_id", "target_key_id", "target_hint", "details",
    "chain", "chain_sequence", "previous_hash", "content_hash", "chain_hash",
]


def audit_events_export(*, events: Iterable[AuditEvent], export_format: str, output: TextIO) -> int:
    """Write events oldest first, with their chain columns so the copy can be checked against the chain."""
    count = 0
    writer = csv.DictWriter(output, fieldnames=_EXPORT_COLUMNS) if export_format == "csv" else None
    if writer:
        writer.writeheader()
    for event in events:
        record = audit_event_record(event)
        if writer:
            writer.writerow({**record, "details": _canonical_json(record["details"])})
        else:
            output.write(_canonical_json(record) + "\n")
        count += 1
    return count
