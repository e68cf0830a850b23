"""Thinking and betas carried on /v1/messages: Claude's thinking blocks, with their signatures, come back intact on
turn two of a tool loop on every Claude family (the simulator verifies signatures as Anthropic does), and the
caller's `anthropic-beta` reaches the provider in the family's own way (a header on the Anthropic API and Vertex,
`anthropic_beta` in Bedrock's body); a beta the family cannot take is a 400 naming it, in Anthropic's shape."""

import anthropic
import pytest

from tests.byok.routing_helpers import key_for, team, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {"name": "get_weather", "description": "The weather in a city.",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
ASK = [{"role": "user", "content": "What is the weather in Oslo? Use the tool."}]


def claude(dataplane, sandbox, family):
    owner, workspace, member = team()
    if family == "vertex":
        account = sandbox.add_account("vertex")
        vertex_key_for(owner, sandbox, account)
    else:
        key_for(owner, sandbox.add_account(family), provider=family)
    return dataplane.anthropic(member)


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_thinking_signatures_come_back_intact_in_a_tool_loop(dataplane, sandbox, family):
    client = claude(dataplane, sandbox, family)
    request = {"model": f"{family}/standard", "max_tokens": 4000, "tools": [WEATHER],
               "thinking": {"type": "enabled", "budget_tokens": 2048}}
    first = client.messages.create(messages=ASK, **request)
    thinking = [block for block in first.content if block.type == "thinking"]
    call = next(block for block in first.content if block.type == "tool_use")
    assert thinking and thinking[0].signature
    turn_two = [*ASK, {"role": "assistant", "content": [block.model_dump() for block in first.content]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "12 °C"}]}]
    second = client.messages.create(messages=turn_two, **request)  # a changed signature would be a 400
    assert second.stop_reason == "end_turn"
    tampered = [turn_two[0], {"role": "assistant", "content": [
        {**thinking[0].model_dump(), "signature": "forged" + thinking[0].signature[6:]},
        *[block.model_dump() for block in first.content if block.type != "thinking"]]}, turn_two[2]]
    with pytest.raises(anthropic.BadRequestError, match="signature"):
        client.messages.create(messages=tampered, **request)


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_betas_reach_the_provider_in_the_familys_way(dataplane, sandbox, family):
    client = claude(dataplane, sandbox, family)
    answer = client.beta.messages.create(model=f"{family}/standard", max_tokens=50, messages=ASK,
                                         betas=["interleaved-thinking-2025-05-14"])
    assert answer.content
    assert sandbox.call_log()[-1]["betas"] == ["interleaved-thinking-2025-05-14"]
    with pytest.raises(anthropic.BadRequestError, match="no-such-beta-2099-01-01"):
        client.beta.messages.create(model=f"{family}/standard", max_tokens=50, messages=ASK,
                                    betas=["no-such-beta-2099-01-01"])
