"""The translations are pure functions: OpenAI chat <-> Anthropic Messages, <-> Bedrock Converse, Messages -> Invoke."""

import base64
import json

import pytest

from byok.providers.translate import RequestInvalid
from byok.providers.translate.anthropic_chat import MessagesStreamToChat, chat_to_messages, message_to_chat
from byok.providers.translate.bedrock_chat import ConverseStreamToChat, chat_to_converse, converse_to_chat
from byok.providers.translate.bedrock_messages import invoke_chunk_event, messages_to_invoke

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 16).decode()
CHAT = {
    "model": "x", "temperature": 0.5, "top_p": 0.9, "stop": "END", "max_completion_tokens": 77,
    "response_format": {"type": "json_object"},
    "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                                                 "parameters": {"type": "object", "properties": {}}}}],
    "tool_choice": "required",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "user", "content": "And?"},
    ],
}


def test_chat_to_anthropic_messages():
    body = chat_to_messages(CHAT, model="claude")
    assert body["system"].startswith("Be brief.\n\nUse tools.") and "JSON" in body["system"]
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["stop_sequences"]) == (77, 0.5, 0.9, ["END"])
    assert body["tool_choice"] == {"type": "any"} and body["tools"][0]["input_schema"]["type"] == "object"
    user, assistant, results = body["messages"]
    assert user["content"][1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                              "data": PNG}}
    assert assistant["content"] == [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}]
    # the tool result and the next user turn merge into one user message (roles alternate)
    assert results["content"][0] == {"type": "tool_result", "tool_use_id": "call_1", "content": "42"}
    assert results["content"][1] == {"type": "text", "text": "And?"}


def test_chat_to_converse():
    body = chat_to_converse(CHAT)
    assert body["inferenceConfig"] == {"maxTokens": 77, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]}
    assert body["system"][0] == {"text": "Be brief."} and body["toolConfig"]["toolChoice"] == {"any": {}}
    user, assistant, results = body["messages"]
    assert user["content"][1] == {"image": {"format": "png", "source": {"bytes": PNG}}}
    assert assistant["content"] == [{"toolUse": {"toolUseId": "call_1", "name": "f", "input": {"a": 1}}}]
    assert results["content"][0] == {"toolResult": {"toolUseId": "call_1", "content": [{"text": "42"}]}}


def test_bedrock_rejects_image_links_and_bad_content():
    with pytest.raises(RequestInvalid, match="data URLs"):
        chat_to_converse({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]})
    with pytest.raises(RequestInvalid):
        chat_to_messages({"messages": [{"role": "robot", "content": "x"}]}, model="m")
    with pytest.raises(RequestInvalid):
        chat_to_messages({"messages": []}, model="m")


def test_responses_to_chat():
    message = {"content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "t", "name": "f",
                                                            "input": {"a": 1}}],
               "stop_reason": "tool_use", "usage": {"input_tokens": 3, "output_tokens": 4}}
    chat = message_to_chat(message, model="m")
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert json.loads(chat["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]) == {"a": 1}
    assert chat["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    converse = {"output": {"message": {"content": [{"text": "Hello"}]}}, "stopReason": "max_tokens",
                "usage": {"inputTokens": 1, "outputTokens": 2}}
    chat = converse_to_chat(converse, model="m")
    assert (chat["choices"][0]["message"]["content"], chat["choices"][0]["finish_reason"]) == ("Hello", "length")


def test_anthropic_stream_to_chunks():
    translator = MessagesStreamToChat(model="m")
    events = [{"type": "message_start", "message": {"usage": {"input_tokens": 5, "output_tokens": 1}}},
              {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
              {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
              {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t",
                                                                              "name": "f"}},
              {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                                     "partial_json": "{}"}},
              {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
              {"type": "message_stop"}]
    chunks = [c for e in events for c in translator.feed(e)]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[1]["choices"][0]["delta"] == {"content": "Hi"}
    assert chunks[2]["choices"][0]["delta"]["tool_calls"][0]["index"] == 0
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 9


def test_converse_stream_to_chunks():
    translator = ConverseStreamToChat(model="m")
    events = [("messageStart", {"role": "assistant"}),
              ("contentBlockDelta", {"delta": {"text": "Hi"}, "contentBlockIndex": 0}),
              ("messageStop", {"stopReason": "end_turn"}),
              ("metadata", {"usage": {"inputTokens": 2, "outputTokens": 3}})]
    chunks = [c for kind, payload in events for c in translator.feed(kind, payload)]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}


def test_messages_to_bedrock_invoke():
    body = messages_to_invoke({"model": "claude", "stream": True, "max_tokens": 5,
                               "messages": [{"role": "user", "content": "Hi"}], "system": "S"})
    assert body == {"max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}], "system": "S",
                    "anthropic_version": "bedrock-2023-05-31"}
    event = {"type": "message_stop", "amazon-bedrock-invocationMetrics": {"inputTokenCount": 1}}
    assert invoke_chunk_event({"bytes": base64.b64encode(json.dumps(event).encode()).decode()}) == \
        {"type": "message_stop"}


@pytest.mark.django_db  # model names come from the catalog
def test_model_names():
    from byok.gateway.catalog import UnknownModel, parse_model

    assert parse_model("standard").tier == "standard" and parse_model("standard").family is None
    assert parse_model("claude-opus").claude and parse_model("claude-opus").tier == "complex"
    assert parse_model("bedrock/complex").family == "bedrock"
    assert parse_model("bedrock_api_key/standard").family == "bedrock"
    assert parse_model("openai/gpt-5").base_model == "gpt-5"
    assert parse_model("eu.anthropic.claude-opus-4-5-20251101-v1:0").family == "bedrock"
    assert parse_model("claude-opus-4-5-20251101").family == "anthropic"
    # An id two families share is the named family's.
    assert [parse_model(f"{family}/claude-sonnet-5-5").family for family in ("anthropic", "vertex")] == [
        "anthropic", "vertex"]
    for unknown in ("gpt-17", "openai/claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929",  # retired
                    "", None, "nobody/standard"):
        with pytest.raises(UnknownModel):
            parse_model(unknown)
