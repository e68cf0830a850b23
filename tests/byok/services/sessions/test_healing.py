"""A long-term key whose sessions the provider forgot (the simulator forgets them, as AWS revoking them would) heals
without anyone acting: the refused session is renewed at once, at most once per cool-down; the cycle renews the
session of a key a refused session failed; a passing connection test renews it and closes the breakers it proves
wrong."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditAction, AuditEvent
from byok import llm
from byok.models import ProviderKey
from byok.services import sessions
from byok.services.connection import current_tier_models, provider_key_test_connection
from byok.simulator.accounts import new_account
from tests.byok.routing_helpers import MESSAGES, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads


def sts_calls(sandbox, account) -> int:
    return sandbox.calls("sts.GetSessionToken").get(account.access_key_id, 0)


def with_forgotten_session(sandbox, key) -> str:
    """The key holds a session the provider no longer knows; returns that stored session."""
    assert sessions.session_refresh(key_id=key.pk).status == "refreshed"
    assert sandbox.server.forget_sessions() >= 1
    return ProviderKey.objects.get(pk=key.pk).session_secret


def failing_on_refused_session(key, **fields) -> None:
    """The key's breaker as a call on a refused session leaves it (FALLBACK_ACTIVATED, invalid_credentials)."""
    now = timezone.now()
    ProviderKey.objects.filter(pk=key.pk).update(failing_since=now, failure_reason="invalid_credentials",
                                                 breaker_open_until=now + timedelta(minutes=5), **fields)


def test_a_refused_session_is_renewed_at_once_and_the_next_call_runs_on_the_owners_key(sandbox, akia, owner_team,
                                                                                       settings):
    key, account = akia
    _, workspace, member = owner_team
    use_platform_account(settings, sandbox)
    refused = with_forgotten_session(sandbox, key)
    outcome = sessions.session_renew_refused(key_id=key.pk, refused=refused)
    assert outcome.status == "refreshed" and sts_calls(sandbox, account) == 2
    assert llm.complete(user=member, workspace=workspace, messages=MESSAGES).source == "byok"


def test_the_call_path_renews_a_refused_session_and_serves_on_the_owners_key(sandbox, akia, owner_team, settings):
    key, account = akia
    _, workspace, member = owner_team
    use_platform_account(settings, sandbox)
    assert llm.complete(user=member, workspace=workspace, messages=MESSAGES).source == "byok"
    assert sandbox.server.forget_sessions() >= 1  # mid-traffic: every session the provider issued is gone
    healed = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (healed.source, healed.fallback_reason) == ("byok", "")
    assert sts_calls(sandbox, account) == 2  # one new session, at once, nobody acting
    key.refresh_from_db()
    assert key.failing_since is None


def test_concurrent_refusals_of_one_session_make_one_renewal(sandbox, akia):
    key, account = akia
    refused = with_forgotten_session(sandbox, key)
    first = sessions.session_renew_refused(key_id=key.pk, refused=refused)
    second = sessions.session_renew_refused(key_id=key.pk, refused=refused)
    assert (first.status, second.status, second.reason) == ("refreshed", "skipped", "fresh")
    assert sts_calls(sandbox, account) == 2


def test_a_refused_session_is_renewed_at_most_once_per_cooldown(sandbox, akia, settings):
    key, account = akia
    settings.BYOK_BREAKER_COOLDOWN_SECONDS = 1
    refused = with_forgotten_session(sandbox, key)
    sessions.session_renew_refused(key_id=key.pk, refused=refused)
    renewed = ProviderKey.objects.get(pk=key.pk).session_secret
    again = sessions.session_renew_refused(key_id=key.pk, refused=renewed)  # the new session refused too
    assert (again.status, again.reason) == ("skipped", "renewed_recently") and sts_calls(sandbox, account) == 2
    time.sleep(2.1)  # the test settings' database cache keeps expiries to the second
    assert sessions.session_renew_refused(key_id=key.pk, refused=renewed).status == "refreshed"
    assert sts_calls(sandbox, account) == 3


def test_a_key_sts_refuses_is_failing_and_its_renewal_waits_a_cooldown(sandbox, akia):
    key, account = akia
    refused = with_forgotten_session(sandbox, key)
    sandbox.server.add_accounts([new_account("bedrock", name=account.name)])  # AWS revoked the long-term key
    outcome = sessions.session_renew_refused(key_id=key.pk, refused=refused)
    assert (outcome.status, outcome.reason) == ("failed", "invalid_credentials")
    assert ProviderKey.objects.get(pk=key.pk).status == ProviderKey.Status.FAILING
    assert sessions.session_renew_refused(key_id=key.pk, refused=refused).reason == "renewed_recently"
    assert sts_calls(sandbox, account) == 2


def test_the_cycle_renews_the_session_of_a_key_a_refused_session_failed_and_the_next_call_heals_it(
        sandbox, akia, owner_team, settings):
    key, account = akia
    _, workspace, member = owner_team
    use_platform_account(settings, sandbox)
    with_forgotten_session(sandbox, key)
    failing_on_refused_session(key)
    assert list(sessions.session_keys_due().values_list("pk", flat=True)) == [key.pk]  # its session is not expiring
    assert llm.complete(user=member, workspace=workspace, messages=MESSAGES).source == "platform"  # cooling down
    assert sessions.session_refresh(key_id=key.pk).status == "refreshed"
    assert sessions.session_refresh(key_id=key.pk).status == "skipped" and sts_calls(sandbox, account) == 2
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("byok", "")
    assert ProviderKey.objects.get(pk=key.pk).failing_since is None
    assert AuditEvent.objects.filter(action=AuditAction.BYOK_RECOVERED, target_key_id=key.pk).count() == 1
    assert list(sessions.session_keys_due()) == []


def test_a_passing_connection_test_renews_the_session_and_closes_the_breakers_it_proves_wrong(
        sandbox, akia, owner_team, settings):
    key, account = akia
    owner, workspace, member = owner_team
    use_platform_account(settings, sandbox)
    with_forgotten_session(sandbox, key)
    profile = key.provider_spec.inference_profiles[key.inference_profile or "global"]
    tested = profile.model_id(current_tier_models(key.provider_spec)["standard"])
    entry = {"since": timezone.now().isoformat(), "reason": "model_access",
             "until": (timezone.now() + timedelta(minutes=5)).isoformat()}
    failing_on_refused_session(key, model_breakers={tested: entry, "untested-model": entry})
    result = provider_key_test_connection(key=ProviderKey.objects.get(pk=key.pk), actor=owner)
    assert result.ok
    key.refresh_from_db()
    assert (key.failing_since, key.breaker_open_until, list(key.model_breakers)) == (None, None, ["untested-model"])
    tested_event = AuditEvent.objects.filter(action=AuditAction.CONNECTION_TESTED).latest("id")
    assert tested_event.details["breakers_closed"] == ["key", tested]
    assert tested_event.details["session"] == "refreshed"
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("byok", "")


def test_a_passing_test_of_a_healthy_key_leaves_its_session_alone(sandbox, akia, owner_team):
    key, account = akia
    owner = owner_team[0]
    sessions.session_refresh(key_id=key.pk)
    provider_key_test_connection(key=ProviderKey.objects.get(pk=key.pk), actor=owner)
    event = AuditEvent.objects.filter(action=AuditAction.CONNECTION_TESTED).latest("id")
    assert "breakers_closed" not in event.details and "session" not in event.details
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESHED).count() == 1
