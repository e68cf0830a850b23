"""A real Celery worker (the configured broker: filesystem locally, Redis in CI) chains and ships the trail."""


import pytest

from accounts.services import user_plan_change
from audit import tasks
from audit.models import AuditDelivery, AuditEvent
from byok.services.keys import provider_key_disable, provider_key_enable
from byok_project.celery import app
from tests.fixtures.workers import wait_until

from .conftest import broker_unreachable

# Serialized rollback: the plans seeded by a data migration survive the flush that transactional tests end with.
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def worker_idle() -> None:
    """The test worker runs one task at a time in order, so once a ping is answered what was queued before is done."""
    assert app.send_task("celery.ping").get(timeout=30) == "pong"


def test_worker_chains_and_ships_committed_events_and_a_second_run_ships_nothing(celery_worker, owner, bedrock_key,
                                                                                 audit_lines):
    provider_key_disable(key=bedrock_key, actor=owner)
    provider_key_enable(key=bedrock_key, actor=owner)
    events = list(AuditEvent.objects.filter(owner=owner).order_by("id"))

    wait_until(lambda: AuditDelivery.objects.count() == 3)
    assert sorted(AuditEvent.objects.values_list("chain_sequence", flat=True)) == [1, 2, 3]
    tasks.audit_event_process.delay(events[0].pk)
    tasks.audit_event_process.delay(events[0].pk)
    worker_idle()
    assert AuditDelivery.objects.count() == 3
    assert sorted(line["id"] for line in audit_lines.events()) == [e.pk for e in events]


def test_after_a_broker_outage_the_worker_sweep_ships_every_event_once(celery_worker, owner, settings, audit_lines):
    with broker_unreachable():
        user_plan_change(user=owner, plan_code="enterprise", actor=owner)
        user_plan_change(user=owner, plan_code="business", actor=owner)
    events = list(AuditEvent.objects.filter(owner=owner).order_by("id"))
    assert len(events) == 2 and not AuditDelivery.objects.exists()

    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0  # as if the beat's next minute had come
    tasks.audit_sweep.delay()
    tasks.audit_sweep.delay()
    worker_idle()
    assert sorted(AuditDelivery.objects.values_list("event_id", flat=True)) == [e.pk for e in events]
    assert [line["id"] for line in audit_lines.events()] == [e.pk for e in events]
