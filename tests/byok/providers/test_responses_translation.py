"""The Responses translation on its own (no I/O): a chat stream becomes OpenAI's typed events in order, a cut answer
is `incomplete`, and reasoning sealed in a reasoning item comes back as the same thinking blocks."""

import base64
import json

import pytest

from byok.providers.translate import RequestInvalid
from byok.providers.translate.responses import ChatStreamToResponses, chat_to_response, responses_to_chat

BLOCK = {"type": "thinking", "thinking": "Plan: call the tool.", "signature": "c2ln"}
REQUEST = {"model": "anthropic/standard", "input": "Weather in Paris and Oslo?", "include": ["reasoning.encrypted_content"],
           "reasoning": {"effort": "low", "summary": "auto"}}


def chunk(delta=None, finish=None, usage=None):
    return {"choices": [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}],
            **({"usage": usage} if usage else {})}


def test_a_chat_stream_becomes_the_typed_events_in_order():
    translator = ChatStreamToResponses(REQUEST, model="claude-sonnet-4-5")
    events = translator.start()
    for item in [chunk({"role": "assistant", "content": ""}), chunk({"reasoning_content": "Plan: "}),
                 chunk({"reasoning_content": "call the tool."}), chunk({"thinking_blocks": [BLOCK]}),
                 chunk({"content": "Checking."}),
                 chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "w", "arguments": ""}}]}),
                 chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Paris"}'}}]}),
                 chunk({"tool_calls": [{"index": 1, "id": "call_2", "function": {"name": "w", "arguments": "{}"}}]}),
                 chunk({}, finish="tool_calls"), chunk(usage={"prompt_tokens": 12, "completion_tokens": 30})]:
        events += translator.feed(item)
    events += translator.finish()
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.completed"]
    response = events[-1]["response"]
    reasoning, message, first, second = response["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Plan: call the tool."}]
    assert json.loads(base64.b64decode(reasoning["encrypted_content"])) == [BLOCK]
    assert message["content"][0]["text"] == "Checking." and message["status"] == "completed"
    assert (first["call_id"], first["arguments"], second["call_id"]) == ("call_1", '{"city": "Paris"}', "call_2")
    assert response["usage"]["input_tokens"] == 12 and response["usage"]["total_tokens"] == 42


def test_a_cut_answer_is_incomplete():
    completion = {"model": "m", "created": 1, "usage": {"prompt_tokens": 3, "completion_tokens": 16},
                  "choices": [{"message": {"content": "The quarterly"}, "finish_reason": "length"}]}
    response = chat_to_response(completion, {"input": "hi", "max_output_tokens": 16})
    assert response["status"] == "incomplete" and response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["output"][0]["content"][0]["text"] == "The quarterly"


def test_a_reasoning_item_hands_claude_its_thinking_back():
    sealed = chat_to_response({"choices": [{"message": {"reasoning_content": BLOCK["thinking"],
                                                        "thinking_blocks": [BLOCK],
                                                        "tool_calls": [{"id": "call_1", "function": {
                                                            "name": "w", "arguments": "{}"}}]},
                                            "finish_reason": "tool_calls"}]}, REQUEST)["output"]
    chat = responses_to_chat({"model": "m", "input": [{"role": "user", "content": "Weather?"}, *sealed,
                                                      {"type": "function_call_output", "call_id": "call_1",
                                                       "output": "21"}]}, family="Claude", thinking=True)
    assert chat["messages"][1] == {"role": "assistant", "content": None, "thinking_blocks": [BLOCK],
                                   "tool_calls": [{"id": "call_1", "type": "function",
                                                   "function": {"name": "w", "arguments": "{}"}}]}
    assert chat["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "21"}
    other = responses_to_chat({"model": "m", "input": [{"role": "user", "content": "Hi"}, sealed[0]]},
                              family="Mistral AI", thinking=False)
    assert other["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("body, param", [
    ({"input": "hi", "tools": [{"type": "code_interpreter"}]}, "tools[0].type"),
    ({"input": "hi", "text": {"format": {"type": "xml"}}}, "text.format.type"),
    ({"input": "hi", "tool_choice": {"type": "web_search"}}, "tool_choice"),
    ({"input": [{"type": "reasoning", "encrypted_content": "%%%"}]}, "input[0].encrypted_content"),
    ({"input": "hi", "truncation": "auto"}, "truncation"),
])
def test_what_the_translation_refuses_names_the_field(body, param):
    with pytest.raises(RequestInvalid) as refused:
        responses_to_chat({"model": "m", **body}, family="Claude", thinking=True)
    assert refused.value.param == param


def test_a_file_goes_to_claude_as_a_document_and_to_converse_as_one():
    from byok.providers.translate.anthropic_chat import chat_to_messages
    from byok.providers.translate.bedrock_chat import chat_to_converse

    pdf = base64.b64encode(b"%PDF-1.4").decode()
    text = base64.b64encode(b"Revenue rose.").decode()
    chat = responses_to_chat({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_file", "filename": "Q3 report.pdf", "file_data": f"data:application/pdf;base64,{pdf}"},
        {"type": "input_file", "filename": "notes.txt", "file_data": f"data:text/plain;base64,{text}"}]}]},
        family="Claude", thinking=True)
    [message] = chat_to_messages(chat, model="claude")["messages"]
    assert message["content"] == [
        {"type": "document", "title": "Q3 report.pdf",
         "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}},
        {"type": "document", "title": "notes.txt",
         "source": {"type": "text", "media_type": "text/plain", "data": "Revenue rose."}}]
    [turn] = chat_to_converse(chat)["messages"]
    assert turn["content"] == [{"document": {"format": "pdf", "name": "Q3 report pdf", "source": {"bytes": pdf}}},
                               {"document": {"format": "txt", "name": "notes txt", "source": {"bytes": text}}}]
