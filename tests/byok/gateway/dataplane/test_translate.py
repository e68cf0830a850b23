"""The translations are pure functions: OpenAI chat <-> Anthropic Messages, <-> Bedrock Converse, Messages -> Invoke."""

import base64
import json

import pytest

from byok.providers.translate import RequestInvalid
from byok.providers.translate.anthropic_chat import MessagesStreamToChat, chat_to_messages, message_to_chat
from byok.providers.translate.bedrock_chat import ConverseStreamToChat, chat_to_converse, converse_to_chat
from byok.providers.translate.gemini_chat import chat_to_gemini
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
    assert body["system"] == "Be brief.\n\nUse tools."
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["stop_sequences"]) == (77, 0.5, 0.9, ["END"])
    # JSON mode with tools: the answer is one more tool, and the model must call one of them
    assert body["tool_choice"] == {"type": "any"} and [t["name"] for t in body["tools"]] == ["f", "json_answer"]
    assert body["tools"][1]["input_schema"] == {"type": "object"}
    user, assistant, results = body["messages"]
    assert user["content"][1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                              "data": PNG}}
    assert assistant["content"] == [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}}]
    # the tool result and the next user turn merge into one user message (roles alternate)
    assert results["content"][0] == {"type": "tool_result", "tool_use_id": "call_1",
                                     "content": [{"type": "text", "text": "42"}]}
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
    chunks = [c for event in events for c in translator.feed(event)]
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


@pytest.mark.django_db(transaction=True)
def test_a_name_parsed_before_a_catalog_change_means_what_the_catalog_says_after_it():
    """Names are parsed once per catalog snapshot: a model retired since is unknown at once, as is one re-listed."""
    from byok.gateway.catalog import UnknownModel, parse_model
    from byok.models import Model

    assert parse_model("claude-haiku-4-5-20251001").base_model == "claude-haiku-4-5-20251001"
    haiku = Model.objects.get(family="anthropic", model_id="claude-haiku-4-5-20251001")
    haiku.status = Model.Status.RETIRED
    haiku.save()
    with pytest.raises(UnknownModel):
        parse_model("claude-haiku-4-5-20251001")
    haiku.status = Model.Status.AVAILABLE
    haiku.save()
    assert parse_model("claude-haiku-4-5-20251001").family == "anthropic"


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "place", "schema": SCHEMA}}


def test_a_json_schema_is_a_forced_tool_and_its_input_the_answer():
    body = chat_to_messages({"messages": [{"role": "user", "content": "Where?"}], "response_format": JSON_SCHEMA},
                            model="m")
    assert body["tools"] == [{"name": "json_answer", "description": "Give your final answer as this JSON value.",
                              "input_schema": SCHEMA}]
    assert body["tool_choice"] == {"type": "tool", "name": "json_answer"} and "system" not in body
    answer = message_to_chat({"content": [{"type": "tool_use", "id": "t", "name": "json_answer",
                                           "input": {"city": "Oslo"}}], "stop_reason": "tool_use",
                              "usage": {"input_tokens": 1, "output_tokens": 1}}, model="m")
    choice = answer["choices"][0]
    assert json.loads(choice["message"]["content"]) == {"city": "Oslo"} and choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    converse = chat_to_converse({"messages": [{"role": "user", "content": "Where?"}], "response_format": JSON_SCHEMA})
    assert converse["toolConfig"]["toolChoice"] == {"tool": {"name": "json_answer"}}
    assert converse["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"] == {"json": SCHEMA}
    translator = ConverseStreamToChat(model="m")
    events = [("messageStart", {}), ("contentBlockStart", {"contentBlockIndex": 0, "start": {
        "toolUse": {"toolUseId": "t", "name": "json_answer"}}}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": '{"city": "Oslo"}'}}}),
        ("messageStop", {"stopReason": "tool_use"})]
    chunks = [c for event in events for c in translator.feed(event)]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == '{"city": "Oslo"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_cache_control_reaches_claude_on_both_apis():
    cached = {"type": "text", "text": "A long manual.", "cache_control": {"type": "ephemeral"}}
    request = {"messages": [{"role": "system", "content": [cached]}, {"role": "user", "content": "Hi"}],
               "tools": [{"type": "function", "function": {"name": "f"}, "cache_control": {"type": "ephemeral"}}]}
    body = chat_to_messages(request, model="m")
    assert body["system"] == [{"type": "text", "text": "A long manual.", "cache_control": {"type": "ephemeral"}}]
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral"}
    converse = chat_to_converse(request)
    assert converse["system"] == [{"text": "A long manual."}, {"cachePoint": {"type": "default"}}]
    assert converse["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default"}}


HELLO = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("fields, param, says", [
    ({"temperature": "hot"}, "temperature", "must be a number"),
    ({"n": 2}, "n", "one choice"),
    ({"logprobs": True}, "logprobs", "no log probabilities"),
    ({"top_p": [1]}, "top_p", "must be a number"),
    ({"stop": 7}, "stop", "string or a list"),
    ({"max_tokens": 0}, "max_tokens", "between 1"),
    ({"stream_options": "x"}, "stream_options", "must be an object"),
    ({"tools": [{"type": "web_search"}]}, "tools", "function tools only"),
    ({"tool_choice": 3}, "tool_choice", "string or an object"),
    ({"response_format": {"type": "xml"}}, "response_format", "json_schema"),
    ({"frobnicate": 1}, "frobnicate", "not a Chat Completions request field"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages", "text must be a string"),
    ({"messages": [{"role": "assistant", "tool_calls": "x"}]}, "messages", "must be a list"),
])
@pytest.mark.parametrize("translate", [lambda body: chat_to_messages(body, model="m"), chat_to_converse,
                                       chat_to_gemini], ids=["claude", "converse", "gemini"])
def test_every_field_has_one_rule_and_a_wrong_value_is_a_400_naming_it(translate, fields, param, says):
    with pytest.raises(RequestInvalid, match=says) as refused:
        translate({"messages": HELLO, **fields})
    assert refused.value.param == param


def test_every_chat_field_is_declared_for_every_translating_family():
    from byok.providers.translate.anthropic_chat import CHAT_TO_MESSAGES
    from byok.providers.translate.bedrock_chat import CHAT_TO_CONVERSE
    from byok.providers.translate.chat import CHAT_FIELDS
    from byok.providers.translate.gemini_chat import CHAT_TO_GEMINI

    for rules in (CHAT_TO_MESSAGES, CHAT_TO_CONVERSE, CHAT_TO_GEMINI):
        assert set(rules) == set(CHAT_FIELDS)


def test_dropped_fields_are_accepted_and_left_out():
    body = chat_to_messages({"messages": HELLO, "seed": 3, "user": "u", "store": False, "n": 1}, model="m")
    assert not {"seed", "user", "store", "n"} & set(body)


@pytest.mark.parametrize("translate", [lambda body: chat_to_messages(body, model="m"), chat_to_converse])
def test_claude_takes_temperatures_up_to_1(translate):
    with pytest.raises(RequestInvalid, match="between 0 and 1") as refused:
        translate({"messages": HELLO, "temperature": 1.5})
    assert refused.value.param == "temperature"


def test_the_docs_show_the_declared_rules():
    from pathlib import Path

    from byok.providers.translate.tables import rules_table

    docs = (Path(__file__).resolve().parents[4] / "docs" / "providers.md").read_text()
    assert rules_table() in docs
