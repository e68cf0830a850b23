"""POST /v1/responses through the official openai SDK against the data plane and the simulator, for every kind of
family: OpenAI (passed through), Claude on Anthropic, Bedrock and Vertex (translated, thinking carried in reasoning
items) and Mistral (translated to its chat). Bad input is a 4xx in OpenAI's shape and records no usage."""

import base64
import json

import httpx
import jsonschema
import openai
import pytest

from byok.models import UsageRecord
from byok.providers.translate.responses import MAX_INPUT_ITEMS
from tests.byok.routing_helpers import key_for, team, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)

FAMILIES = ["openai", "anthropic", "bedrock", "vertex", "mistral"]
REASONING_FAMILIES = ["openai", "anthropic", "bedrock", "vertex"]
CLAUDE_FAMILIES = ["anthropic", "bedrock", "vertex"]
QUESTION = "Summarise the quarterly report in one line."
WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                               "additionalProperties": False}}
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "celsius": {"type": "number"},
                                                   "sky": {"type": "string", "enum": ["clear", "cloudy"]}},
                  "required": ["city", "celsius", "sky"], "additionalProperties": False}


def member_on(sandbox, family):
    """A member of a workspace whose owner has a key of `family` on a fresh simulator account."""
    owner, workspace, member = team()
    account = sandbox.add_account(family)
    if family == "vertex":
        vertex_key_for(owner, sandbox, account)
    else:
        key_for(owner, account, provider=family)
    return member


def usage_rows(dataplane):
    dataplane.flush_usage()
    return list(UsageRecord.objects.values("source", "provider", "input_tokens", "output_tokens"))


def reasoning_of(family):
    return {"reasoning": {"effort": "low", "summary": "auto"}} if family in REASONING_FAMILIES else {}


