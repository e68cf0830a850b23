"""Committed events are chained and shipped once per sink, even when tasks run twice or the broker is down."""

import hashlib
import hmac
import logging
import time

import pytest
from django.conf import settings as django_settings

from accounts.services import user_plan_change
from audit import tasks
from audit.models import AuditDelivery, AuditEvent
from audit.services.sinks import AuditShippingFailed, audit_event_chain_and_ship, audit_pending_sweep
from byok.services.keys import provider_key_disable, provider_key_enable
from tests.byok.keys_data import ANTHROPIC

from .conftest import broker_unreachable


def deliveries(sink: str = "log") -> list[int]:
    return sorted(AuditDelivery.objects.filter(sink=sink).values_list("event_id", flat=True))


@pytest.mark.django_db
def test_processing_chains_and_ships_each_event_once_even_when_run_twice(owner, audit_lines):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    event = AuditEvent.objects.get()
    assert audit_event_chain_and_ship(event_id=event.pk) == 1
    assert audit_event_chain_and_ship(event_id=event.pk) == 0

    assert deliveries() == [event.pk]
    [shipped] = audit_lines.events()
    event.refresh_from_db()
    assert (shipped["id"], shipped["action"], shipped["chain"]) == (event.pk, "PLAN_CHANGED", f"owner:{owner.pk}")
    assert (shipped["chain_sequence"], shipped["chain_hash"]) == (1, event.chain_hash)


@pytest.mark.django_db
def test_processing_an_event_also_ships_the_earlier_pending_events_of_its_owner(owner, bedrock_key, audit_lines):
    provider_key_disable(key=bedrock_key, actor=owner)
    provider_key_enable(key=bedrock_key, actor=owner)
    first, second, third = AuditEvent.objects.filter(owner=owner).order_by("id")
    assert audit_event_chain_and_ship(event_id=third.pk) == 3
    assert [line["id"] for line in audit_lines.events()] == [first.pk, second.pk, third.pk]
    assert [line["chain_sequence"] for line in audit_lines.events()] == [1, 2, 3]


@pytest.mark.django_db
def test_webhook_receives_each_event_signed_with_hmac(owner, webhook, audit_lines):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    event = AuditEvent.objects.get()
    audit_event_chain_and_ship(event_id=event.pk)
    audit_event_chain_and_ship(event_id=event.pk)

    [(headers, body)] = webhook.received
    expected = hmac.new(b"whsec-test-0123456789", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-BYOK-Signature"], f"sha256={expected}")
    assert headers["X-BYOK-Event-Id"] == str(event.pk)
    assert body.decode() == audit_lines.lines[0]
    assert deliveries("webhook") == deliveries("log") == [event.pk]


@pytest.mark.django_db
def test_a_failing_webhook_records_no_delivery_and_the_next_run_ships_it_once(owner, webhook, audit_lines):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    event = AuditEvent.objects.get()
    webhook.fail_with = 503
    with pytest.raises(AuditShippingFailed, match="HTTP 503"):
        audit_event_chain_and_ship(event_id=event.pk)
    assert (deliveries("log"), deliveries("webhook")) == ([event.pk], [])

    webhook.fail_with = None
    audit_event_chain_and_ship(event_id=event.pk)
    assert len(webhook.received) == 1 and len(audit_lines.lines) == 1
    assert deliveries("webhook") == [event.pk]


def test_event_task_retries_webhook_failures_with_bounded_backoff_and_time_limits():
    task = tasks.audit_event_process
    assert task.autoretry_for == (AuditShippingFailed,)
    assert task.retry_backoff and task.retry_jitter and 0 < task.max_retries <= 10
    assert task.soft_time_limit < task.time_limit and tasks.audit_sweep.time_limit
    assert task.ignore_result  # nobody reads results; and no result backend is touched when publishing


@pytest.mark.django_db(transaction=True)
def test_the_sweep_runs_every_minute_from_the_database_schedule():
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from byok_project.celery import app

    DatabaseScheduler(app=app)  # what `celery beat` does at start: copies CELERY_BEAT_SCHEDULE into the database
    periodic = PeriodicTask.objects.get(name="byok-audit-sweep")
    assert (periodic.task, periodic.interval.every, periodic.interval.period) == (
        "audit.tasks.audit_sweep", 60, "seconds")


@pytest.mark.django_db
def test_the_sweep_leaves_young_events_to_their_task_then_ships_them_once(owner, settings, audit_lines):
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    assert audit_pending_sweep() == {"chained": 0, "delivered": 0, "failed": 0}

    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0
    assert audit_pending_sweep() == {"chained": 1, "delivered": 1, "failed": 0}
    assert audit_pending_sweep() == {"chained": 0, "delivered": 0, "failed": 0}
    assert len(audit_lines.lines) == 1


@pytest.mark.django_db
def test_the_sweep_stops_at_a_failing_webhook_and_catches_up_later(owner, bedrock_key, settings, webhook):
    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0
    provider_key_disable(key=bedrock_key, actor=owner)
    webhook.fail_with = 500
    assert audit_pending_sweep() == {"chained": 2, "delivered": 2, "failed": 1}  # both to the log, none hooked
    webhook.fail_with = None
    assert audit_pending_sweep() == {"chained": 0, "delivered": 2, "failed": 0}
    assert len(webhook.received) == 2


# Serialized rollback: the plans seeded by a data migration survive the flush that transactional tests end with.
@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_changes_succeed_and_the_sweep_later_ships_each_once(
    client_for, owner, settings, caplog, audit_lines,
):
    client = client_for(owner)
    with broker_unreachable(), caplog.at_level(logging.WARNING, logger="audit.services.record"):
        started = time.monotonic()
        response = client.post("/api/v1/provider-keys/", {
            "provider": "anthropic", "name": "Claude", "credentials": ANTHROPIC, "skip_test": True}, format="json")
        elapsed = time.monotonic() - started
        assert client.post(f"/api/v1/provider-keys/{response.json()['id']}/disable/").status_code == 200

    assert response.status_code == 201, response.json()
    assert elapsed < 5  # publishing gave up quickly instead of holding the request
    events = list(AuditEvent.objects.filter(owner=owner).order_by("id"))
    assert [e.action for e in events] == ["KEY_CREATED", "KEY_DISABLED"]
    assert all(e.chained_at is None for e in events) and not AuditDelivery.objects.exists()
    warnings = [r.getMessage() for r in caplog.records if r.name == "audit.services.record"]
    assert warnings == [f"Audit event {e.pk} is stored but was not queued (OperationalError); the sweep will ship it."
                        for e in events]
    assert all("redis://" not in w and django_settings.CELERY_BROKER_URL not in w for w in warnings)

    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0
    assert audit_pending_sweep()["delivered"] == 2
    assert audit_pending_sweep()["delivered"] == 0
    assert [line["id"] for line in audit_lines.events()] == [e.pk for e in events]
    assert deliveries() == [e.pk for e in events]
