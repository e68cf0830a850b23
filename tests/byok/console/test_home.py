"""The console's home page: what serves each workspace now and why, usage by source, incidents, expiries, credits;
a constant number of queries from 10 to 1,000 keys and 100,000 usage rows."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import Membership
from audit.models import AuditAction, AuditEvent
from byok import tasks
from byok.models import Model, PlatformCreditUsage, ProviderKey, UsageRecord
from byok.providers.bedrock.profiles import SONNET_4_5
from byok.selectors import month_start
from byok.services.keys import provider_key_disable
from tests.byok.catalog.test_catalog import edit
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import key_for, use_platform_account
from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def test_home_names_the_serving_key_and_offers_a_test(owner, workspace, sandbox):
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    html = signed_in(owner).get("/manage/").content.decode()
    assert "Acme" in html and "“Production”" in html and key.key_hint in html
    assert f'action="/manage/byok/providerkey/{key.pk}/test/"' in html
    assert "owner-wide key" in html


def test_home_says_why_platform_serves_and_whether_platform_credentials_exist(owner, workspace, sandbox, settings):
    settings.BYOK_PLATFORM_ENV = {}
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    provider_key_disable(key=key, actor=owner)
    html = signed_in(owner).get("/manage/").content.decode()
    assert "“Production” is disabled" in html and "none configured" in html
    assert "fail: no platform credentials are configured for AWS Bedrock" in html
    use_platform_account(settings, sandbox)
    html = signed_in(owner).get("/manage/").content.decode()
    assert "platform credentials" in html and "configured" in html


def test_home_shows_a_failing_key_since_when(owner, workspace, sandbox, settings):
    use_platform_account(settings, sandbox)
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    since = timezone.now() - timedelta(minutes=3)
    ProviderKey.objects.filter(pk=key.pk).update(failing_since=since, failure_reason="invalid_credentials",
                                                 breaker_open_until=timezone.now() + timedelta(minutes=2))
    html = signed_in(owner).get("/manage/").content.decode()
    row = html.split('class="byok-serving-')[1].split("</tr>")[0]
    assert row.startswith("platform") and "instead of “Production”" in row
    assert f"since {timezone.localtime(since):%Y-%m-%d %H:%M %Z} because the provider refused your key" in row
    assert "byok retries your key at " in row


def test_home_names_the_platform_while_the_standard_models_breaker_is_open_then_the_key_again(owner, workspace,
                                                                                            sandbox, settings):
    from byok.gateway.serving import key_outage

    use_platform_account(settings, sandbox)
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    now = timezone.now()
    key.model_breakers = {model: {"since": now.isoformat(), "reason": "model_access",
                                  "until": (now + timedelta(seconds=30)).isoformat()}}
    assert key_outage(key, now=now) is not None, "the test's model id is the one a standard call sends"
    ProviderKey.objects.filter(pk=key.pk).update(model_breakers=key.model_breakers)
    html = signed_in(owner).get("/manage/").content.decode()
    row = html.split('class="byok-serving-')[1].split("</tr>")[0]
    assert row.startswith("platform") and "because your key lost access to the model" in row
    ProviderKey.objects.filter(pk=key.pk).update(model_breakers={})
    html = signed_in(owner).get("/manage/").content.decode()
    row = html.split('class="byok-serving-')[1].split("</tr>")[0]
    assert row.startswith("byok") and "“Production”" in row


def test_home_counts_calls_by_source_and_lists_incidents(owner, workspace, sandbox):
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    now = timezone.now()
    rows = [UsageRecord(workspace=workspace, owner=owner, provider="bedrock", model="m", source=source, task="standard")
            for source in ["byok"] * 3 + ["platform"] * 2]
    UsageRecord.objects.bulk_create(rows)
    UsageRecord.objects.filter(pk=rows[0].pk).update(created_at=now - timedelta(days=3))
    AuditEvent.objects.create(action=AuditAction.FALLBACK_ACTIVATED, owner=owner, workspace=workspace,
                              target_key_id=key.pk, target_hint=key.key_hint,
                              details={"category": "invalid_credentials"}, actor_label="system:routing")
    html = signed_in(owner).get("/manage/").content.decode()
    assert "last 24 h <strong>2</strong> on own keys, <strong>2</strong> on platform" in html
    assert "last 30 days <strong>3</strong> own keys, <strong>2</strong> platform" in html
    assert "<svg class=\"byok-chart\"" in html and "invalid_credentials" in html and "ongoing" in html


def test_admin_sees_the_owners_workspace_without_owner_buttons(owner, workspace, sandbox):
    key = key_for(owner, sandbox.add_account("bedrock"), name="Production")
    ada = add_member(workspace, UserFactory(username="ada"), role=Membership.Role.ADMIN)
    html = signed_in(ada).get("/manage/").content.decode()
    assert "you administer it for olivia" in html and "“Production”" in html
    assert f"/manage/byok/providerkey/{key.pk}/test/" not in html
    assert "revert to platform keys" not in html


def test_free_owner_sees_plan_and_platform(sandbox):
    frank = UserFactory(username="frank")
    WorkspaceFactory(owner=frank, name="Frank Co")
    html = signed_in(frank).get("/manage/").content.decode()
    assert "Frank Co" in html and "does not include bring-your-own-key" in html
    assert "revert to platform keys" not in html


def test_home_lists_expiring_keys_and_credits(owner, workspace, sandbox):
    account = sandbox.add_account("bedrock", session_token="FwoGZXIvYXdzEXAMPLEtoken0123456789")
    key = key_for(owner, account, name="Temporary")
    ProviderKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() + timedelta(days=2))
    PlatformCreditUsage.objects.create(owner=owner, month=month_start(), used=42)
    html = signed_in(owner).get("/manage/").content.decode()
    assert "“Temporary”" in html and "expires" in html and "<strong>42</strong> of" in html


def test_expiring_soon_leaves_out_the_sessions_byok_refreshes_itself(owner, workspace, sandbox):
    key = key_for(owner, sandbox.add_account("bedrock"), name="Long-term")
    ProviderKey.objects.filter(pk=key.pk).update(session_token_expires_at=timezone.now() + timedelta(hours=2))
    expiring = signed_in(owner).get("/manage/").content.decode().split('id="expiring"')[1].split("</section>")[0]
    assert "Nothing expires soon" in expiring
    ProviderKey.objects.filter(pk=key.pk).update(failing_since=timezone.now(), failure_reason="invalid_credentials")
    expiring = signed_in(owner).get("/manage/").content.decode().split('id="expiring"')[1].split("</section>")[0]
    assert "Session of “Long-term”" in expiring and "byok could not refresh it (invalid_credentials)" in expiring


def model_notices(client) -> list[str]:
    """The home page's model notices as a reader sees them (text, whitespace collapsed)."""
    html = client.get("/manage/").content.decode()
    if 'id="model-notices"' not in html:
        return []
    items = html.split('id="model-notices"')[1].split("</section>")[0].split('<li class="byok-model-notice">')[1:]
    return [" ".join(strip_tags(item).split()) for item in items]


