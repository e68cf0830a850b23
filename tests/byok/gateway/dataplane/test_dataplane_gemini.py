"""Gemini on a Google Vertex AI key through the official OpenAI SDK against the live data plane and the simulator:
tools round trips (streaming and not), tool_choice, images, JSON mode, system messages and sampling parameters —
each answer is one the simulator gives only when the translated request reached it as Vertex AI would take it."""

import base64
import json

import anthropic
import openai
import pytest

from tests.byok.gateway.dataplane.test_dataplane_sdk import PNG, WEATHER_TOOL
from tests.byok.gateway.dataplane.test_dataplane_vertex_role import HELLO, usage_rows, vertex_key

pytestmark = pytest.mark.django_db(transaction=True)

FLASH, PRO = "vertex/gemini-2.5-flash", "vertex/gemini-2.5-pro"
ASK_WEATHER = [{"role": "user", "content": "What is the weather in Paris?"}]
CLOCK_TOOL = {"type": "function", "function": {"name": "get_time", "description": "The time in a timezone.",
                                               "parameters": {"type": "object",
                                                              "properties": {"timezone": {"type": "string"}}}}}
THANKS = "Thanks for the tool result."


def streamed_calls(chunks) -> dict[int, dict]:
    """The tool calls of a stream, assembled from their deltas as an OpenAI client does."""
    calls: dict[int, dict] = {}
    for c in chunks:
        for delta in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] += delta.function.name or ""
            call["arguments"] += delta.function.arguments or ""
    return calls


def test_gemini_tools_round_trip(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    messages = list(ASK_WEATHER)
    first = client.chat.completions.create(model=FLASH, messages=messages, tools=[CLOCK_TOOL, WEATHER_TOOL],
                                           tool_choice="required")
    [call] = first.choices[0].message.tool_calls
    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert call.id.startswith("call_") and call.type == "function" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # sampled from the schema Gemini received
    messages += [first.choices[0].message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 21})}]
    second = client.chat.completions.create(model=FLASH, messages=messages, tools=[CLOCK_TOOL, WEATHER_TOOL])
    assert second.choices[0].finish_reason == "stop" and second.choices[0].message.content.endswith(THANKS)
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # the function response was read
    assert sandbox.calls("vertex.GenerateContent") == {account.name: 2}
    rows = usage_rows(dataplane)
    assert [r["output_tokens"] for r in rows] == [first.usage.completion_tokens, second.usage.completion_tokens]


