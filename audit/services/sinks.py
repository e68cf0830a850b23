"""Shipping: each chained event goes once to each active sink, after commit (the task) or later (the sweep).

The sinks are a registry. The log and webhook sinks are the audit app's own; other apps register theirs when
they start (byok registers the owner-email sink in ByokConfig.ready()). A sink's name is an AuditSink value, as
stored in AuditDelivery.
"""

import hashlib
import hmac
import http.client
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import AuditDelivery, AuditEvent, AuditSink, audit_chain_filter
from .chain import audit_chain_extend, audit_event_record, canonical_json

logger = logging.getLogger(__name__)
audit_log = logging.getLogger("byok.audit")

SHIP_BATCH = 200
WEBHOOK_TIMEOUT_SECONDS = 10


class AuditShippingFailed(Exception):
    """A sink (the webhook, the mail server) did not take an event; the task retries with backoff and the sweep
    tries again later."""


# --- The registry --------------------------------------------------------------------------------------------

# ship(event=..., line=...) ships one event (`line` is its record as canonical JSON); it raises AuditShippingFailed
# when the sink is unavailable, so the delivery is retried rather than recorded.
Shipper = Callable[..., None]


@dataclass(frozen=True)
class Sink:
    name: str
    ship: Shipper
    actions: tuple[str, ...] | None = None  # only events with these actions; None: every event
    enabled: Callable[[], bool] = lambda: True


_SINKS: dict[str, Sink] = {}


def register_sink(
    name: str, ship: Shipper, *, actions: Iterable[str] | None = None, enabled: Callable[[], bool] | None = None
) -> None:
    """Ship every chained event (or only those with `actions`) to `ship`, once. Registering a name again replaces
    the sink."""
    if name not in AuditSink.values:
        raise ValueError(f"{name!r} is not an AuditSink value: add it there, AuditDelivery stores it.")
    _SINKS[name] = Sink(name=name, ship=ship, actions=tuple(actions) if actions is not None else None,
                        enabled=enabled or (lambda: True))


def audit_active_sinks() -> list[Sink]:
    """The enabled sinks, in the order they were registered, the webhook last: when the webhook is down the task
    retries, and the other sinks must not wait for it."""
    return sorted((sink for sink in _SINKS.values() if sink.enabled()), key=lambda sink: sink.name == AuditSink.WEBHOOK)


# --- The audit app's own sinks -------------------------------------------------------------------------------


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


register_sink(AuditSink.LOG, _ship_to_log)
register_sink(AuditSink.WEBHOOK, _ship_to_webhook, enabled=lambda: bool(settings.BYOK_AUDIT_WEBHOOK_URL))


# --- Shipping ------------------------------------------------------------------------------------------------


def _deliver(*, event: AuditEvent, sink: Sink) -> bool:
    """Ship once: the delivery row is inserted first, as a claim, and kept only if shipping succeeded.

    A second run (or a concurrent worker, which waits on the unique row) hits the constraint and ships nothing.
    """
    try:
        with transaction.atomic():
            AuditDelivery.objects.create(event=event, sink=sink.name)
            sink.ship(event=event, line=canonical_json(audit_event_record(event)))
    except IntegrityError:
        return False
    return True


def _undelivered(*, sink: Sink, events: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
    if sink.actions is not None:
        events = events.filter(action__in=sink.actions)
    return events.filter(chained_at__isnull=False).exclude(deliveries__sink=sink.name)


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
                logger.warning("Audit sweep could not ship event %s to %s: %s", event.pk, sink.name, exc)
                break
    return {"chained": chained, "delivered": delivered, "failed": failed}
