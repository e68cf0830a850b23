"""Every member call through the REST endpoint and the simulator: inheritance, gating, fallback, breaker, credits."""

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.services import user_plan_change
from audit.models import AuditEvent
from byok.models import PlatformCreditUsage, UsageRecord
from byok.services.keys import provider_key_disable, provider_key_update
from tests.byok.routing_helpers import MESSAGES, cooled_down, key_for, team, use_platform_account
from tests.factories import UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)  # calls run on the data plane's loop, in other threads

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS = "anthropic.claude-opus-4-5-20251101-v1:0"


def converse_calls(sandbox) -> dict[str, int]:
    """Bedrock calls per simulated account (long-term keys call with their STS session's ASIA key id)."""
    return {name: ops["bedrock.Converse"] for name, ops in sandbox.server.stats()["by_account"].items()
            if "bedrock.Converse" in ops}


def call(client_for, user, workspace, **body):
    return client_for(user).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                 {"messages": MESSAGES, **body}, format="json")


def test_member_inherits_owner_key(sandbox, client_for):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock")
    key_for(owner, account)
    response = call(client_for, member, workspace)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["source"] == "byok" and response["X-BYOK-Source"] == "byok"
    assert body["model"] == f"global.{SONNET}"
    assert body["key_hint"].startswith("AKIA…")
    assert body["credits_charged"] == 0
    assert body["usage"]["input_tokens"] > 0 and body["output"]
    assert converse_calls(sandbox) == {account.name: 1}
    record = UsageRecord.objects.get()
    assert (record.user, record.source, record.owner) == (member, "byok", owner)


def test_complex_task_picks_opus_under_the_key_profile_and_region(sandbox, client_for):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock"), inference_profile="eu")
    body = call(client_for, member, workspace, task="complex").json()
    assert body["model"] == f"eu.{OPUS}"
    status = client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/byok/").json()
    assert (status["inference_profile"], status["region"]) == ("eu", "eu-central-1")
    assert status["models"] == {"standard": f"eu.{SONNET}", "complex": f"eu.{OPUS}"}


def test_non_member_gets_404(sandbox, client_for):
    owner, workspace, _ = team()
    key_for(owner, sandbox.add_account("bedrock"))
    assert call(client_for, UserFactory(), workspace).status_code == 404
    assert converse_calls(sandbox) == {}


def test_plan_gating_applies_on_the_very_next_call(sandbox, client_for, settings):
    owner, workspace, member = team()
    byok_account = sandbox.add_account("bedrock")
    key_for(owner, byok_account)
    platform = use_platform_account(settings, sandbox)
    assert call(client_for, member, workspace).json()["source"] == "byok"
    user_plan_change(user=owner, plan_code="pro", actor=None)
    downgraded = call(client_for, member, workspace).json()
    assert downgraded["source"] == "platform" and downgraded["model"] == f"us.{SONNET}"
    assert downgraded["fallback_reason"] == "plan_inactive"
    user_plan_change(user=owner, plan_code="business", actor=None)
    assert call(client_for, member, workspace).json()["source"] == "byok"
    assert converse_calls(sandbox) == {byok_account.name: 2, platform.name: 1}


def test_disabled_key_sends_the_next_call_to_platform(sandbox, client_for, settings):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock"))
    use_platform_account(settings, sandbox)
    provider_key_disable(key=key, actor=owner)
    body = call(client_for, member, workspace).json()
    assert (body["source"], body["fallback_reason"]) == ("platform", "key_disabled")


def test_scoped_key_beats_owner_wide_key(sandbox, client_for):
    owner, first, member = team()
    second = WorkspaceFactory(owner=owner)
    wide, scoped = sandbox.add_account("anthropic"), sandbox.add_account("anthropic")
    key_for(owner, wide, provider="anthropic", name="wide")
    key_for(owner, scoped, provider="anthropic", name="scoped", scope="selected", workspaces=[first])
    assert call(client_for, member, first, provider="anthropic").json()["source"] == "byok"
    assert call(client_for, owner, second, provider="anthropic").json()["source"] == "byok"
    assert sandbox.calls("anthropic.CreateMessage") == {scoped.name: 1, wide.name: 1}


