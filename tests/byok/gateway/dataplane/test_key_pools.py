"""Key pools: an owner's keys of one family are tried in their order (weighted among equals); a key-level failure
moves the call to the owner's next key, within the same deadline, before any platform fallback. The simulator's call
log proves which account served."""

from collections import Counter
from dataclasses import replace

import openai
import pytest

from audit.models import AuditAction, AuditEvent
from byok.gateway.resolve import credentials_resolve
from byok.gateway.routing import pool_order
from byok.models import ProviderKey, UsageRecord
from byok.services.keys import provider_key_update
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)
CHAT = "openai.ChatCompletions"


def ascii_hint(key: ProviderKey) -> str:
    return key.key_hint.replace("…", "...")


@pytest.fixture
def pool(sandbox, settings):
    """A member; the owner's two OpenAI keys, the first on a throttled account; platform credentials of their own."""
    owner, workspace, member = team()
    throttled, healthy = sandbox.add_account("openai", behaviour="throttled"), sandbox.add_account("openai")
    key_for(owner, throttled, provider="openai", name="first")
    second = key_for(owner, healthy, provider="openai", name="second")
    platform = use_platform_account(settings, sandbox, provider="openai")
    return member, throttled, second, healthy, platform


def test_a_throttled_first_key_is_served_by_the_second_without_platform_fallback(dataplane, sandbox, pool):
    member, throttled, second, healthy, platform = pool
    assert (ProviderKey.objects.get(name="first").priority, second.priority) == (0, 1)  # a new key serves after the owner's others
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-byok-source"] == "byok"
    assert raw.headers["x-byok-key-hint"] == ascii_hint(second)
    assert raw.headers["x-byok-fallback-reason"] == ""
    log = sandbox.call_log()
    assert [(call["account"], call["status"]) for call in log if call["operation"] == CHAT] == [
        (throttled.name, 429), (healthy.name, 200)]
    assert platform.name not in {call["account"] for call in log}
    dataplane.flush_usage()
    assert list(UsageRecord.objects.values_list("source", "key_id", "key_hint")) == [
        ("byok", second.pk, second.key_hint)]


def test_each_key_keeps_its_own_breaker(dataplane, sandbox, settings):
    owner, workspace, member = team()
    revoked, healthy = sandbox.add_account("openai", behaviour="expired"), sandbox.add_account("openai")
    first = key_for(owner, revoked, provider="openai", name="first")
    second = key_for(owner, healthy, provider="openai", name="second")
    use_platform_account(settings, sandbox, provider="openai")
    client = dataplane.openai(member)
    for _ in range(2):
        raw = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
        assert raw.headers["x-byok-key-hint"] == ascii_hint(second)
    first.refresh_from_db(), second.refresh_from_db()
    assert first.failing_since is not None and second.failing_since is None
    opened = AuditEvent.objects.get(action=AuditAction.FALLBACK_ACTIVATED, target_key_id=first.pk)
    assert opened.details["now_serving"] == f"your next key {second.key_hint}"  # not "platform credentials"
    # The open breaker skips the first key: it was called once, the second key twice.
    assert Counter(c["account"] for c in sandbox.call_log(CHAT)) == {revoked.name: 1,
                                                                                         healthy.name: 2}


def test_the_platform_serves_only_when_every_owner_key_failed(dataplane, sandbox, settings):
    owner, workspace, member = team()
    for name in ("first", "second"):
        key_for(owner, sandbox.add_account("openai", behaviour="throttled"), provider="openai", name=name)
    platform = use_platform_account(settings, sandbox, provider="openai")
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "rate_limited")
    statuses = [(c["account"] == platform.name, c["status"]) for c in sandbox.call_log(CHAT)]
    assert statuses == [(False, 429), (False, 429), (True, 200)]


