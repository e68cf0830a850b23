"""Tools and images in each protocol, through the real SDKs: a "weather" question (or a forced tool_choice) gets a
tool call, streaming included; the tool's result gets a text answer; images are accepted and acknowledged."""

from __future__ import annotations

import base64
import json

import anthropic
import pytest

from .helpers import SONNET, anthropic_client, aws_client, openai_client

# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PNG_BASE64 = base64.b64encode(PNG).decode()
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["city", "unit"],
}
EXPECTED_ARGUMENTS = {"city": "Paris", "unit": "celsius"}
CLOCK_SCHEMA = {"type": "object", "properties": {"timezone": {"type": "string"}}}
ASK_WEATHER = "What is the weather in Paris?"
ANTHROPIC_MODEL = "claude-sonnet-4-6"


# --- OpenAI ---------------------------------------------------------------------------------------------------------

OPENAI_TOOLS = [
    {"type": "function", "function": {"name": "get_time", "description": "Clock", "parameters": CLOCK_SCHEMA}},
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": WEATHER_SCHEMA}},
]


def test_openai_weather_question_gets_a_tool_call_then_the_result_gets_text(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)
    messages = [{"role": "user", "content": ASK_WEATHER}]

    first = client.chat.completions.create(model="gpt-4.1", messages=messages, tools=OPENAI_TOOLS)
    call = first.choices[0].message.tool_calls[0]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees and sunny"},
    ]
    second = client.chat.completions.create(model="gpt-4.1", messages=messages, tools=OPENAI_TOOLS)

    assert first.choices[0].finish_reason == "tool_calls" and first.choices[0].message.content is None
    assert call.type == "function" and call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == EXPECTED_ARGUMENTS
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content.startswith("Simulated openai reply")
    assert second.usage.prompt_tokens > first.usage.prompt_tokens  # the tool result is read too


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("required", "get_weather"),  # any tool: the one about weather, else the first
        ({"type": "function", "function": {"name": "get_weather"}}, "get_weather"),
        ("auto", None),
        ("none", None),
    ],
)
def test_openai_tool_choice_forces_or_forbids_a_call(sim, tool_choice, expected):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)
    message = "Tell me a joke" if tool_choice != "none" else ASK_WEATHER

    completion = client.chat.completions.create(
        model="gpt-4.1", messages=[{"role": "user", "content": message}], tools=OPENAI_TOOLS, tool_choice=tool_choice
    )

    calls = completion.choices[0].message.tool_calls
    assert (calls[0].function.name if calls else None) == expected


def test_openai_stream_sends_tool_call_deltas(sim):
    client = openai_client(sim.url, sim.account("demo-xai").api_key, "xai")
    request = {"model": "grok-4", "messages": [{"role": "user", "content": ASK_WEATHER}], "tools": OPENAI_TOOLS}

    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **request))
    plain = client.chat.completions.create(**request)

    deltas = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    assert deltas[0].id.startswith("call_") and deltas[0].function.name == "get_weather"
    assert len(deltas) > 2 and {delta.index for delta in deltas} == {0}
    assert json.loads("".join(delta.function.arguments for delta in deltas)) == EXPECTED_ARGUMENTS
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage == plain.usage


def test_openai_image_url_parts_are_seen(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)
    content = [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_BASE64}", "detail": "low"}},
    ]

    completion = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": content}])

    assert "I see 2 images" in completion.choices[0].message.content


# --- Anthropic ------------------------------------------------------------------------------------------------------

ANTHROPIC_TOOLS = [
    {"name": "get_time", "description": "Clock", "input_schema": CLOCK_SCHEMA},
    {"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA},
]


def test_anthropic_streamed_tool_use_then_the_result_gets_text(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)
    messages = [{"role": "user", "content": ASK_WEATHER}]

    with client.messages.stream(model=ANTHROPIC_MODEL, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS) as s:
        events = list(s)
        first = s.get_final_message()
    tool_use = first.content[0]
    messages += [
        {"role": "assistant", "content": [tool_use.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use.id, "content": "18 and sunny"}]},
    ]
    second = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=200, messages=messages, tools=ANTHROPIC_TOOLS)

    json_deltas = [e.delta.partial_json for e in events if e.type == "content_block_delta"]
    assert len(json_deltas) > 2 and json.loads("".join(json_deltas)) == EXPECTED_ARGUMENTS
    assert first.stop_reason == "tool_use"
    assert (tool_use.type, tool_use.name, tool_use.input) == ("tool_use", "get_weather", EXPECTED_ARGUMENTS)
    assert tool_use.id.startswith("toolu_")
    assert second.stop_reason == "end_turn" and second.content[0].text.startswith("Simulated anthropic reply")