@pytest.mark.parametrize("behaviour, reason", [("throttled", "rate_limited"), ("server_error", "provider_unavailable"),
                                               ("unavailable", "provider_unavailable")])
def test_transient_failures_fall_back_once_without_opening_the_breaker(sandbox, client_for, settings, behaviour, reason):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock", behaviour=behaviour))
    use_platform_account(settings, sandbox)
    body = call(client_for, member, workspace).json()
    assert (body["source"], body["fallback_reason"]) == ("platform", reason)
    key.refresh_from_db()
    assert key.failing_since is None
    assert not AuditEvent.objects.filter(action="FALLBACK_ACTIVATED").exists()


def test_slow_provider_times_out_and_falls_back(sandbox, client_for, settings):
    settings.BYOK_LLM_TIMEOUT = 0.2
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai", latency_ms=600), provider="openai")
    use_platform_account(settings, sandbox, provider="openai")
    body = call(client_for, member, workspace, provider="openai").json()
    assert (body["source"], body["fallback_reason"]) == ("platform", "timeout")


def test_bad_request_never_falls_back(sandbox, client_for, settings):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock"))
    platform = use_platform_account(settings, sandbox)
    messages = [{"role": "assistant", "content": "I start."}, {"role": "user", "content": "Then me."}]
    response = call(client_for, member, workspace, messages=messages)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "provider_bad_request"
    assert platform.name not in converse_calls(sandbox)


def test_exclusive_key_never_falls_back(sandbox, client_for, settings):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock", behaviour="throttled"), fallback_mode="none")
    platform = use_platform_account(settings, sandbox)
    response = call(client_for, member, workspace)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["category"], error["source"]) == ("provider_rate_limited", "rate_limited", "byok")
    assert platform.name not in converse_calls(sandbox)


def test_owner_key_rejection_is_not_the_members_auth_failure(sandbox, client_for, settings):
    owner, workspace, member = team()
    account = sandbox.add_account("anthropic")
    key_for(owner, account, provider="anthropic", fallback_mode="none")
    sandbox.server.add_accounts([account.__class__(**{**account.__dict__, "api_key": "sk-ant-api03-" + "z" * 40})])
    response = call(client_for, member, workspace, provider="anthropic")
    assert response.status_code == 424
    assert response.json()["error"]["code"] == "provider_invalid_credentials"


def test_breaker_opens_skips_then_probes_and_recovers(sandbox, client_for, settings):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock")
    key = key_for(owner, account)
    platform = use_platform_account(settings, sandbox)
    revoked = account.__class__(**{**account.__dict__, "secret_access_key": "R" * 40})
    sandbox.server.add_accounts([revoked])

    first = call(client_for, member, workspace).json()
    assert (first["source"], first["fallback_reason"]) == ("platform", "invalid_credentials")
    key.refresh_from_db()
    assert key.failing_since and key.status == "failing"
    calls_to_owner_account = sandbox.server.stats()["by_account"].get(account.name)
    second = call(client_for, member, workspace).json()
    assert (second["source"], second["fallback_reason"]) == ("platform", "invalid_credentials")
    assert sandbox.server.stats()["by_account"].get(account.name) == calls_to_owner_account, \
        "an open breaker must not touch the key"

    sandbox.server.add_accounts([account])  # the owner fixed their IAM user
    cooled_down(key)
    third = call(client_for, member, workspace).json()
    assert third["source"] == "byok"
    key.refresh_from_db()
    assert key.failing_since is None and key.status == "active"
    actions = list(AuditEvent.objects.filter(target_key_id=key.pk).order_by("id").values_list("action", flat=True))
    # A long-term key meets AWS first at STS (calls use session credentials), so the incident opens there.
    assert actions == ["KEY_CREATED", "SESSION_REFRESH_FAILED", "SESSION_REFRESHED", "BYOK_RECOVERED"]
    assert converse_calls(sandbox)[platform.name] == 2


def revoke(sandbox, account):
    """The provider stops accepting the account's key (as if the owner revoked it)."""
    sandbox.server.add_accounts([account.__class__(**{**account.__dict__, "api_key": account.api_key[:-6] + "REVOKD"})])