def test_an_exclusive_pool_moves_between_the_owners_keys_but_never_to_the_platform(dataplane, sandbox, settings):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai", behaviour="throttled"), provider="openai", name="first",
            fallback_mode="none")
    healthy = sandbox.add_account("openai")
    second = key_for(owner, healthy, provider="openai", name="second")
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert raw.headers["x-byok-key-hint"] == ascii_hint(second)
    provider_key_update(key=second, actor=owner, priority=0, weight=1)  # both first among equals, both throttled
    sandbox.server.add_accounts([replace(healthy, behaviour="throttled")])
    platform = use_platform_account(settings, sandbox, provider="openai")
    with pytest.raises(openai.RateLimitError):
        dataplane.openai(member).chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    assert platform.name not in {c["account"] for c in sandbox.call_log()}


def test_weights_three_to_one_spread_a_thousand_calls_within_five_percent(sandbox):
    owner, workspace, member = team()
    heavy = key_for(owner, sandbox.add_account("openai"), provider="openai", name="heavy", priority=0, weight=3)
    light = key_for(owner, sandbox.add_account("openai"), provider="openai", name="light", priority=0, weight=1)
    backup = key_for(owner, sandbox.add_account("openai"), provider="openai", name="backup")
    resolution = credentials_resolve(user=member, workspace_slug=workspace.slug, family="openai")
    firsts = Counter(pool_order(resolution)[0].key.id for _ in range(1000))
    assert 700 <= firsts[heavy.pk] <= 800 and firsts[heavy.pk] + firsts[light.pk] == 1000
    assert {pool_order(resolution)[-1].key.id for _ in range(50)} == {backup.pk}  # a lower rank always comes last


def test_the_owner_reorders_keys_and_the_change_is_audited_and_served_at_once(dataplane, sandbox):
    owner, workspace, member = team()
    first = key_for(owner, sandbox.add_account("openai"), provider="openai", name="first")
    second = key_for(owner, sandbox.add_account("openai"), provider="openai", name="second")
    client = dataplane.openai(member)
    raw = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert raw.headers["x-byok-key-hint"] == ascii_hint(first)
    provider_key_update(key=first, actor=owner, priority=5)
    raw = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert raw.headers["x-byok-key-hint"] == ascii_hint(second)
    event = AuditEvent.objects.filter(action=AuditAction.KEY_UPDATED).get()
    assert event.details["priority"] == {"from": 0, "to": 5}


@pytest.fixture
def claude_pool(sandbox, settings):
    """The owner's Claude keys in their order across families: Anthropic first (on a throttled account), then
    Bedrock; platform credentials of both families on accounts of their own."""
    owner, workspace, member = team()
    throttled, healthy = sandbox.add_account("anthropic", behaviour="throttled"), sandbox.add_account("bedrock")
    first = key_for(owner, throttled, provider="anthropic", name="anthropic first", priority=0)
    second = key_for(owner, healthy, provider="bedrock", name="bedrock next", priority=1)
    platforms = {use_platform_account(settings, sandbox, provider="anthropic").name,
                 use_platform_account(settings, sandbox).name}
    return member, first, second, throttled, healthy, platforms


@pytest.mark.parametrize("model", ["standard", "claude-opus"])
def test_a_claude_tier_moves_from_the_owners_first_family_to_their_next(dataplane, sandbox, claude_pool, model):
    member, first, second, throttled, healthy, platforms = claude_pool
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model=model, messages=MESSAGES)
    assert raw.parse().choices[0].message.content
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-provider"], raw.headers["x-byok-key-hint"],
            raw.headers["x-byok-fallback-reason"]) == ("byok", "bedrock", ascii_hint(second), "")
    calls = [(call["operation"], call["account"], call["status"]) for call in sandbox.call_log()
             if call["operation"] in ("anthropic.CreateMessage", "bedrock.Converse")]
    assert calls == [("anthropic.CreateMessage", throttled.name, 429), ("bedrock.Converse", healthy.name, 200)]
    assert not platforms & {call["account"] for call in sandbox.call_log()}
    dataplane.flush_usage()
    assert list(UsageRecord.objects.values_list("provider", "key_id", "fallback_reason")) == [
        ("bedrock", second.pk, "")]


