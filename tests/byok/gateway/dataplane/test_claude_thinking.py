"""Claude's extended thinking through Chat Completions, as LiteLLM carries it: `reasoning_effort` turns thinking on,
the answer brings `reasoning_content` and the signed `thinking_blocks`, and handed back on the assistant message they
let Claude (which checks the signature) go on after a tool result — on Anthropic, Bedrock Converse and Vertex,
streamed or not."""

import json

import openai
import pytest

from tests.byok.gateway.dataplane.test_responses_api import WEATHER_TOOL, member_on

pytestmark = pytest.mark.django_db(transaction=True)

CHAT_TOOL = {"type": "function", "function": {key: WEATHER_TOOL[key] for key in ("name", "description", "parameters")}}


def streamed_message(chunks) -> dict:
    """The assistant message a streamed answer adds up to, as a client would rebuild it."""
    message = {"role": "assistant", "content": "", "reasoning_content": "", "thinking_blocks": [], "tool_calls": []}
    for chunk in chunks:
        for choice in chunk.choices:
            delta = choice.delta.model_dump()
            message["content"] += delta.get("content") or ""
            message["reasoning_content"] += delta.get("reasoning_content") or ""
            message["thinking_blocks"] += delta.get("thinking_blocks") or []
            for call in delta.get("tool_calls") or []:
                if call.get("id"):
                    message["tool_calls"].append({"id": call["id"], "type": "function",
                                                  "function": {"name": call["function"]["name"], "arguments": ""}})
                message["tool_calls"][-1]["function"]["arguments"] += call["function"]["arguments"] or ""
    return message


@pytest.mark.parametrize("stream", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_thinking_blocks_survive_a_chat_tool_loop(dataplane, sandbox, family, stream):
    client = dataplane.openai(member_on(sandbox, family))
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    options = {"model": f"{family}/standard", "tools": [CHAT_TOOL], "reasoning_effort": "low"}
    if stream:
        message = streamed_message(client.chat.completions.create(messages=messages, stream=True, **options))
    else:
        message = client.chat.completions.create(messages=messages, **options).choices[0].message.model_dump()
    [block] = message["thinking_blocks"]
    assert block["type"] == "thinking" and block["signature"] and block["thinking"] == message["reasoning_content"]
    assert json.loads(message["tool_calls"][0]["function"]["arguments"])["city"]
    messages += [message, {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "21 C"}]
    second = client.chat.completions.create(messages=messages, **options)
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content
    # Without its thinking, Claude refuses the tool result (the simulator checks as Claude does).
    del messages[1]["thinking_blocks"]
    with pytest.raises(openai.APIStatusError) as refused:
        client.chat.completions.create(messages=messages, **options)
    assert refused.value.status_code == 400


@pytest.mark.parametrize("family", ["anthropic", "bedrock"])
def test_thinking_needs_room_above_its_budget(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=f"{family}/standard", messages=[{"role": "user", "content": "Hi"}],
                                       reasoning_effort="high", max_completion_tokens=1000)
    assert refused.value.body["param"] == "max_completion_tokens" and "4096" in refused.value.body["message"]