def test_a_failed_probe_keeps_the_breaker_open_for_another_cooldown(sandbox, client_for, settings):
    owner, workspace, member = team()
    account = sandbox.add_account("anthropic")
    key = key_for(owner, account, provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    revoke(sandbox, account)
    call(client_for, member, workspace, provider="anthropic")
    cooled_down(key)
    body = call(client_for, member, workspace, provider="anthropic").json()
    assert (body["source"], body["fallback_reason"]) == ("platform", "invalid_credentials")
    key.refresh_from_db()
    assert key.breaker_open_until > timezone.now() + timedelta(seconds=200)
    assert AuditEvent.objects.filter(action="FALLBACK_ACTIVATED").count() == 1, "one incident, one event"


def test_owner_is_emailed_once_per_incident_and_once_on_recovery(sandbox, client_for, settings, mailoutbox,
                                                                 ship_audit):
    owner, workspace, member = team()
    account = sandbox.add_account("anthropic")
    key = key_for(owner, account, provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    revoke(sandbox, account)
    for _ in range(3):
        assert call(client_for, member, workspace, provider="anthropic").json()["source"] == "platform"
    ship_audit()
    ship_audit()  # shipping twice sends nothing twice
    assert [m.subject for m in mailoutbox] == [
        f'byok: your key "{key.name}" ({key.key_hint}) is failing; calls moved to platform credentials']
    assert mailoutbox[0].to == [owner.email] and "invalid_credentials" in mailoutbox[0].body
    assert account.api_key not in mailoutbox[0].body

    sandbox.server.add_accounts([account])
    cooled_down(key)
    for _ in range(2):
        assert call(client_for, member, workspace, provider="anthropic").json()["source"] == "byok"
    ship_audit()
    assert len(mailoutbox) == 2 and "works again" in mailoutbox[1].subject


def test_expired_temporary_key_is_marked_expired_and_stops_being_tried(sandbox, client_for, settings):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock", behaviour="expired", session_token="FwoGZXIvYXdzEXAMPLEtoken0123456789")
    key = key_for(owner, account)
    use_platform_account(settings, sandbox)
    assert call(client_for, member, workspace).json()["fallback_reason"] == "expired"
    key.refresh_from_db()
    assert key.status == "expired"
    calls_before = sandbox.server.stats()["by_account"][account.name]
    assert call(client_for, member, workspace).json()["fallback_reason"] == "key_expired"
    assert sandbox.server.stats()["by_account"][account.name] == calls_before
    assert AuditEvent.objects.filter(action="KEY_EXPIRED", target_key_id=key.pk).count() == 1


def test_exclusive_key_with_open_breaker_answers_424(sandbox, client_for, settings):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock", behaviour="expired", session_token="FwoGZXIvYXdzEXAMPLEtoken0123456789"),
            fallback_mode="none")
    assert call(client_for, member, workspace).json()["error"]["code"] == "provider_expired"
    response = call(client_for, member, workspace)
    assert (response.status_code, response.json()["error"]["code"]) == (424, "byok_key_unavailable")


def test_credits_are_debited_only_on_the_platform_path(sandbox, client_for, settings):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock"))
    use_platform_account(settings, sandbox)
    assert call(client_for, member, workspace).json()["credits_charged"] == 0
    assert not PlatformCreditUsage.objects.exists()
    provider_key_disable(key=key, actor=owner)
    body = call(client_for, member, workspace).json()
    assert body["source"] == "platform" and body["credits_charged"] == 1
    assert PlatformCreditUsage.objects.get(owner=owner).used == 1


def test_platform_path_answers_402_when_credits_run_out_and_byok_is_unaffected(sandbox, client_for, settings):
    from byok.selectors import month_start

    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock"))
    use_platform_account(settings, sandbox)
    PlatformCreditUsage.objects.create(owner=owner, month=month_start(), used=owner.plan.monthly_platform_credits)
    assert call(client_for, member, workspace).json()["source"] == "byok"
    provider_key_disable(key=key, actor=owner)
    response = call(client_for, member, workspace)
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "platform_credits_exhausted"


def test_no_platform_credentials_is_a_clear_error(sandbox, client_for, settings):
    owner, workspace, member = team(UserFactory())
    response = call(client_for, member, workspace, provider="openai")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "platform_credentials_missing"


def test_rotation_takes_effect_on_the_next_call(sandbox, client_for):
    from byok.services.keys import provider_key_rotate

    owner, workspace, member = team()
    old, new = sandbox.add_account("openai"), sandbox.add_account("openai")
    key = key_for(owner, old, provider="openai")
    call(client_for, member, workspace, provider="openai")
    provider_key_rotate(key=key, credentials={"api_key": new.api_key}, actor=owner, skip_test=True)
    call(client_for, member, workspace, provider="openai")
    assert sandbox.calls("openai.ChatCompletions") == {old.name: 1, new.name: 1}


def test_profile_change_moves_calls_to_the_new_prefix(sandbox, client_for):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock"))
    provider_key_update(key=key, actor=owner, inference_profile="apac", skip_test=True)
    assert call(client_for, member, workspace).json()["model"] == f"apac.{SONNET}"


def test_validation_errors_are_400_with_fields(sandbox, client_for):
    owner, workspace, member = team()
    response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                       {"messages": [{"role": "robot", "content": "x"}], "task": "huge",
                                        "max_tokens": 0}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"messages.0.role", "task", "max_tokens"}


