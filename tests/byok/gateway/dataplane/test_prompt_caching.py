"""Prompt caching end to end: cache_control on chat content parts and tools reaches Claude on every family (Messages
for Anthropic and Vertex, cachePoint blocks for Bedrock Converse), `/v1/messages` passes it on, the second call reads
the cache, the client gets the cache tokens back in its own shape, and the usage record is priced with every token
kind exactly as the catalog's prices say."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from byok.models import Model, UsageRecord
from byok.providers.registry import PROVIDERS
from tests.byok.routing_helpers import key_for, team, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)

MANUAL = "The operations manual, chapter one. " * 400  # ~2,000 words: far above Claude's 1,024-token minimum
CACHED = {"type": "ephemeral"}
TOOL = {"name": "lookup", "description": "Look a term up in the manual.",
        "input_schema": {"type": "object", "properties": {"term": {"type": "string"}}}}
CHAT_TOOL = {"type": "function", "function": {"name": TOOL["name"], "description": TOOL["description"],
                                              "parameters": TOOL["input_schema"]}, "cache_control": CACHED}


def claude_member(sandbox, family):
    owner, workspace, member = team()
    if family == "vertex":
        account = sandbox.add_account("vertex")
        vertex_key_for(owner, sandbox, account)
    else:
        key_for(owner, sandbox.add_account(family), provider=family)
    return member


def priced_by_hand(record: UsageRecord) -> Decimal:
    """The record's cost from the catalog row's prices per million tokens (a Bedrock profile's own prices where the
    catalog lists them), each token kind at its own price."""
    row = next(m for m in Model.objects.filter(family=PROVIDERS[record.provider].family) if record.model in m.ids())
    listed = {"input": row.input_price_per_mtok, "output": row.output_price_per_mtok,
              "cache_write_5m": row.cache_write_5m_price_per_mtok, "cache_write_1h": row.cache_write_1h_price_per_mtok,
              "cache_read": row.cache_read_price_per_mtok}
    profile = next((p for p, model_id in row.profile_ids.items() if model_id == record.model), None)
    for kind, price in (row.profile_prices.get(profile) or {}).items() if profile else ():
        listed[kind] = Decimal(price)
    write_5m = listed["cache_write_5m"] or listed["input"]
    total = (record.input_tokens * listed["input"] + record.output_tokens * listed["output"]
             + record.cache_write_5m_tokens * write_5m + record.cache_write_1h_tokens * (listed["cache_write_1h"] or write_5m)
             + record.cache_read_tokens * (listed["cache_read"] or listed["input"]))
    return (total / Decimal(1_000_000)).quantize(Decimal("1e-8"), rounding=ROUND_HALF_UP)


def last_record(dataplane) -> UsageRecord:
    dataplane.flush_usage()
    return UsageRecord.objects.order_by("-id").first()


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_a_cached_prefix_is_read_on_the_second_messages_call_and_priced_to_the_cent(dataplane, sandbox, family):
    claude = dataplane.anthropic(claude_member(sandbox, family))
    request = {"model": f"{family}/standard", "max_tokens": 50, "tools": [{**TOOL, "cache_control": CACHED}],
               "system": [{"type": "text", "text": MANUAL, "cache_control": CACHED}],
               "messages": [{"role": "user", "content": "What does chapter one say?"}]}
    first = claude.messages.create(**request)
    assert first.usage.cache_creation_input_tokens > 1024 and not first.usage.cache_read_input_tokens
    written = last_record(dataplane)
    assert written.cache_write_5m_tokens == first.usage.cache_creation_input_tokens
    second = claude.messages.create(**request)
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    read = last_record(dataplane)
    assert read.cache_read_tokens == second.usage.cache_read_input_tokens and read.cache_write_5m_tokens == 0
    assert read.input_tokens == second.usage.input_tokens
    for record in (written, read):
        assert record.estimated_cost == priced_by_hand(record)
    assert read.estimated_cost < written.estimated_cost  # what caching saved


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_cache_control_on_chat_reaches_claude_and_comes_back_in_openais_shape(dataplane, sandbox, family):
    client = dataplane.openai(claude_member(sandbox, family))
    request = {"model": f"{family}/standard", "max_tokens": 50, "tools": [CHAT_TOOL],
               "messages": [{"role": "system", "content": [{"type": "text", "text": MANUAL, "cache_control": CACHED}]},
                            {"role": "user", "content": "What does chapter one say?"}]}
    first = client.chat.completions.create(**request)
    assert first.usage.model_extra["cache_creation_input_tokens"] > 1024
    second = client.chat.completions.create(**request)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached == first.usage.model_extra["cache_creation_input_tokens"]
    assert second.usage.prompt_tokens > cached  # OpenAI's prompt_tokens count cached tokens too
    record = last_record(dataplane)
    assert record.cache_read_tokens == cached and record.input_tokens == second.usage.prompt_tokens - cached
    assert record.estimated_cost == priced_by_hand(record)
