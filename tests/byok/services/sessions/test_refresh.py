"""Long-term keys get STS sessions: stored encrypted with STS's expiry, used to sign calls, refreshed only when due."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import user_plan_change
from audit.models import AuditAction, AuditEvent
from byok import llm
from byok.models import ProviderKey
from byok.services.keys import provider_key_disable
from byok.services.sessions import session_keys_due, session_refresh, session_refresh_now
from tests.byok.routing_helpers import MESSAGES, key_for

from .conftest import expire_session

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads


def assert_close(moment, expected, seconds=60):
    assert abs((moment - expected).total_seconds()) < seconds, (moment, expected)


def test_refresh_stores_encrypted_session_credentials_and_the_sts_expiry(sandbox, akia):
    key, account = akia
    outcome = session_refresh(key_id=key.pk)
    assert outcome.status == "refreshed"
    key.refresh_from_db()
    session = key.get_session()
    assert session["access_key_id"].startswith("ASIA") and len(session["secret_access_key"]) == 40
    assert session["session_token"]
    for secret in session.values():
        assert secret not in key.session_secret  # stored as ciphertext
    assert_close(key.session_token_expires_at, timezone.now() + timedelta(hours=12))
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 1}
    event = AuditEvent.objects.get(action=AuditAction.SESSION_REFRESHED)
    assert (event.target_key_id, event.actor_label) == (key.pk, "system:session_refresh")
    assert set(event.details) == {"expires_at"}


def test_session_duration_comes_from_the_setting(sandbox, akia, settings):
    settings.BYOK_SESSION_DURATION = 3600
    key, _ = akia
    session_refresh(key_id=key.pk)
    key.refresh_from_db()
    assert_close(key.session_token_expires_at, timezone.now() + timedelta(hours=1))


def test_calls_sign_with_the_session_not_the_long_term_key(sandbox, akia, owner_team):
    key, account = akia
    owner, workspace, member = owner_team
    session_refresh(key_id=key.pk)
    key.refresh_from_db()
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    assert result.source == "byok"
    assert sandbox.calls("bedrock.Converse") == {key.get_session()["access_key_id"]: 1}
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 1}


def test_a_call_without_a_session_refreshes_once_inline(sandbox, akia, owner_team):
    key, account = akia
    _, workspace, member = owner_team
    for _ in range(3):
        assert llm.complete(user=member, workspace=workspace, messages=MESSAGES).source == "byok"
    key.refresh_from_db()
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 1}
    assert sandbox.calls("bedrock.Converse") == {key.get_session()["access_key_id"]: 3}


def test_a_session_inside_the_safety_margin_is_replaced_before_the_call(sandbox, akia, owner_team):
    key, account = akia
    _, workspace, member = owner_team
    session_refresh(key_id=key.pk)
    expire_session(key, in_=timedelta(minutes=2))
    llm.complete(user=member, workspace=workspace, messages=MESSAGES)
    key.refresh_from_db()
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 2}
    assert sandbox.calls("bedrock.Converse") == {key.get_session()["access_key_id"]: 1}
    assert key.session_token_expires_at > timezone.now() + timedelta(hours=11)


def test_only_sessions_missing_or_inside_the_window_are_due(sandbox, akia, settings):
    key, _ = akia
    assert list(session_keys_due()) == [key]
    session_refresh(key_id=key.pk)
    assert list(session_keys_due()) == []
    assert session_refresh(key_id=key.pk).reason == "fresh"
    expire_session(key, in_=settings.BYOK_SESSION_REFRESH_WINDOW - timedelta(minutes=1))
    assert list(session_keys_due()) == [key]
    assert session_refresh(key_id=key.pk).status == "refreshed"
    assert len(sandbox.calls("sts.GetSessionToken")) == 1 and sum(sandbox.calls("sts.GetSessionToken").values()) == 2


def test_disabled_keys_and_inactive_plans_are_not_refreshed(sandbox, akia, owner_team):
    key, _ = akia
    owner = owner_team[0]
    provider_key_disable(key=key, actor=owner)
    assert list(session_keys_due()) == [] and session_refresh(key_id=key.pk).reason == "key_disabled"
    ProviderKey.objects.filter(pk=key.pk).update(enabled=True)
    user_plan_change(user=owner, plan_code="free", actor=None)
    assert list(session_keys_due()) == [] and session_refresh(key_id=key.pk).reason == "plan_inactive"
    assert sandbox.calls("sts.GetSessionToken") == {}


def test_temporary_keys_and_api_keys_are_never_sent_to_sts(sandbox, owner_team):
    owner = owner_team[0]
    temporary = key_for(owner, sandbox.add_account("bedrock", session_token="IQoJb3JpZ2luX2VjEXAMPLETOKEN0123"))
    api_key = key_for(owner, sandbox.add_account("bedrock_api_key"), provider="bedrock_api_key", scope="selected",
                      workspaces=[owner_team[1]])
    assert list(session_keys_due()) == []
    assert {session_refresh(key_id=k.pk, force=True).reason for k in (temporary, api_key)} == {"not_long_term"}
    assert sandbox.calls("sts.GetSessionToken") == {}


def test_refresh_now_forces_a_fresh_session_audited_with_the_owner(sandbox, akia, owner_team):
    key, account = akia
    owner = owner_team[0]
    session_refresh(key_id=key.pk)
    first = ProviderKey.objects.get(pk=key.pk).get_session()
    outcome = session_refresh_now(key=key, actor=owner)
    assert outcome.status == "refreshed"
    assert ProviderKey.objects.get(pk=key.pk).get_session()["access_key_id"] != first["access_key_id"]
    assert sandbox.calls("sts.GetSessionToken") == {account.access_key_id: 2}
    latest = AuditEvent.objects.filter(action=AuditAction.SESSION_REFRESHED).latest("id")
    assert latest.actor == owner