def test_home_tells_the_owner_a_model_their_traffic_uses_retires_and_what_replaces_it(owner, workspace):
    today = timezone.localdate()
    other_owner = UserFactory()
    WorkspaceFactory(owner=other_owner, name="Elsewhere")
    UsageRecord.objects.create(workspace=workspace, owner=owner, provider="bedrock", model="us." + SONNET_4_5,
                               source="byok", task="standard")
    sonnet_4_6 = Model.objects.get(family="bedrock", model_id="anthropic.claude-sonnet-4-6")  # from the packages
    sonnet = edit(Model.objects.get(family="bedrock", model_id=SONNET_4_5), status="deprecated",
                  deprecated_on=today - timedelta(days=3), retires_on=today + timedelta(days=20),
                  replacement=sonnet_4_6)
    client = signed_in(owner)
    assert model_notices(client) == [
        f"Claude Sonnet 4.5 (used by your traffic in Acme) is deprecated since {sonnet.deprecated_on:%Y-%m-%d} and "
        f"retires on {sonnet.retires_on:%Y-%m-%d}; byok will move the standard tier to Claude Sonnet 4.6 then."]
    elsewhere = signed_in(other_owner).get("/manage/").content.decode()
    assert "Elsewhere" in elsewhere and 'id="model-notices"' not in elsewhere  # no call of theirs used it

    edit(sonnet, retires_on=today)
    tasks.model_lifecycle.apply()
    assert model_notices(client) == [f"Claude Sonnet 4.5 (used by your traffic in Acme) was retired on {today:%Y-%m-%d}; "
                                     f"the standard tier now uses Claude Sonnet 4.6."]
    ada = add_member(workspace, UserFactory(username="ada"), role=Membership.Role.ADMIN)
    assert model_notices(signed_in(ada)) == model_notices(client)