def test_usage_endpoint_for_owner_and_admins_only(sandbox, client_for, settings):
    from tests.factories import add_member

    owner, workspace, member = team()
    admin = add_member(workspace, role="admin")
    key_for(owner, sandbox.add_account("bedrock"))
    call(client_for, member, workspace)
    summary = client_for(admin).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()
    assert summary["by_source"]["byok"]["calls"] == 1
    assert client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/usage/").status_code == 403
    assert client_for(UserFactory()).get(f"/api/v1/workspaces/{workspace.slug}/usage/").status_code == 404


def test_member_tests_the_workspace_credentials(sandbox, client_for):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock"))
    body = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/byok/test-connection/").json()
    assert body["source"] == "byok" and body["ok"] is True and body["key_hint"].startswith("AKIA")


def test_in_process_api_matches_the_gateway(sandbox):
    from byok import llm

    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    result = llm.complete(user=member, workspace=workspace, messages=MESSAGES, task="complex", provider="anthropic")
    assert (result.source, result.model) == ("byok", "claude-opus-5-5")
    assert result.output and UsageRecord.objects.filter(user=member, model=result.model, source="byok").count() == 1


def test_resolution_is_one_query_and_a_warm_client_needs_none(django_assert_num_queries):
    from byok.gateway.clients import client_for
    from byok.gateway.resolve import credentials_resolve

    owner, workspace, member = team()
    key_for(owner, type("Account", (), {"api_key": "sk-ant-api03-" + "q" * 40})(), provider="anthropic")
    asyncio.run(client_for(credentials_resolve(user=member, workspace_slug=workspace.slug)))
    with django_assert_num_queries(1):
        resolution = credentials_resolve(user=member, workspace_slug=workspace.slug)
        asyncio.run(client_for(resolution))
    assert resolution.source == "byok"


def test_a_model_the_key_cannot_use_opens_its_own_breaker_and_keeps_the_other_tier(sandbox, client_for, settings):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock", models=[SONNET]))
    use_platform_account(settings, sandbox)
    complex_call = call(client_for, member, workspace, task="complex").json()
    assert (complex_call["source"], complex_call["fallback_reason"]) == ("platform", "model_access")
    key.refresh_from_db()
    assert key.failing_since is None and list(key.model_breakers) == [f"global.{OPUS}"]
    assert call(client_for, member, workspace).json()["source"] == "byok", "Sonnet stays on the owner's key"
    assert call(client_for, member, workspace, task="complex").json()["fallback_reason"] == "model_access"
    events = AuditEvent.objects.filter(action="FALLBACK_ACTIVATED", target_key_id=key.pk)
    assert events.count() == 1 and events.get().details["model"] == f"global.{OPUS}"