def test_the_owners_order_across_claude_families_holds_on_messages_too(dataplane, sandbox, claude_pool):
    member, first, second, throttled, healthy, platforms = claude_pool
    raw = dataplane.anthropic(member).messages.with_raw_response.create(model="claude-sonnet", max_tokens=50,
                                                                        messages=MESSAGES)
    assert (raw.headers["x-byok-provider"], raw.headers["x-byok-key-hint"]) == ("bedrock", ascii_hint(second))


def test_the_owners_claude_order_reaches_vertex_after_anthropic_and_bedrock(dataplane, sandbox, settings):
    """Three Claude families in the owner's order: Anthropic throttled, Bedrock throttled, then Vertex serves; no
    platform credentials are touched, on Chat Completions and on Messages alike."""
    owner, workspace, member = team()
    anthropic, bedrock = sandbox.add_account("anthropic", behaviour="throttled"), \
        sandbox.add_account("bedrock", behaviour="throttled")
    vertex = sandbox.add_account("vertex")
    key_for(owner, anthropic, provider="anthropic", name="anthropic first", priority=0)
    key_for(owner, bedrock, provider="bedrock", name="bedrock next", priority=1)
    last = vertex_key_for(owner, sandbox, vertex, name="vertex last", priority=2)
    platforms = {use_platform_account(settings, sandbox, provider="anthropic").name,
                 use_platform_account(settings, sandbox).name}

    chat = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=MESSAGES)
    messages = dataplane.anthropic(member).messages.with_raw_response.create(model="claude-sonnet", max_tokens=50,
                                                                             messages=MESSAGES)
    for raw in (chat, messages):
        assert (raw.headers["x-byok-source"], raw.headers["x-byok-provider"], raw.headers["x-byok-key-hint"],
                raw.headers["x-byok-fallback-reason"]) == ("byok", "vertex", ascii_hint(last), "")
    assert chat.parse().choices[0].message.content and messages.parse().content[0].text
    # A throttled AWS account refuses the session first (an IAM user's key is turned into a session to call with).
    tried = [(call["account"], call["status"]) for call in sandbox.call_log() if call["operation"] in (
        "anthropic.CreateMessage", "sts.GetSessionToken", "bedrock.Converse", "vertex.RawPredict")]
    assert tried == [(anthropic.name, 429), (bedrock.name, 400), (vertex.name, 200)] * 2
    assert not platforms & {call["account"] for call in sandbox.call_log()}
    dataplane.flush_usage()
    assert list(UsageRecord.objects.values_list("provider", "key_id", "fallback_reason")) == [
        ("vertex", last.pk, ""), ("vertex", last.pk, "")]


def test_a_call_naming_a_family_stays_in_it(dataplane, sandbox, claude_pool):
    member, first, second, throttled, healthy, platforms = claude_pool
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="anthropic/standard",
                                                                             messages=MESSAGES)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "rate_limited")
    assert healthy.name not in {call["account"] for call in sandbox.call_log()}


def test_a_key_of_another_family_outside_the_first_keys_geography_never_serves(dataplane, sandbox, settings):
    owner, workspace, member = team()
    eu = sandbox.add_account("bedrock", behaviour="throttled")
    anywhere = sandbox.add_account("anthropic")
    key_for(owner, eu, provider="bedrock", name="eu first", inference_profile="eu", priority=0)
    key_for(owner, anywhere, provider="anthropic", name="anthropic next", priority=1)
    with pytest.raises(openai.APIStatusError) as refused:  # only US platform credentials: none in the EU
        dataplane.openai(member).chat.completions.create(model="standard", messages=MESSAGES)
    assert refused.value.status_code == 503 and "in the eu geography" in refused.value.message
    assert anywhere.name not in {call["account"] for call in sandbox.call_log()}