def test_gemini_streamed_tool_call_and_its_answer(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    messages = [{"role": "user", "content": "What time is it in Oslo?"}]
    chunks = list(client.chat.completions.create(
        model=PRO, messages=messages, tools=[WEATHER_TOOL, CLOCK_TOOL], stream=True,
        tool_choice={"type": "function", "function": {"name": "get_time"}}, stream_options={"include_usage": True}))
    [call] = streamed_calls(chunks).values()
    assert call["id"].startswith("call_") and call["name"] == "get_time"
    assert json.loads(call["arguments"]) == {"timezone": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices
    messages += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": call["arguments"]}}]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "14:05"}]
    answer = list(client.chat.completions.create(model=PRO, messages=messages, tools=[WEATHER_TOOL, CLOCK_TOOL],
                                                 stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in answer if c.choices).endswith(THANKS)
    assert not streamed_calls(answer) and answer[-1].choices[0].finish_reason == "stop"
    assert sandbox.calls("vertex.StreamGenerateContent") == {account.name: 2}


@pytest.mark.parametrize(("question", "tool_choice", "calls"), [
    (ASK_WEATHER, None, True),  # the model chooses (AUTO): a weather question gets the weather tool
    (ASK_WEATHER, "auto", True),
    (ASK_WEATHER, "none", False),  # NONE: Gemini answers in text
    (HELLO, None, False),
    (HELLO, "required", True),  # ANY
])
def test_gemini_tool_choice_is_the_function_calling_mode(dataplane, sandbox, question, tool_choice, calls):
    member, account, key = vertex_key(sandbox)
    options = {"tool_choice": tool_choice} if tool_choice else {}
    completion = dataplane.openai(member).chat.completions.create(model=FLASH, messages=question,
                                                                  tools=[WEATHER_TOOL], **options)
    assert bool(completion.choices[0].message.tool_calls) is calls
    assert completion.choices[0].finish_reason == ("tool_calls" if calls else "stop")


def test_gemini_reads_images_inline_and_linked(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    completion = client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://images.example.com/cat.JPG?size=large"}}]}])
    # The simulator decoded the PNG (and checked its bytes are a PNG's) and took the link as file data.
    assert completion.choices[0].message.content.endswith("and I see 2 images.")
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://images.example.com/cat"}}]}])
    assert raised.value.body["param"] == "messages" and "image link's type" in raised.value.body["message"]
    gif = base64.b64encode(b"GIF89a" + b"\0" * 16).decode()
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{gif}"}}]}])
    assert raised.value.body["message"].startswith("messages[0]: Gemini does not read image/gif images")
    assert sandbox.calls("vertex.GenerateContent") == {account.name: 1}  # the refusals never left byok


def test_gemini_json_mode_and_json_schema(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    plain = client.chat.completions.create(model=FLASH, messages=HELLO, response_format={"type": "json_object"})
    assert json.loads(plain.choices[0].message.content)["reply"].startswith("Simulated vertex reply")
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "celsius", "sky"],
              "properties": {"city": {"type": "string", "description": "Where"}, "celsius": {"type": "number"},
                             "sky": {"anyOf": [{"type": "string", "enum": ["clear", "cloudy"]}, {"type": "null"}]}}}
    chunks = list(client.chat.completions.create(
        model=PRO, messages=HELLO, stream=True,
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    # An object that fits the schema as Gemini received it (the enum, a nullable string, in its own field names).
    assert json.loads(text) == {"city": "Paris", "celsius": 21.5, "sky": "clear"}


def test_gemini_system_messages_and_sampling_parameters(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "user", "content": "Hello there"}]
    completion = client.chat.completions.create(model=FLASH, messages=messages, temperature=0.2, top_p=0.9,
                                                stop=["\n\n"], max_completion_tokens=200)
    # 2 + 3 words of system instruction and 2 of the user's: the system messages reached Gemini as its instruction.
    assert completion.choices[0].message.content == ("Simulated vertex reply from gemini-2.5-flash: I read 7 words "
                                                     "of your prompt.")
    short = client.chat.completions.create(model=FLASH, messages=messages, max_tokens=3)
    assert short.choices[0].finish_reason == "length" and len(short.choices[0].message.content.split()) == 2


def test_malformed_gemini_requests_are_400s_naming_the_field(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    tuple_tool = {"type": "function", "function": {"name": "move", "parameters": {
        "type": "object", "properties": {"to": {"type": "array", "prefixItems": [{"type": "number"}] * 2}}}}}
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=FLASH, messages=HELLO, tools=[tuple_tool])
    assert raised.value.body["param"] == "tools"
    assert raised.value.body["message"].startswith("tools[0].function.parameters.properties.to is a tuple array")
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model=FLASH, messages=[*HELLO, {"role": "tool", "tool_call_id": "call_x",
                                                                       "content": "42"}])
    assert raised.value.body["message"].startswith("messages[1]: tool_call_id must be the id of a tool call")
    assert sandbox.calls("vertex.GenerateContent") == {}


def test_gemini_on_messages_is_a_clear_400(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    with pytest.raises(anthropic.BadRequestError) as raised:
        dataplane.anthropic(member).messages.create(model=FLASH, max_tokens=10, messages=HELLO)
    assert "gemini-2.5-flash is a Gemini model" in raised.value.body["error"]["message"]
    assert "/v1/chat/completions" in raised.value.body["error"]["message"]
