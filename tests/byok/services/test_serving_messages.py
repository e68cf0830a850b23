"""Messages and emails say what will really serve a workspace next: a key, platform credentials (only when they are
configured), or nothing (calls fail)."""

import pytest
from django.test import Client

from byok.gateway.serving import serving_now, what_serves_next
from byok.models import ProviderKey
from byok.services.keys import provider_key_disable
from tests.byok.gateway.test_routing import revoke
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads

KEYS = "/manage/byok/providerkey/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def call(client_for, user, workspace, **body):
    return client_for(user).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                 {"task": "standard", "messages": MESSAGES, **body}, format="json")


def test_revert_without_platform_credentials_says_calls_will_fail(sandbox, settings):
    settings.BYOK_PLATFORM_ENV = {}
    owner, workspace, _ = team()
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    client = signed_in(owner)
    confirm = client.get(f"{KEYS}revert/").content.decode()
    assert "fail: no platform credentials are configured for Anthropic" in confirm
    html = client.post(f"{KEYS}revert/", {"confirm": "on"}, follow=True).content.decode()
    assert "now use platform credentials" not in html and "Every workspace now uses" not in html
    assert "Anthropic calls in " in html and "fail: no platform credentials are configured for Anthropic" in html


def test_revert_with_platform_credentials_says_so(sandbox, settings):
    owner, workspace, _ = team()
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    html = signed_in(owner).post(f"{KEYS}revert/", {"confirm": "on"}, follow=True).content.decode()
    assert f"Anthropic calls in {workspace.name} now use platform credentials" in html


def test_disabling_a_scoped_key_names_the_owner_wide_key_that_takes_over(sandbox, settings):
    owner, first, _ = team()
    wide = key_for(owner, sandbox.add_account("anthropic"), provider="anthropic", name="Wide")
    scoped = key_for(owner, sandbox.add_account("anthropic"), provider="anthropic", name="Scoped", scope="selected",
                     workspaces=[first])
    html = signed_in(owner).post(f"{KEYS}{scoped.pk}/disable/", follow=True).content.decode()
    assert f"Anthropic calls in {first.name} now use “Wide” ({wide.key_hint})" in html
    assert "platform credentials or fail" not in html


def test_exclusive_disabled_key_says_calls_fail(sandbox, settings):
    owner, workspace, _ = team()
    use_platform_account(settings, sandbox)
    key = key_for(owner, sandbox.add_account("bedrock"), fallback_mode="none")
    provider_key_disable(key=key, actor=owner)
    text = what_serves_next(owner=owner, families=["bedrock"])
    assert "is exclusive (never falls back) and cannot serve" in text


def test_helper_agrees_with_the_gateway_for_each_workspace(sandbox, settings, client_for):
    owner, first, member = team()
    second = WorkspaceFactory(owner=owner)
    use_platform_account(settings, sandbox, provider="anthropic")
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic", name="Scoped", scope="selected",
            workspaces=[first])
    servings = {s.workspace.pk: s for s in serving_now(owner=owner, families=["anthropic"])}
    assert servings[first.pk].source == "byok" and servings[second.pk].source == "platform"
    assert call(client_for, owner, first, provider="anthropic").json()["source"] == "byok"
    assert call(client_for, owner, second, provider="anthropic").json()["source"] == "platform"


def test_expired_temporary_key_sends_one_correct_email(sandbox, client_for, settings, mailoutbox, ship_audit):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock", behaviour="expired", session_token="FwoGZXIvYXdzEXAMPLEtoken0123456789")
    key = key_for(owner, account)
    use_platform_account(settings, sandbox)
    assert call(client_for, member, workspace).json()["fallback_reason"] == "expired"
    ship_audit()
    ship_audit()
    assert len(mailoutbox) == 1, [m.subject for m in mailoutbox]
    email = mailoutbox[0]
    assert "has expired" in email.subject and key.key_hint in email.subject
    assert "retries" not in email.body and "every 5 minutes" not in email.body
    assert f"AWS Bedrock calls in {workspace.name} now use platform credentials" in email.body


def test_failing_key_email_without_platform_credentials_says_calls_fail(sandbox, client_for, settings, mailoutbox,
                                                                         ship_audit):
    settings.BYOK_PLATFORM_ENV = {}
    owner, workspace, member = team()
    account = sandbox.add_account("anthropic")
    key = key_for(owner, account, provider="anthropic")
    revoke(sandbox, account)
    call(client_for, member, workspace, provider="anthropic")
    ship_audit()
    assert len(mailoutbox) == 1
    assert "calls moved to platform credentials" not in mailoutbox[0].subject
    assert "fail: no platform credentials are configured for Anthropic" in mailoutbox[0].body
    assert ProviderKey.objects.get(pk=key.pk).failing_since is not None