def test_anthropic_forced_tool_and_image_blocks(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}}
    content = [image, {"type": "text", "text": "Describe this"}]

    forced = client.messages.create(
        model=ANTHROPIC_MODEL,
        max_tokens=200,
        messages=[{"role": "user", "content": content}],
        tools=ANTHROPIC_TOOLS,
        tool_choice={"type": "tool", "name": "get_time"},
    )
    described = client.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=200, messages=[{"role": "user", "content": content}], tools=ANTHROPIC_TOOLS
    )

    assert forced.content[0].type == "tool_use" and forced.content[0].name == "get_time"
    assert forced.content[0].input == {"timezone": "Paris"}
    assert described.stop_reason == "end_turn" and "I see 1 image" in described.content[0].text


# --- Bedrock --------------------------------------------------------------------------------------------------------

CONVERSE_TOOLS = {
    "tools": [
        {"toolSpec": {"name": "get_time", "description": "Clock", "inputSchema": {"json": CLOCK_SCHEMA}}},
        {"toolSpec": {"name": "get_weather", "description": "Weather", "inputSchema": {"json": WEATHER_SCHEMA}}},
    ]
}


def test_converse_tool_use_then_the_result_gets_text(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    messages = [{"role": "user", "content": [{"text": ASK_WEATHER}]}]

    first = client.converse(modelId=SONNET, messages=messages, toolConfig=CONVERSE_TOOLS)
    tool_use = first["output"]["message"]["content"][0]["toolUse"]
    messages += [
        first["output"]["message"],
        {
            "role": "user",
            "content": [{"toolResult": {"toolUseId": tool_use["toolUseId"], "content": [{"json": {"temp": 18}}]}}],
        },
    ]
    second = client.converse(modelId=SONNET, messages=messages, toolConfig=CONVERSE_TOOLS)

    assert first["stopReason"] == "tool_use"
    assert (tool_use["name"], tool_use["input"]) == ("get_weather", EXPECTED_ARGUMENTS)
    assert second["stopReason"] == "end_turn"
    assert second["output"]["message"]["content"][0]["text"].startswith("Simulated bedrock reply")


def test_converse_stream_sends_tool_use_start_and_input_deltas(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    request = {
        "modelId": SONNET,
        "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
        "toolConfig": {**CONVERSE_TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}},
    }

    events = list(client.converse_stream(**request)["stream"])
    plain = client.converse(**request)

    start = next(event["contentBlockStart"] for event in events if "contentBlockStart" in event)
    assert start["start"]["toolUse"]["name"] == "get_weather" and start["contentBlockIndex"] == 0
    deltas = [event["contentBlockDelta"]["delta"] for event in events if "contentBlockDelta" in event]
    pieces = [delta["toolUse"]["input"] for delta in deltas]
    assert json.loads("".join(pieces)) == EXPECTED_ARGUMENTS
    assert next(event["messageStop"] for event in events if "messageStop" in event)["stopReason"] == "tool_use"
    assert events[-1]["metadata"]["usage"] == plain["usage"]


def test_converse_image_bytes_are_seen(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    content = [{"image": {"format": "png", "source": {"bytes": PNG}}}, {"text": "What is this?"}]

    response = client.converse(modelId=SONNET, messages=[{"role": "user", "content": content}])

    assert "I see 1 image" in response["output"]["message"]["content"][0]["text"]


def test_anthropic_bedrock_streams_a_tool_use_with_an_image(sim):
    client = anthropic.AnthropicBedrock(
        base_url=sim.url, api_key=sim.account("demo-bedrock-api-key").api_key, aws_region="us-east-1", max_retries=0
    )
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_BASE64}}

    with client.messages.stream(
        model=SONNET,
        max_tokens=200,
        messages=[{"role": "user", "content": [image, {"type": "text", "text": ASK_WEATHER}]}],
        tools=ANTHROPIC_TOOLS,
    ) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "tool_use"
    assert (final.content[0].name, final.content[0].input) == ("get_weather", EXPECTED_ARGUMENTS)
