"""Prompt caching as the real APIs report it: a first call writes the prefix up to each breakpoint (Anthropic
`cache_control` on Anthropic, Bedrock InvokeModel and Vertex; Converse `cachePoint`), an identical-prefix repeat reads
it; OpenAI caches prompts of 1,024 tokens and more by itself. Per account, with a time to live."""

from __future__ import annotations

import anthropic
import pytest

from .helpers import SONNET, anthropic_client, anthropic_vertex_client, aws_client, openai_client

LONG_SYSTEM = "You are a careful assistant who knows the byok handbook by heart. " * 100  # 1,200 words
PREFIX_TOKENS = 1560  # 1,200 words x 1.3
TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


def _cached_request(ttl: str | None = None) -> dict:
    control = {"type": "ephemeral"} | ({"ttl": ttl} if ttl else {})
    return {"max_tokens": 200, "tools": [TOOLS[0] | {"cache_control": {"type": "ephemeral"}}],
            "system": [{"type": "text", "text": LONG_SYSTEM, "cache_control": control}],
            "messages": [{"role": "user", "content": "Summarise the handbook in one line."}]}


def test_anthropic_first_call_writes_the_cache_and_a_repeat_reads_it(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic").api_key)

    first = client.messages.create(model="claude-sonnet-4-6", **_cached_request())
    second = client.messages.create(model="claude-sonnet-4-6", **_cached_request())

    assert (first.usage.cache_creation_input_tokens, first.usage.cache_read_input_tokens) == (PREFIX_TOKENS, 0)
    assert first.usage.cache_creation.ephemeral_5m_input_tokens == PREFIX_TOKENS
    assert (second.usage.cache_creation_input_tokens, second.usage.cache_read_input_tokens) == (0, PREFIX_TOKENS)
    assert first.usage.input_tokens == second.usage.input_tokens == 1568 - PREFIX_TOKENS  # the question only
    assert sim.call_log("anthropic.CreateMessage")[-1]["cache"] == {"read": PREFIX_TOKENS, "write_5m": 0,
                                                                    "write_1h": 0}


def test_a_one_hour_breakpoint_is_reported_as_such_and_outlives_five_minutes(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic").api_key)
    cache = sim.server.state.prompt_cache
    first = client.messages.create(model="claude-sonnet-4-6", **_cached_request("1h"))
    clock = cache.clock
    try:
        cache.clock = lambda: clock() + 30 * 60
        later = client.messages.create(model="claude-sonnet-4-6", **_cached_request("1h"))
        cache.clock = lambda: clock() + 30 * 60 + 61 * 60
        expired = client.messages.create(model="claude-sonnet-4-6", **_cached_request("1h"))
    finally:
        cache.clock = clock

    assert first.usage.cache_creation.ephemeral_1h_input_tokens == PREFIX_TOKENS
    assert later.usage.cache_read_input_tokens == PREFIX_TOKENS
    assert expired.usage.cache_read_input_tokens == 0 and expired.usage.cache_creation_input_tokens == PREFIX_TOKENS


def test_the_cache_is_per_account_and_per_prefix(sim):
    one = anthropic_client(sim.url, sim.add_account("anthropic").api_key)
    other = anthropic_client(sim.url, sim.add_account("anthropic").api_key)
    one.messages.create(model="claude-sonnet-4-6", **_cached_request())
    changed = _cached_request()
    changed["system"][0]["text"] = "A different handbook. " + LONG_SYSTEM

    assert other.messages.create(model="claude-sonnet-4-6", **_cached_request()).usage.cache_read_input_tokens == 0
    assert one.messages.create(model="claude-sonnet-4-6", **changed).usage.cache_read_input_tokens == 0


def test_a_prefix_under_the_minimum_is_not_cached(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic").api_key)
    request = _cached_request()
    request["system"][0]["text"] = "A short system prompt."

    usage = client.messages.create(model="claude-sonnet-4-6", **request).usage

    assert (usage.cache_creation_input_tokens, usage.cache_read_input_tokens) == (0, 0)


def test_bedrock_invoke_model_reports_cache_tokens(sim):
    account = sim.add_account("bedrock")
    client = anthropic.AnthropicBedrock(base_url=sim.url, aws_access_key=account.access_key_id,
                                        aws_secret_key=account.secret_access_key, aws_region="eu-west-1",
                                        max_retries=0)

    first = client.messages.create(model=f"eu.{SONNET}", **_cached_request())
    second = client.messages.create(model=f"eu.{SONNET}", **_cached_request())

    assert first.usage.cache_creation_input_tokens == second.usage.cache_read_input_tokens == PREFIX_TOKENS
    assert {call["region"] for call in sim.call_log("bedrock.InvokeModel")} == {"eu-west-1"}


def test_bedrock_converse_cache_points_write_then_read(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.add_account("bedrock"))
    request = {
        "modelId": SONNET,
        "system": [{"text": LONG_SYSTEM}, {"cachePoint": {"type": "default"}}],
        "messages": [{"role": "user", "content": [{"text": "Summarise the handbook in one line."}]}],
    }

    first = client.converse(**request)["usage"]
    second = client.converse(**request)["usage"]

    assert (first["cacheWriteInputTokens"], first["cacheReadInputTokens"]) == (PREFIX_TOKENS, 0)
    assert first["cacheDetails"] == [{"ttl": "5m", "inputTokens": PREFIX_TOKENS}]
    assert (second["cacheWriteInputTokens"], second["cacheReadInputTokens"]) == (0, PREFIX_TOKENS)
    assert second["inputTokens"] == 8 and second["totalTokens"] == 1568 + second["outputTokens"]


def test_converse_without_cache_points_reports_no_cache_fields(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    usage = client.converse(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}])["usage"]

    assert "cacheReadInputTokens" not in usage and "cacheWriteInputTokens" not in usage


def test_claude_on_vertex_reports_cache_tokens(sim):
    client = anthropic_vertex_client(sim.url, sim.add_account("vertex", models=["claude-sonnet-4-5@20250929"]))

    first = client.messages.create(model="claude-sonnet-4-5@20250929", **_cached_request())
    second = client.messages.create(model="claude-sonnet-4-5@20250929", **_cached_request())

    assert first.usage.cache_creation_input_tokens == second.usage.cache_read_input_tokens == PREFIX_TOKENS


@pytest.mark.parametrize("words", [1000, 2000])
def test_openai_caches_long_prompts_by_itself_in_128_token_steps(sim, words):
    client = openai_client(sim.url, sim.add_account("openai").api_key)
    messages = [{"role": "system", "content": "word " * words}, {"role": "user", "content": "Question?"}]

    first = client.chat.completions.create(model="gpt-4.1", messages=messages)
    second = client.chat.completions.create(model="gpt-4.1", messages=messages)

    assert first.usage.prompt_tokens_details.cached_tokens == 0
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and cached % 128 == 0 and cached <= second.usage.prompt_tokens
    assert second.usage.prompt_tokens == first.usage.prompt_tokens  # cached tokens are part of the prompt's


def test_openai_short_prompts_are_not_cached(sim):
    client = openai_client(sim.url, sim.add_account("openai").api_key)
    messages = [{"role": "user", "content": "A short question?"}]

    client.chat.completions.create(model="gpt-4.1", messages=messages)

    assert client.chat.completions.create(model="gpt-4.1", messages=messages).usage.prompt_tokens_details \
        .cached_tokens == 0
