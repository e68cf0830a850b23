"""Claude's extended thinking on Anthropic, Bedrock (InvokeModel, Converse) and Vertex: signed thinking blocks, the
signature checked when it comes back (a changed one is a 400), thinking streamed; beta flags accepted and recorded
when known, refused when not."""

from __future__ import annotations

import anthropic
import botocore.exceptions
import pytest

from .helpers import SONNET, anthropic_client, anthropic_vertex_client, aws_client

THINKING = {"type": "enabled", "budget_tokens": 2048}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
TOOLS = [{"name": "get_weather", "description": "Weather", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]


@pytest.fixture
def claude(sim):
    return anthropic_client(sim.url, sim.account("demo-anthropic").api_key)


def _tool_loop_turn_two(first) -> list[dict]:
    call = next(block for block in first.content if block.type == "tool_use")
    return [QUESTION, {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "21 C"}]}]


def test_thinking_comes_first_with_a_signature_and_counts_as_output(claude):
    plain = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION])
    thought = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION],
                                     thinking=THINKING)

    thinking, text = thought.content
    assert thinking.type == "thinking" and thinking.thinking and thinking.signature
    assert text.type == "text" and text.text == plain.content[0].text
    assert thought.usage.output_tokens > plain.usage.output_tokens


def test_a_tool_loop_with_thinking_takes_the_signed_blocks_back(claude):
    first = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION], tools=TOOLS,
                                   thinking=THINKING)

    second = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=_tool_loop_turn_two(first),
                                    tools=TOOLS, thinking=THINKING)

    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert second.content[-1].text.endswith("Thanks for the tool result.")


def test_a_changed_signature_is_refused(claude):
    first = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION], tools=TOOLS,
                                   thinking=THINKING)
    messages = _tool_loop_turn_two(first)
    messages[1]["content"][0]["signature"] = "ErUBCkYIBxgCIkB" + messages[1]["content"][0]["signature"][15:]

    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=messages, tools=TOOLS,
                               thinking=THINKING)

    assert "messages.1.content.0: Invalid `signature` in `thinking` block" in str(refused.value)


def test_a_tool_loop_without_its_thinking_block_is_refused(claude):
    first = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION], tools=TOOLS,
                                   thinking=THINKING)
    messages = _tool_loop_turn_two(first)
    messages[1]["content"] = messages[1]["content"][1:]

    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, messages=messages, tools=TOOLS,
                               thinking=THINKING)

    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in str(refused.value)


@pytest.mark.parametrize(("thinking", "max_tokens", "words"), [
    ({"type": "enabled", "budget_tokens": 512}, 4096, "greater than or equal to 1024"),
    ({"type": "enabled", "budget_tokens": 4096}, 4096, "`max_tokens` must be greater than `thinking.budget_tokens`"),
    ({"type": "sometimes"}, 4096, "Input tag does not match"),
])
def test_bad_thinking_settings_are_refused(claude, thinking, max_tokens, words):
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=max_tokens, messages=[QUESTION],
                               thinking=thinking)

    assert words in str(refused.value)


def test_adaptive_thinking_thinks(claude):
    reply = claude.messages.create(model="claude-opus-4-6", max_tokens=4096, messages=[QUESTION],
                                   thinking={"type": "adaptive"})

    assert reply.content[0].type == "thinking"


def test_thinking_streams_as_thinking_and_signature_deltas(claude):
    with claude.messages.stream(model="claude-sonnet-4-6", max_tokens=4096, messages=[QUESTION],
                                thinking=THINKING) as stream:
        deltas = [event.delta.type for event in stream if event.type == "content_block_delta"]
        final = stream.get_final_message()

    assert deltas[0] == "thinking_delta" and "signature_delta" in deltas
    assert deltas.index("signature_delta") < deltas.index("text_delta")
    assert final.content[0].type == "thinking" and final.content[0].signature
    reply = claude.messages.create(model="claude-sonnet-4-6", max_tokens=4096, thinking=THINKING, messages=[
        QUESTION, {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in final.content]},
        {"role": "user", "content": "Thanks."}])
    assert reply.content[-1].type == "text"  # the streamed signature verifies


def test_bedrock_invoke_model_thinks_and_checks_signatures(sim):
    account = sim.account("demo-bedrock")
    client = anthropic.AnthropicBedrock(base_url=sim.url, aws_access_key=account.access_key_id,
                                        aws_secret_key=account.secret_access_key, aws_region="us-east-1",
                                        max_retries=0)
    first = client.messages.create(model=f"global.{SONNET}", max_tokens=4096, messages=[QUESTION], tools=TOOLS,
                                   thinking=THINKING)
    second = client.messages.create(model=f"global.{SONNET}", max_tokens=4096, messages=_tool_loop_turn_two(first),
                                    tools=TOOLS, thinking=THINKING)
    tampered = _tool_loop_turn_two(first)
    tampered[1]["content"][0]["thinking"] += " And something else."

    assert first.content[0].type == "thinking" and second.content[-1].type == "text"
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model=f"global.{SONNET}", max_tokens=4096, messages=tampered, tools=TOOLS,
                               thinking=THINKING)