def test_home_names_calls_that_ask_for_a_model_by_its_id_and_a_model_with_no_date_yet(owner, workspace):
    UsageRecord.objects.create(workspace=workspace, owner=owner, provider="openai", model="gpt-5", source="platform",
                               task="model")
    edit(Model.objects.get(family="openai", model_id="gpt-5"), status="deprecated", retires_on=None,
         replacement=Model.objects.get(family="openai", model_id="gpt-5-mini"))
    assert model_notices(signed_in(owner)) == [
        "GPT-5 (used by your traffic in Acme) is deprecated; no retirement date is set yet, and GPT-5 mini is named "
        "to replace it. Calls that name it directly are not redirected: switch them to GPT-5 mini."]


def _populate(owner, workspaces, n_keys, n_rows, with_events):
    keys = [ProviderKey(owner=owner, provider="anthropic", family="anthropic", name=f"k{i}", secret="x",
                        key_hint=f"sk-…{i:04d}", credential_type="api_key", scope="selected",
                        expires_at=timezone.now() + timedelta(days=1) if i % 7 == 0 else None,
                        session_token_expires_at=timezone.now() + timedelta(hours=1) if i % 5 == 0 else None)
            for i in range(n_keys)]
    ProviderKey.objects.bulk_create(keys)
    through = ProviderKey.workspaces.through
    through.objects.bulk_create([through(providerkey_id=k.pk, workspace_id=workspaces[i % len(workspaces)].pk)
                                 for i, k in enumerate(keys)])
    now = timezone.now()
    UsageRecord.objects.bulk_create([
        UsageRecord(workspace=workspaces[i % len(workspaces)], owner=owner, provider="anthropic", model="m",
                    source="byok" if i % 3 else "platform", task="standard") for i in range(n_rows)], batch_size=5000)
    UsageRecord.objects.filter(pk__in=UsageRecord.objects.values("pk")[: n_rows // 2]).update(
        created_at=now - timedelta(days=10))
    if with_events:
        AuditEvent.objects.bulk_create([
            AuditEvent(action=AuditAction.FALLBACK_ACTIVATED if i % 2 == 0 else AuditAction.BYOK_RECOVERED,
                       owner=owner, workspace=workspaces[0], target_key_id=keys[i // 2].pk, target_hint="x",
                       actor_label="system:routing", details={"category": "invalid_credentials"})
            for i in range(min(n_keys, 200))])


@pytest.mark.parametrize("n_keys, n_rows", [(10, 100), (1000, 100_000)])
def test_home_runs_a_constant_number_of_queries(owner, n_keys, n_rows, django_assert_max_num_queries):
    workspaces = [WorkspaceFactory(owner=owner, name=f"W{i}") for i in range(3)]
    _populate(owner, workspaces, n_keys, n_rows, with_events=True)
    edit(Model.objects.get(family="anthropic", model_id="claude-sonnet-4-5-20250929"), status="deprecated")
    UsageRecord.objects.filter(pk__in=UsageRecord.objects.values("pk")[:n_rows // 10]).update(
        model="claude-sonnet-4-5-20250929")
    client = signed_in(owner)
    with django_assert_max_num_queries(QUERIES):
        response = client.get("/manage/")
    assert response.status_code == 200
    assert response.content.decode().count('byok-workspace"') == 3
    assert response.content.decode().count('class="byok-model-notice"') == 1


# Measured: 15 at both sizes (session, user, access, plan, workspaces, keys, key workspaces, usage, incidents, this
# month's spend, credits, the catalog, the usage of its models with a notice, the owner's limits and their plan's
# ceilings).
QUERIES = 15
