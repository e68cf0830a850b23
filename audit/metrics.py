"""Metrics read from the audit trail: transitions it records (breaker, sessions, lockouts) and its backlog."""

from django.db import transaction
from django.db.models.signals import post_save
from prometheus_client.core import GaugeMetricFamily

from core import metrics

from .models import AuditAction, AuditEvent

_COUNTED = {
    AuditAction.FALLBACK_ACTIVATED: lambda event: metrics.BREAKER.labels(transition="open").inc(),
    AuditAction.BYOK_RECOVERED: lambda event: metrics.BREAKER.labels(transition="close").inc(),
    AuditAction.SESSION_REFRESHED: lambda event: metrics.SESSION_REFRESHES.labels(outcome="ok").inc(),
    AuditAction.SESSION_REFRESH_FAILED: lambda event: metrics.SESSION_REFRESHES.labels(outcome="failed").inc(),
    AuditAction.LOGIN_LOCKED_OUT: lambda event: metrics.LOGIN_LOCKOUTS.labels(
        locked=event.details.get("locked", "-")).inc(),
}


def _count(sender, instance: AuditEvent, created: bool, **kwargs) -> None:
    count = _COUNTED.get(instance.action)
    if created and count is not None:
        transaction.on_commit(lambda: count(instance))  # counted only if the change it records commits


def audit_backlog():
    """Events not yet chained, and chained events not yet delivered to each active sink."""
    from .services.sinks import _undelivered, audit_active_sinks

    gauge = GaugeMetricFamily("byok_audit_backlog", "Audit events waiting: unchained, or undelivered per sink.",
                              labels=["state", "sink"])
    gauge.add_metric(["unchained", ""], AuditEvent.objects.filter(chained_at__isnull=True).count())
    for sink in audit_active_sinks():
        gauge.add_metric(["undelivered", sink.name], _undelivered(sink=sink, events=AuditEvent.objects.all()).count())
    yield gauge


def connect() -> None:
    post_save.connect(_count, sender=AuditEvent, dispatch_uid="byok-audit-metrics")
    metrics.register_scrape_collector(audit_backlog)