def test_bedrock_converse_answers_reasoning_content_and_takes_it_back(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    question = {"role": "user", "content": [{"text": "What is the weather in Paris?"}]}
    extra = {"thinking": THINKING}
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": TOOLS[0]["input_schema"]}}}]}

    first = client.converse(modelId=SONNET, messages=[question], toolConfig=tools,
                            inferenceConfig={"maxTokens": 4096}, additionalModelRequestFields=extra)
    content = first["output"]["message"]["content"]
    reasoning = content[0]["reasoningContent"]["reasoningText"]
    call = content[1]["toolUse"]
    answer = {"role": "user", "content": [{"toolResult": {"toolUseId": call["toolUseId"], "content": [
        {"text": "21 C"}]}}]}
    second = client.converse(modelId=SONNET, messages=[question, {"role": "assistant", "content": content}, answer],
                             toolConfig=tools, inferenceConfig={"maxTokens": 4096},
                             additionalModelRequestFields=extra)
    content[0]["reasoningContent"]["reasoningText"]["signature"] = "forged"

    assert reasoning["text"] and reasoning["signature"]
    assert second["output"]["message"]["content"][-1]["text"].endswith("Thanks for the tool result.")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.converse(modelId=SONNET, messages=[question, {"role": "assistant", "content": content}, answer],
                        toolConfig=tools, inferenceConfig={"maxTokens": 4096}, additionalModelRequestFields=extra)
    assert "Invalid `signature`" in refused.value.response["Error"]["Message"]


def test_bedrock_converse_stream_sends_reasoning_then_signature(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    stream = client.converse_stream(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                                    inferenceConfig={"maxTokens": 4096},
                                    additionalModelRequestFields={"thinking": THINKING})["stream"]
    deltas = [event["contentBlockDelta"]["delta"] for event in stream if "contentBlockDelta" in event]

    reasoning = [delta["reasoningContent"] for delta in deltas if "reasoningContent" in delta]
    assert "text" in reasoning[0] and "signature" in reasoning[-1]
    assert "text" in deltas[-1]


def test_claude_on_vertex_thinks(sim):
    client = anthropic_vertex_client(sim.url, sim.account("demo-vertex"))

    reply = client.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=4096, messages=[QUESTION],
                                   thinking=THINKING)

    assert reply.content[0].type == "thinking" and reply.content[0].signature


def test_known_betas_are_accepted_and_recorded_unknown_ones_refused(sim, claude):
    claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[QUESTION],
                           extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14,context-1m-2025-08-07"})

    assert sim.call_log("anthropic.CreateMessage")[-1]["betas"] == ["interleaved-thinking-2025-05-14",
                                                                    "context-1m-2025-08-07"]
    with pytest.raises(anthropic.BadRequestError) as refused:
        claude.messages.create(model="claude-sonnet-4-6", max_tokens=100, messages=[QUESTION],
                               extra_headers={"anthropic-beta": "mind-reading-2099-01-01"})
    assert "Unexpected value(s) `mind-reading-2099-01-01` for the `anthropic-beta` header" in str(refused.value)


def test_bedrock_takes_betas_in_the_body_and_refuses_those_it_lacks(sim):
    account = sim.account("demo-bedrock")
    client = anthropic.AnthropicBedrock(base_url=sim.url, aws_access_key=account.access_key_id,
                                        aws_secret_key=account.secret_access_key, aws_region="us-east-1",
                                        max_retries=0)

    client.messages.create(model=SONNET, max_tokens=100, messages=[QUESTION],
                           extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"})

    assert sim.call_log("bedrock.InvokeModel")[-1]["betas"] == ["interleaved-thinking-2025-05-14"]
    with pytest.raises(anthropic.BadRequestError) as refused:  # an Anthropic-platform beta Bedrock does not serve
        client.messages.create(model=SONNET, max_tokens=100, messages=[QUESTION],
                               extra_headers={"anthropic-beta": "message-batches-2024-09-24"})
    assert "invalid beta flag" in str(refused.value)


def test_vertex_takes_betas_in_the_header(sim):
    client = anthropic_vertex_client(sim.url, sim.account("demo-vertex"))

    client.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=100, messages=[QUESTION],
                           extra_headers={"anthropic-beta": "context-1m-2025-08-07"})

    assert sim.call_log("vertex.RawPredict")[-1]["betas"] == ["context-1m-2025-08-07"]
    with pytest.raises(anthropic.BadRequestError):
        client.messages.create(model="claude-sonnet-4-5@20250929", max_tokens=100, messages=[QUESTION],
                               extra_headers={"anthropic-beta": "mind-reading-2099-01-01"})
