"""Long-term regional credential sets get STS sessions of their own, refreshed together with the key's main session
and stored in the same encrypted value: their long-term secrets, too, only ever talk to STS."""

import pytest
from django.core import mail

from audit.models import AuditAction, AuditEvent
from byok import llm
from byok.models import ProviderKey, UsageRecord
from byok.providers.base import hint
from byok.services.sessions import SessionRefreshRetryable, session_refresh
from tests.byok.routing_helpers import MESSAGES, key_for, regional_set, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads

# The eu profile's default region: the sync path's calls go there, so a set for it serves them.
EU_DEFAULT = "eu-central-1"


@pytest.fixture
def regional_key(sandbox, owner_team):
    """An eu key: the main set on one account, a long-term set for eu-west-1 and eu-central-1 on another."""
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock")
    key = key_for(owner_team[0], main, inference_profile="eu",
                  regional_credentials=[regional_set(regional, "eu-west-1", EU_DEFAULT)])
    return key, main, regional


def stored_session(key: ProviderKey) -> dict:
    return ProviderKey.objects.get(pk=key.pk).get_session()


def test_a_refresh_stores_a_session_for_the_long_term_regional_set_beside_the_main_one(sandbox, regional_key):
    key, main, regional = regional_key
    assert session_refresh(key_id=key.pk).status == "refreshed"
    key.refresh_from_db()
    session = key.get_session()
    [own] = session["regional"]
    assert own["source_access_key_id"] == regional.access_key_id
    assert own["access_key_id"].startswith("ASIA") and own["access_key_id"] != session["access_key_id"]
    assert len(own["secret_access_key"]) == 40 and own["session_token"]
    assert own["secret_access_key"] not in key.session_secret and own["session_token"] not in key.session_secret
    # Each set asked STS with its own long-term key, once.
    assert sandbox.calls("sts.GetSessionToken") == {main.access_key_id: 1, regional.access_key_id: 1}
    assert sandbox.server.stats()["by_account"][regional.name] == {"sts.GetSessionToken": 1}
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESHED).count() == 1  # one refresh, both sets


def test_sync_calls_in_the_regional_sets_region_sign_with_its_session_and_name_its_hint(sandbox, regional_key,
                                                                                       owner_team):
    key, main, regional = regional_key
    _, workspace, member = owner_team
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    own = stored_session(key)["regional"][0]
    assert result.source == "byok"
    assert result.key_hint == hint(regional.access_key_id) != key.key_hint
    assert sandbox.calls("bedrock.Converse") == {own["access_key_id"]: 1}  # an ASIA id: never the regional AKIA
    assert sandbox.server.stats()["by_account"][regional.name]["bedrock.Converse"] == 1
    assert "bedrock.Converse" not in sandbox.server.stats()["by_account"][main.name]
    assert UsageRecord.objects.get().key_hint == hint(regional.access_key_id)


def test_temporary_regional_sets_are_used_as_they_are(sandbox, owner_team):
    owner, workspace, member = owner_team
    main = sandbox.add_account("bedrock")
    temporary = sandbox.add_account("bedrock", session_token="IQoJb3JpZ2luX2VjEXAMPLETOKEN0123")
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(temporary, EU_DEFAULT)])
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert result.source == "byok" and result.key_hint == hint(temporary.access_key_id)
    assert stored_session(key)["regional"] == [None]
    assert sandbox.calls("sts.GetSessionToken") == {main.access_key_id: 1}
    assert sandbox.calls("bedrock.Converse") == {temporary.access_key_id: 1}


def test_a_session_stored_before_regional_sessions_is_replaced_whole_before_a_regional_call(sandbox, regional_key,
                                                                                           owner_team):
    key, main, regional = regional_key
    _, workspace, member = owner_team
    session_refresh(key_id=key.pk)
    key.refresh_from_db()
    main_only = {name: value for name, value in key.get_session().items() if name != "regional"}
    key.set_session(main_only, key.session_token_expires_at)  # valid for hours: only its shape is old
    key.save(update_fields=["session_secret"])
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("byok", "")
    own = stored_session(key)["regional"][0]
    assert sandbox.calls("bedrock.Converse") == {own["access_key_id"]: 1}
    assert sandbox.calls("sts.GetSessionToken") == {main.access_key_id: 2, regional.access_key_id: 2}


def test_a_regional_set_sts_refuses_fails_the_refresh_as_the_main_set_would(sandbox, owner_team, ship_audit,
                                                                            django_capture_on_commit_callbacks):
    owner = owner_team[0]
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock", sts_get_session_token=False)
    key = key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(regional, "eu-west-1")])
    with django_capture_on_commit_callbacks(execute=True):
        outcome = session_refresh(key_id=key.pk)
    assert (outcome.status, outcome.reason) == ("failed", "permission_denied")
    key.refresh_from_db()
    assert key.status == ProviderKey.Status.FAILING and key.failure_reason == "permission_denied"
    assert key.session_secret is None  # nothing stored, not even the main set's new session
    event = AuditEvent.objects.get(action=AuditAction.SESSION_REFRESH_FAILED)
    said = event.details["hint"]
    assert "eu-west-1" in said and hint(regional.access_key_id) in said and "sts:GetSessionToken" in said
    assert regional.access_key_id not in said and regional.secret_access_key not in said
    ship_audit()
    assert len(mail.outbox) == 1 and hint(regional.access_key_id) in mail.outbox[0].body
    assert regional.secret_access_key not in mail.outbox[0].body


def test_regional_sts_throttling_is_retried_with_nothing_written(sandbox, owner_team):
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock", behaviour="throttled")
    key = key_for(owner_team[0], main, inference_profile="eu",
                  regional_credentials=[regional_set(regional, "eu-west-1")])
    with pytest.raises(SessionRefreshRetryable) as raised:
        session_refresh(key_id=key.pk)
    assert raised.value.failure.category == "rate_limited"
    key.refresh_from_db()
    assert (key.session_secret, key.failing_since) == (None, None)


def test_a_call_whose_regional_session_cannot_be_had_falls_back_without_the_long_term_key(sandbox, owner_team,
                                                                                          settings):
    owner, workspace, member = owner_team
    platform = use_platform_account(settings, sandbox, profile="eu")  # the EU key falls back in the EU
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock", sts_get_session_token=False)
    key_for(owner, main, inference_profile="eu", regional_credentials=[regional_set(regional, EU_DEFAULT)])
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert (result.source, result.fallback_reason) == ("platform", "permission_denied")
    assert sandbox.calls("bedrock.Converse") == {platform.access_key_id: 1}
    assert "bedrock.Converse" not in sandbox.server.stats()["by_account"][regional.name]
