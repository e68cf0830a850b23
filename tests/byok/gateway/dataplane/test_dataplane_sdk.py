"""The data plane through the official OpenAI and Anthropic SDKs on loopback, against the provider simulator:
every family on the owner's key and on platform credentials, streaming, tools, images, fallback only before the
first byte, mid-stream failures, exclusive keys, unknown models."""

import base64
import json
from datetime import date

import anthropic
import openai
import pytest
from django.utils import timezone

from byok.catalog.pricing import TokenCounts, usage_cost
from byok.models import Model, ProviderKey, UsageRecord
from byok.services.keys import provider_key_disable
from tests.byok.routing_helpers import key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
OPUS = "anthropic.claude-opus-4-5-20251101-v1:0"
HELLO = [{"role": "user", "content": "Summarise the quarterly report in one line."}]
FAMILY_PROVIDERS = ["bedrock", "bedrock_api_key", "anthropic", "openai"]
# A 1x1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082")).decode()
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def model_for(provider: str, tier: str = "standard") -> str:
    return f"{provider}/{tier}"


def owner_key(sandbox, provider, **options):
    owner, workspace, member = team()
    account = sandbox.add_account(provider, **options.pop("account", {}))
    key = key_for(owner, account, provider=provider, **options)
    return owner, workspace, member, account, key


def usage_rows(dataplane):
    dataplane.flush_usage()
    return list(UsageRecord.objects.order_by("id").values("source", "provider", "model", "input_tokens",
                                                          "output_tokens", "fallback_reason", "credits_charged"))