@pytest.mark.parametrize("family", FAMILIES)
def test_create_answers_text_and_records_its_usage(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    raw = client.responses.with_raw_response.create(model=f"{family}/standard", input=QUESTION,
                                                    instructions="Be brief.", max_output_tokens=300, temperature=1,
                                                    store=False, metadata={"team": "finance"})
    response = raw.parse()
    assert response.object == "response" and response.status == "completed" and response.output_text
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-provider"] == family
    assert usage_rows(dataplane) == [{"source": "byok", "provider": family, "input_tokens": response.usage.input_tokens,
                                      "output_tokens": response.usage.output_tokens}]


@pytest.mark.parametrize("family", FAMILIES)
def test_stream_sends_the_typed_events_in_order(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    with client.responses.stream(model=f"{family}/standard", input=QUESTION) as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [event.sequence_number for event in events] == list(range(len(events)))
    message = next(i for i, kind in enumerate(kinds) if kind == "response.content_part.added")
    assert kinds[message - 1] == "response.output_item.added"
    assert kinds[message + 1] == "response.output_text.delta"
    assert kinds[-4:-1] == ["response.output_text.done", "response.content_part.done", "response.output_item.done"]
    text = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert text and text == final.output_text
    assert final.usage.output_tokens > 0
    [row] = usage_rows(dataplane)
    assert (row["input_tokens"], row["output_tokens"]) == (final.usage.input_tokens, final.usage.output_tokens)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_two_turn_function_call_loop_keeps_the_reasoning(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    conversation = [{"role": "user", "content": "What is the weather in Paris?"}]
    options = {"model": f"{family}/standard", "tools": [WEATHER_TOOL], "include": ["reasoning.encrypted_content"],
               **reasoning_of(family)}
    first = client.responses.create(input=conversation, **options)
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments)["city"]
    reasoning = [item for item in first.output if item.type == "reasoning"]
    if family in REASONING_FAMILIES:
        assert reasoning[0].encrypted_content and first.output[0].type == "reasoning"
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'})
    with client.responses.stream(input=conversation, **options) as stream:
        kinds = [event.type for event in stream]
        second = stream.get_final_response()
    assert second.output_text and second.status == "completed"
    assert not [item for item in second.output if item.type == "function_call"]
    if family in CLAUDE_FAMILIES:
        # Claude refuses a tool result whose turn lost its signed thinking: the second call proves it travelled.
        assert second.output[0].type == "reasoning" and second.output[0].summary[0].text
        summary = kinds.index("response.reasoning_summary_part.added")
        assert kinds[summary - 1:summary + 2] == ["response.output_item.added", "response.reasoning_summary_part.added",
                                                  "response.reasoning_summary_text.delta"]
        assert "response.reasoning_summary_text.done" in kinds
    assert len(usage_rows(dataplane)) == 2


@pytest.mark.parametrize("family", CLAUDE_FAMILIES)
def test_a_changed_reasoning_item_is_refused_by_claude(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    conversation = [{"role": "user", "content": "What is the weather in Oslo?"}]
    options = {"model": f"{family}/standard", "tools": [WEATHER_TOOL], "include": ["reasoning.encrypted_content"],
               "reasoning": {"effort": "low"}}
    first = client.responses.create(input=conversation, **options)
    items = [item.model_dump(exclude_none=True) for item in first.output]
    [call] = [item for item in items if item["type"] == "function_call"]
    items[0]["encrypted_content"] = "bm90IGEgYmxvY2s="  # base64 of "not a block"
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(input=[*conversation, *items, {"type": "function_call_output",
                                                               "call_id": call["call_id"], "output": "21"}],
                                **options)
    assert refused.value.body["param"] == "input[1].encrypted_content"


@pytest.mark.parametrize("family", REASONING_FAMILIES)  # the simulator's Mistral chat ignores response_format
def test_json_schema_answer_is_schema_valid(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    text = {"format": {"type": "json_schema", "name": "weather", "schema": WEATHER_SCHEMA, "strict": True}}
    response = client.responses.create(model=f"{family}/standard", input="The weather in Rome, as JSON.", text=text)
    jsonschema.validate(json.loads(response.output_text), WEATHER_SCHEMA)
    with client.responses.stream(model=f"{family}/standard", input="The weather in Rome, as JSON.",
                                 text=text) as stream:
        streamed = stream.get_final_response()
    jsonschema.validate(json.loads(streamed.output_text), WEATHER_SCHEMA)


BAD_INPUT = {
    "input of the wrong type": ({"input": 42}, "input"),
    "temperature of the wrong type": ({"input": QUESTION, "temperature": "warm"}, "temperature"),
    "too many input items": ({"input": [{"role": "user", "content": "hi"}] * 10_000}, "input"),
    "an unknown include": ({"input": QUESTION, "include": ["everything"]}, "include[0]"),
}
TRANSLATED_BAD_INPUT = {
    **BAD_INPUT,
    "an unknown item type": ({"input": [{"type": "banana"}]}, "input[0].type"),
    "no input items": ({"input": [], "instructions": "Be brief."}, "input"),
    "an unknown content part": ({"input": [{"role": "user", "content": [{"type": "input_video"}]}]},
                                "input[0].content[0].type"),
    "a function call without a name": ({"input": [{"type": "function_call", "call_id": "c1", "arguments": "{}"}]},
                                       "input[0].name"),
    "a hosted tool": ({"input": QUESTION, "tools": [{"type": "web_search"}]}, "tools[0].type"),
    "previous_response_id": ({"input": QUESTION, "previous_response_id": "resp_123"}, "previous_response_id"),
    "a stored item": ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    "an unknown field": ({"input": QUESTION, "extra_body": {"colour": "blue"}}, "colour"),
    "an unknown reasoning effort": ({"input": QUESTION, "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
}


@pytest.mark.parametrize("case", TRANSLATED_BAD_INPUT)
@pytest.mark.parametrize("family", ["anthropic", "bedrock", "mistral"])
def test_bad_input_is_a_400_in_openai_shape_recording_nothing(dataplane, sandbox, family, case):
    body, param = TRANSLATED_BAD_INPUT[case]
    client = dataplane.openai(member_on(sandbox, family))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=f"{family}/standard", **body)
    assert refused.value.body["param"] == param and refused.value.body["type"] == "invalid_request_error"
    assert refused.value.body["message"]
    assert usage_rows(dataplane) == []


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_on_openai_is_a_400_before_the_provider(dataplane, sandbox, case):
    body, param = BAD_INPUT[case]
    client = dataplane.openai(member_on(sandbox, "openai"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="openai/standard", **body)
    assert refused.value.body["param"] == param
    assert sandbox.calls("openai.CreateResponse") == {} and usage_rows(dataplane) == []


def test_openai_refusing_an_item_is_a_400_recording_nothing(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "openai"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="openai/standard", input=[{"type": "banana"}])
    assert refused.value.body["code"] == "provider_bad_request" and usage_rows(dataplane) == []


def test_messages_the_hosted_tool_and_the_family(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "anthropic"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="anthropic/standard", input=QUESTION, tools=[{"type": "file_search"}])
    assert "Anthropic cannot run OpenAI's hosted tool 'file_search'" in refused.value.body["message"]


@pytest.mark.parametrize("family", ["anthropic", "bedrock"])
def test_a_family_refusal_names_the_responses_field(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=f"{family}/standard", input=QUESTION, reasoning={"effort": "high"},
                                max_output_tokens=1000)
    assert refused.value.body["param"] == "max_output_tokens"
    assert refused.value.body["message"].startswith("max_output_tokens must be above the thinking budget")


def test_previous_response_id_says_byok_keeps_no_state(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "bedrock"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="bedrock/standard", input=QUESTION, previous_response_id="resp_1")
    assert "byok keeps no state for this family" in refused.value.body["message"]


def test_previous_response_id_passes_through_to_openai(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "openai"))
    first = client.responses.create(model="openai/standard", input="My name is Ada.")
    second = client.responses.create(model="openai/standard", input="What is my name?",
                                     previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.output_text
    assert len(usage_rows(dataplane)) == 2


@pytest.mark.parametrize("family", ["openai", "anthropic"])
def test_deeply_nested_json_is_a_400(dataplane, sandbox, family):
    key = dataplane.token(member_on(sandbox, family))
    body = '{"model": "%s/standard", "input": %s"x"%s}' % (family, "[" * 100_000, "]" * 100_000)
    answer = httpx.post(f"{dataplane.url}/v1/responses", content=body, timeout=30,
                        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "invalid_request_error"
    assert usage_rows(dataplane) == []


def test_the_largest_conversation_byok_takes_is_answered(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "anthropic"))
    items = [{"role": "user" if i % 2 == 0 else "assistant", "content": "hi"} for i in range(MAX_INPUT_ITEMS - 1)]
    response = client.responses.create(model="anthropic/standard", input=items)
    assert response.output_text


@pytest.mark.parametrize("family", ["openai", "anthropic", "bedrock"])
def test_a_provider_failing_mid_stream_ends_with_a_failure_event(dataplane, sandbox, family):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account(family, behaviour="mid_stream_failure"), provider=family)
    stream = dataplane.openai(member).responses.create(model=f"{family}/standard", input=QUESTION, stream=True)
    events = list(stream)
    assert events[0].type == "response.created" and events[-1].type in ("response.failed", "error")
    assert "The stream failed after it started" in (events[-1].message if events[-1].type == "error"
                                                    else events[-1].response.error.message)
    assert [event.sequence_number for event in events] == list(range(len(events)))
    [row] = usage_rows(dataplane)
    assert row["provider"] == family


def test_gemini_on_vertex_answers_a_function_call_loop(dataplane, sandbox):
    client = dataplane.openai(member_on(sandbox, "vertex"))
    conversation = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.responses.create(model="vertex/gemini-2.5-flash", input=conversation, tools=[WEATHER_TOOL])
    [call] = first.output
    assert call.type == "function_call" and call.name == "get_weather"
    conversation += [call.model_dump(exclude_none=True),
                     {"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'}]
    with client.responses.stream(model="vertex/gemini-2.5-flash", input=conversation, tools=[WEATHER_TOOL]) as stream:
        second = stream.get_final_response()
    assert second.output_text and second.model == "gemini-2.5-flash"


PDF = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()


@pytest.mark.parametrize("family", ["anthropic", "bedrock", "vertex"])
def test_a_file_part_is_answered_and_a_file_id_refused(dataplane, sandbox, family):
    client = dataplane.openai(member_on(sandbox, family))
    response = client.responses.create(model=f"{family}/standard", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Summarise the report."},
        {"type": "input_file", "filename": "Q3 report.pdf", "file_data": PDF}]}])
    assert response.output_text
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model=f"{family}/standard", input=[{"role": "user", "content": [
            {"type": "input_file", "file_id": "file-123"}]}])
    assert refused.value.body["param"] == "input[0].content[0].file_data"
