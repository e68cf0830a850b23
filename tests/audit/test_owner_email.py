"""The owner-email sink: the events an owner must hear about are emailed once each, and a mail outage loses none."""

import pytest
from django.core import mail

from audit.models import AuditAction, AuditDelivery, AuditSink
from audit.services.record import audit_record
from byok.services.keys import provider_key_create
from tests.byok.keys_data import ANTHROPIC
from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def failing_key_event():
    owner = BusinessUserFactory()
    key = provider_key_create(owner=owner, provider="anthropic", name="Main", credentials=ANTHROPIC, skip_test=True)
    audit_record(action=AuditAction.FALLBACK_ACTIVATED, actor=None, system_actor="routing", owner=owner, target=key,
                 details={"category": "invalid_credentials", "hint": "Copy the key again.", "provider_code": "401"})
    return owner, key


def test_a_mail_outage_delays_the_email_and_loses_nothing(failing_key_event, ship_audit, settings):
    owner, key = failing_key_event
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 1  # nothing listens
    assert ship_audit()["failed"] == 1
    assert not AuditDelivery.objects.filter(sink=AuditSink.OWNER_EMAIL).exists()

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ship_audit()
    ship_audit()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email] and key.key_hint in mail.outbox[0].subject
    assert ANTHROPIC["api_key"] not in mail.outbox[0].body
    assert AuditDelivery.objects.filter(sink=AuditSink.OWNER_EMAIL).count() == 1


def test_only_events_an_owner_must_act_on_are_emailed(failing_key_event, ship_audit):
    ship_audit()
    assert [m.subject.split(":")[1].strip()[:8] for m in mail.outbox] == ["your key"]
    emailed = AuditDelivery.objects.filter(sink=AuditSink.OWNER_EMAIL).values_list("event__action", flat=True)
    assert list(emailed) == [AuditAction.FALLBACK_ACTIVATED]
