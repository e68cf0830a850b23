"""Credentials that cannot be refreshed expire on their date (or when AWS says so); owners hear once, and daily."""

import io
import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok import tasks
from byok.models import ProviderKey
from byok.models.keys import CredentialReminder
from byok.services.expiry import credential_expiry_sweep, credential_reminders_send, provider_key_mark_expired
from tests.byok.routing_helpers import key_for
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

ASIA_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN0123"


@pytest.fixture
def temporary(sandbox, owner_team):
    account = sandbox.add_account("bedrock", session_token=ASIA_TOKEN)
    return key_for(owner_team[0], account, name="Temporary", scope="selected", workspaces=[owner_team[1]]), account


@pytest.fixture
def bedrock_api_key(sandbox, owner_team):
    account = sandbox.add_account("bedrock_api_key")
    second_workspace = WorkspaceFactory(owner=owner_team[0])
    return key_for(owner_team[0], account, provider="bedrock_api_key", scope="selected", workspaces=[second_workspace])


def set_expiry(key, moment):
    ProviderKey.objects.filter(pk=key.pk).update(expires_at=moment)
    key.refresh_from_db()


def expired_events(key):
    return AuditEvent.objects.filter(action=AuditAction.KEY_EXPIRED, target_key_id=key.pk)


@pytest.mark.parametrize("kind", ["temporary", "bedrock_api_key"])
def test_past_expiry_is_recorded_and_emailed_once(request, kind, django_capture_on_commit_callbacks, ship_audit):
    key = request.getfixturevalue(kind)
    key = key[0] if isinstance(key, tuple) else key
    set_expiry(key, timezone.now() + timedelta(hours=1))
    assert credential_expiry_sweep() == []
    set_expiry(key, timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.expire_credentials.apply().result == [key.pk]
        assert credential_expiry_sweep() == []
    assert key.status == ProviderKey.Status.EXPIRED
    assert [e.details["learned_from"] for e in expired_events(key)] == ["expiry date"]
    ship_audit()
    ship_audit()
    assert len(mail.outbox) == 1 and key.key_hint in mail.outbox[0].subject
    assert "Rotate" in mail.outbox[0].body


def test_new_credentials_with_a_later_expiry_expire_again(temporary):
    key, _ = temporary
    set_expiry(key, timezone.now() - timedelta(minutes=1))
    assert credential_expiry_sweep() == [key.pk]
    set_expiry(key, timezone.now() + timedelta(seconds=1))  # as if renewed …
    time.sleep(1.1)  # … and past again
    assert credential_expiry_sweep() == [key.pk]
    assert expired_events(key).count() == 2


def test_an_expired_token_answer_teaches_the_expiry(temporary):
    key, _ = temporary
    assert key.expires_at > timezone.now() + timedelta(days=365)  # the owner said 2099
    assert provider_key_mark_expired(key_id=key.pk, provider_code="ExpiredTokenException") is True
    assert provider_key_mark_expired(key_id=key.pk, provider_code="ExpiredTokenException") is False
    key.refresh_from_db()
    assert key.status == ProviderKey.Status.EXPIRED and key.expires_at <= timezone.now()
    assert [e.details["learned_from"] for e in expired_events(key)] == ["provider answer ExpiredTokenException"]


def test_long_term_keys_are_never_marked_expired(akia):
    key, _ = akia
    assert provider_key_mark_expired(key_id=key.pk, provider_code="ExpiredTokenException") is False
    key.refresh_from_db()
    assert key.expires_at is None


def test_daily_reminder_lists_keys_by_hint_once_per_day(sandbox, temporary, bedrock_api_key, akia, owner_team):
    owner = owner_team[0]
    temp_key, temp_account = temporary
    akia_key, akia_account = akia
    set_expiry(temp_key, timezone.now() - timedelta(days=1))
    set_expiry(bedrock_api_key, timezone.now() + timedelta(days=3))
    ProviderKey.objects.filter(pk=akia_key.pk).update(created_at=timezone.now() - timedelta(days=120))
    quiet_owner = BusinessUserFactory()
    key_for(quiet_owner, sandbox.add_account("bedrock"))

    assert tasks.notify_expiring_credentials.apply().result == 1
    assert tasks.notify_expiring_credentials.apply().result == 0  # same day: nothing more
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.email]
    for key in (temp_key, bedrock_api_key, akia_key):
        assert key.key_hint in email.body
    for secret in (temp_account.secret_access_key, ASIA_TOKEN, akia_account.secret_access_key):
        assert secret not in email.body
    assert "Expired" in email.body and "Expiring soon" in email.body and "120 days" in email.body
    assert CredentialReminder.objects.get().key_ids == sorted([temp_key.pk, bedrock_api_key.pk, akia_key.pk])

    tomorrow = timezone.now() + timedelta(days=1)
    assert credential_reminders_send(now=tomorrow) == 1 and len(mail.outbox) == 2


def test_credential_expiry_report_command(temporary, akia):
    key, _ = temporary
    set_expiry(key, timezone.now() + timedelta(days=2))
    out = io.StringIO()
    call_command("credential_expiry_report", "--json", stdout=out)
    assert [(n["key_id"], n["kind"], n["key_hint"]) for n in json.loads(out.getvalue())] == [
        (key.pk, "expiring", key.key_hint)]
    out = io.StringIO()
    call_command("credential_expiry_report", stdout=out)
    assert "expiring" in out.getvalue() and key.key_hint in out.getvalue()


def test_refresh_session_tokens_command(sandbox, akia, owner_team):
    key, account = akia
    out = io.StringIO()
    call_command("refresh_session_tokens", "--dry-run", "--json", stdout=out)
    assert [(o["key_id"], o["status"]) for o in json.loads(out.getvalue())] == [(key.pk, "due")]
    assert sandbox.calls("sts.GetSessionToken") == {}
    out = io.StringIO()
    call_command("refresh_session_tokens", "--owner", owner_team[0].username, stdout=out)
    assert f"refreshed key {key.pk} {key.key_hint}" in out.getvalue() and "1 refreshed" in out.getvalue()
    with pytest.raises(CommandError, match="No user named"):
        call_command("refresh_session_tokens", "--owner", "nobody")


def test_refresh_session_tokens_command_fails_when_a_refresh_fails(sandbox, owner_team):
    key = key_for(owner_team[0], sandbox.add_account("bedrock", sts_get_session_token=False))
    with pytest.raises(CommandError, match=f"key {key.pk} .*permission_denied"):
        call_command("refresh_session_tokens", stdout=io.StringIO())