@pytest.mark.parametrize("provider", FAMILY_PROVIDERS)
def test_chat_completion_on_the_owner_key(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(
        model=model_for(provider), messages=[{"role": "system", "content": "Be brief."}, *HELLO],
        max_tokens=200, temperature=0.2, top_p=0.9, stop=["\n\n"])
    completion = raw.parse()
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-fallback-reason"] == ""
    assert raw.headers["x-byok-provider"] == provider and raw.headers["x-request-id"]
    assert raw.headers["x-byok-key-hint"] == key.key_hint.replace("…", "...")
    [row] = usage_rows(dataplane)
    assert (row["source"], row["provider"], row["credits_charged"]) == ("byok", provider, 0)
    assert (row["input_tokens"], row["output_tokens"]) == (completion.usage.prompt_tokens,
                                                           completion.usage.completion_tokens)


@pytest.mark.parametrize("provider", FAMILY_PROVIDERS)
def test_usage_records_are_priced_at_the_catalog_and_dated_at_the_call(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    before = timezone.now()
    completion = dataplane.openai(member).chat.completions.create(model=model_for(provider), messages=HELLO)
    dataplane.flush_usage()
    record = UsageRecord.objects.get()
    expected = usage_cost(provider=provider, model=record.model, tokens=TokenCounts(
        input=completion.usage.prompt_tokens, output=completion.usage.completion_tokens))
    assert expected and record.estimated_cost == expected
    assert before <= record.created_at <= timezone.now()


@pytest.mark.parametrize("provider", FAMILY_PROVIDERS)
def test_streamed_chat_completion_with_usage(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    stream = dataplane.openai(member).chat.completions.create(
        model=model_for(provider, "complex"), messages=HELLO, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices
    [row] = usage_rows(dataplane)
    assert row["output_tokens"] == chunks[-1].usage.completion_tokens and row["source"] == "byok"


def test_stream_without_include_usage_sends_no_usage_chunk_but_records_it(dataplane, sandbox):
    owner, workspace, member, account, key = owner_key(sandbox, "anthropic")
    chunks = list(dataplane.openai(member).chat.completions.create(model="anthropic/standard", messages=HELLO,
                                                                   stream=True))
    assert all(c.choices for c in chunks)
    assert usage_rows(dataplane)[0]["output_tokens"] > 0


@pytest.mark.parametrize("provider", FAMILY_PROVIDERS)
def test_tools_round_trip(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    client = dataplane.openai(member)
    messages = [{"role": "user", "content": "What is the weather in Paris? Use the tool."}]
    first = client.chat.completions.create(model=model_for(provider), messages=messages, tools=[WEATHER_TOOL],
                                           tool_choice="required")
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 21})}]
    second = client.chat.completions.create(model=model_for(provider), messages=messages, tools=[WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content


@pytest.mark.parametrize("provider", ["bedrock", "anthropic"])
def test_streamed_tool_call(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    chunks = list(dataplane.openai(member).chat.completions.create(
        model=model_for(provider), messages=[{"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, stream=True))
    calls = [d for c in chunks if c.choices for d in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather" and calls[0].id
    assert isinstance(json.loads("".join(d.function.arguments or "" for d in calls)), dict)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


@pytest.mark.parametrize("provider", ["bedrock", "bedrock_api_key", "anthropic", "openai"])
def test_image_input(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    completion = dataplane.openai(member).chat.completions.create(model=model_for(provider), messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is in this picture?"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}])
    assert completion.choices[0].message.content


def test_json_response_format(dataplane, sandbox):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock")
    completion = dataplane.openai(member).chat.completions.create(
        model="claude-sonnet", messages=HELLO, response_format={"type": "json_object"}, max_completion_tokens=100)
    assert completion.model == f"global.{SONNET}"


@pytest.mark.parametrize("provider", ["anthropic", "bedrock", "bedrock_api_key"])
def test_messages_streaming(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    client = dataplane.anthropic(member)
    with client.messages.stream(model=f"{provider}/complex", max_tokens=300,
                                system=[{"type": "text", "text": "Be brief."}], messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    [row] = usage_rows(dataplane)
    assert (row["source"], row["provider"]) == ("byok", provider)
    assert row["output_tokens"] == final.usage.output_tokens and row["input_tokens"] == final.usage.input_tokens


@pytest.mark.parametrize("provider", ["anthropic", "bedrock"])
def test_messages_with_tools_and_images(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    client = dataplane.anthropic(member)
    tool = {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_TOOL["function"]["parameters"]}
    reply = client.messages.create(model="claude-sonnet", max_tokens=300, tools=[tool],
                                   tool_choice={"type": "tool", "name": "get_weather"}, messages=[
        {"role": "user", "content": [{"type": "text", "text": "Weather where this photo was taken?"},
                                     {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                  "data": PNG}}]}])
    use = next(b for b in reply.content if b.type == "tool_use")
    assert reply.stop_reason == "tool_use" and use.name == "get_weather"


def test_platform_credentials_serve_a_workspace_without_key(dataplane, sandbox, settings):
    owner, workspace, member = team()
    platform = use_platform_account(settings, sandbox)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=HELLO)
    assert raw.headers["x-byok-source"] == "platform" and raw.headers["x-byok-model"] == f"us.{SONNET}"
    assert raw.parse().choices[0].message.content
    with dataplane.anthropic(member).messages.stream(model="claude-opus", max_tokens=100, messages=HELLO) as stream:
        assert "".join(stream.text_stream)
    rows = usage_rows(dataplane)
    assert [r["source"] for r in rows] == ["platform", "platform"] and all(r["credits_charged"] for r in rows)
    assert set(sandbox.server.stats()["by_account"]) == {platform.name}


def test_platform_openai_streaming(dataplane, sandbox, settings):
    owner, workspace, member = team()
    use_platform_account(settings, sandbox, provider="openai")
    chunks = list(dataplane.openai(member).chat.completions.create(model="openai/gpt-5", messages=HELLO,
                                                                   stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks)
    assert usage_rows(dataplane)[0]["source"] == "platform"


@pytest.mark.parametrize("stream", [False, True])
def test_fallback_before_the_first_byte(dataplane, sandbox, settings, stream):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock", account={"behaviour": "throttled"})
    use_platform_account(settings, sandbox)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="standard", messages=HELLO,
                                                                             stream=stream)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "rate_limited")
    assert raw.headers["x-byok-provider"] == "bedrock"
    parsed = raw.parse()
    if stream:
        assert "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    else:
        assert parsed.choices[0].message.content
    [row] = usage_rows(dataplane)
    assert (row["source"], row["fallback_reason"]) == ("platform", "rate_limited")


@pytest.mark.parametrize("provider", ["bedrock", "anthropic", "openai"])
def test_mid_stream_failure_ends_the_stream_with_an_error_and_records_usage(dataplane, sandbox, settings, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider, account={"behaviour": "mid_stream_failure"})
    platform = use_platform_account(settings, sandbox, provider="bedrock" if provider == "bedrock" else provider)
    stream = dataplane.openai(member).chat.completions.create(model=model_for(provider), messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIError, match="stream failed after it started"):
        for chunk in stream:
            received.append(chunk)
    assert any(c.choices and c.choices[0].delta.content for c in received)
    [row] = usage_rows(dataplane)
    assert (row["source"], row["provider"]) == ("byok", provider)
    assert platform.name not in sandbox.server.stats()["by_account"], "no fallback after the first byte"


@pytest.mark.parametrize("provider", ["bedrock", "anthropic"])
def test_mid_stream_failure_on_messages(dataplane, sandbox, provider):
    owner, workspace, member, account, key = owner_key(sandbox, provider, account={"behaviour": "mid_stream_failure"})
    with pytest.raises(anthropic.APIStatusError):
        with dataplane.anthropic(member).messages.stream(model="claude-sonnet", max_tokens=100,
                                                         messages=HELLO) as stream:
            for _ in stream.text_stream:
                pass
    assert len(usage_rows(dataplane)) == 1


def test_exclusive_key_never_falls_back(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock", account={"behaviour": "throttled"},
                                                       fallback_mode="none")
    platform = use_platform_account(settings, sandbox)
    with pytest.raises(openai.RateLimitError) as caught:
        dataplane.openai(member).chat.completions.create(model="standard", messages=HELLO)
    response = caught.value.response
    assert response.headers["retry-after"] and response.headers["x-byok-source"] == "byok"
    assert caught.value.body["code"] == "provider_rate_limited"
    with pytest.raises(anthropic.RateLimitError) as caught:
        dataplane.anthropic(member).messages.create(model="claude-sonnet", max_tokens=10, messages=HELLO)
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert platform.name not in sandbox.server.stats()["by_account"]


def test_a_stream_refused_before_the_first_byte_is_a_json_error_in_each_endpoints_shape(dataplane, sandbox, settings):
    """The stream's head is sent only once the provider's first event is in hand: a refusal before it keeps its own
    status and the endpoint's JSON error shape, on each streamed endpoint."""
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock", account={"behaviour": "throttled"},
                                                       fallback_mode="none")
    client = dataplane.openai(member)
    for call in (lambda: client.chat.completions.create(model="standard", messages=HELLO, stream=True),
                 lambda: client.responses.create(model="standard", input="Hello", stream=True)):
        with pytest.raises(openai.RateLimitError) as caught:
            call()
        assert caught.value.response.headers["content-type"] == "application/json"
        assert caught.value.body["code"] == "provider_rate_limited"
    with pytest.raises(anthropic.RateLimitError) as caught:
        with dataplane.anthropic(member).messages.stream(model="claude-sonnet", max_tokens=10, messages=HELLO):
            pass
    assert caught.value.response.headers["content-type"] == "application/json"
    assert caught.value.body["error"]["type"] == "rate_limit_error"
    assert usage_rows(dataplane) == []


def test_unknown_model_answers_in_each_api_shape(dataplane, sandbox):
    owner, workspace, member, account, key = owner_key(sandbox, "anthropic")
    with pytest.raises(openai.NotFoundError) as caught:
        dataplane.openai(member).chat.completions.create(model="gpt-17-ultra", messages=HELLO)
    assert caught.value.body["code"] == "model_not_found" and "claude-sonnet" in caught.value.body["message"]
    with pytest.raises(anthropic.NotFoundError) as caught:
        dataplane.anthropic(member).messages.create(model="claude-9", max_tokens=10, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError):  # an OpenAI model on the Messages API
        dataplane.anthropic(member).messages.create(model="openai/gpt-5", max_tokens=10, messages=HELLO)


def test_authentication_and_workspace(dataplane, sandbox):
    owner, workspace, member, account, key = owner_key(sandbox, "anthropic")
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{dataplane.url}/v1", api_key="nope", max_retries=0).models.list()
    from tests.factories import UserFactory, WorkspaceFactory, add_member

    stranger = UserFactory()
    elsewhere = WorkspaceFactory()
    add_member(elsewhere, stranger)
    # A key of another workspace cannot name this one.
    with pytest.raises(openai.PermissionDeniedError):
        dataplane.openai(stranger, elsewhere, **{"X-BYOK-Workspace": workspace.slug}).chat.completions.create(
            model="standard", messages=HELLO)
    assert dataplane.openai(member, **{"X-BYOK-Workspace": workspace.slug}).chat.completions.create(
        model="standard", messages=HELLO).choices


def test_models_lists_what_the_workspace_can_call(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "anthropic")
    use_platform_account(settings, sandbox, provider="openai")
    sonnet = Model.objects.get(family="anthropic", model_id="claude-sonnet-5-5")  # the standard tier's
    sonnet.status, sonnet.deprecated_on, sonnet.retires_on = "deprecated", date(2026, 9, 1), date(2027, 12, 1)
    sonnet.replacement = Model.objects.get(family="anthropic", model_id="claude-haiku-4-5-20251001")
    sonnet.save()
    models = {m.id: m.model_extra["byok"] for m in dataplane.openai(member).models.list()}
    assert models["claude-sonnet-5-5"]["source"] == "byok"
    assert "claude-sonnet" in models["claude-sonnet-5-5"]["aliases"]
    assert models["claude-sonnet-5-5"]["lifecycle"] == {
        "status": "deprecated", "deprecated_on": "2026-09-01", "retires_on": "2027-12-01",
        "replacement": "claude-haiku-4-5-20251001"}
    assert models["gpt-5"]["source"] == "platform"
    assert models["gpt-5"]["lifecycle"] == {"status": "deprecated", "deprecated_on": None,  # as the packages say
                                            "retires_on": "2026-12-11", "replacement": "gpt-5.6-sol"}
    assert not any(m.startswith("mistral") for m in models), "no key and no platform credentials"
    listed = [m.id for m in dataplane.anthropic(member).models.list()]
    assert "claude-opus-4-5-20251101" in listed


def test_model_names_and_listing_follow_the_catalog(dataplane, sandbox):
    owner, workspace, member, account, key = owner_key(sandbox, "anthropic")
    Model.objects.filter(family="anthropic", model_id="claude-sonnet-4-6").update(  # a staff-added alias
        aliases=["claude-sonnet-4-6-latest"])
    haiku = Model.objects.get(family="anthropic", model_id="claude-haiku-4-5-20251001")
    haiku.status = "retired"
    haiku.save()
    client = dataplane.openai(member)
    listed = [m.id for m in client.models.list()]
    assert "claude-sonnet-4-6" in listed and "claude-haiku-4-5-20251001" not in listed
    raw = client.chat.completions.with_raw_response.create(model="claude-sonnet-4-6-latest", messages=HELLO)
    assert (raw.headers["x-byok-model"], raw.headers["x-byok-source"]) == ("claude-sonnet-4-6", "byok")
    with pytest.raises(openai.NotFoundError, match="claude-haiku-4-5-20251001"):
        client.chat.completions.create(model="claude-haiku-4-5-20251001", messages=HELLO)


def test_a_missing_model_opens_its_own_breaker_only(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock", account={"models": [SONNET]})
    use_platform_account(settings, sandbox)
    client = dataplane.openai(member)
    raw = client.chat.completions.with_raw_response.create(model="complex", messages=HELLO)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "model_access")
    key.refresh_from_db()
    assert key.failing_since is None and f"global.{OPUS}" in key.model_breakers
    assert client.chat.completions.with_raw_response.create(
        model="standard", messages=HELLO).headers["x-byok-source"] == "byok", "Sonnet stays on the owner's key"
    again = client.chat.completions.with_raw_response.create(model="complex", messages=HELLO)
    assert again.headers["x-byok-fallback-reason"] == "model_access"


def test_a_disabled_key_moves_the_next_call_to_platform(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock")
    use_platform_account(settings, sandbox)
    client = dataplane.openai(member)
    assert client.chat.completions.with_raw_response.create(
        model="standard", messages=HELLO).headers["x-byok-source"] == "byok"
    provider_key_disable(key=ProviderKey.objects.get(pk=key.pk), actor=owner)
    raw = client.chat.completions.with_raw_response.create(model="standard", messages=HELLO)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "key_disabled")


def test_platform_credits_are_enforced_before_the_call(dataplane, sandbox, settings):
    from byok.models import PlatformCreditUsage
    from byok.selectors import month_start

    owner, workspace, member = team()
    platform = use_platform_account(settings, sandbox)
    PlatformCreditUsage.objects.create(owner=owner, month=month_start(), used=owner.plan.monthly_platform_credits)
    with pytest.raises(openai.APIStatusError) as caught:
        dataplane.openai(member).chat.completions.create(model="standard", messages=HELLO)
    assert caught.value.status_code == 402 and caught.value.body["code"] == "platform_credits_exhausted"
    assert platform.name not in sandbox.server.stats()["by_account"]


def test_region_header_picks_a_regional_credential_set(dataplane, sandbox):
    owner, workspace, member = team()
    main, regional = sandbox.add_account("bedrock"), sandbox.add_account("bedrock")
    key_for(owner, main, inference_profile="eu", regional_credentials=[{
        "regions": ["eu-west-1"], "access_key_id": regional.access_key_id,
        "secret_access_key": regional.secret_access_key}])
    client = dataplane.openai(member)
    assert client.chat.completions.create(model="standard", messages=HELLO).choices[0].message.content
    calls = sandbox.server.stats()["by_account"]
    assert "bedrock.Converse" not in calls[regional.name]  # its session was obtained with the main one's, unused
    completion = dataplane.openai(member, **{"X-BYOK-Region": "eu-west-1"}).chat.completions.create(
        model="standard", messages=HELLO)
    assert completion.model == f"eu.{SONNET}" and regional.name in sandbox.server.stats()["by_account"]
    with pytest.raises(openai.BadRequestError, match="eu-west-1"):
        dataplane.openai(member, **{"X-BYOK-Region": "us-east-1"}).chat.completions.create(model="standard",
                                                                                         messages=HELLO)
