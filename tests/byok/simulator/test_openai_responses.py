"""The OpenAI Responses API through the real `openai` SDK (`responses.create`, `responses.stream`)."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

from .helpers import openai_client

WEATHER_TOOL = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


@pytest.fixture
def client(sim):
    return openai_client(sim.url, sim.add_account("openai").api_key)


def test_a_string_input_gets_a_message_with_usage(client):
    response = client.responses.create(model="gpt-4.1", input="Say hello", instructions="Be brief.")

    assert response.status == "completed" and response.object == "response"
    assert response.output_text == "Simulated openai reply from gpt-4.1: I read 4 words of your prompt."
    [message] = response.output
    assert (message.type, message.role, message.content[0].type) == ("message", "assistant", "output_text")
    assert response.usage.input_tokens == 6 and response.usage.output_tokens_details.reasoning_tokens == 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_a_reasoning_model_reasons_first_and_counts_reasoning_tokens(client):
    response = client.responses.create(model="gpt-5", input="Say hello", reasoning={"effort": "high",
                                                                                    "summary": "auto"})

    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text and reasoning.encrypted_content is None
    assert message.type == "message"
    details = response.usage.output_tokens_details
    assert details.reasoning_tokens > 0 and response.usage.output_tokens > details.reasoning_tokens


def test_two_turn_function_call_loop_with_encrypted_reasoning_items(client):
    first = client.responses.create(model="gpt-5", input=[QUESTION], tools=[WEATHER_TOOL], store=False,
                                    include=["reasoning.encrypted_content"])

    reasoning, call = first.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert (call.type, call.name, call.arguments) == ("function_call", "get_weather", '{"city":"Paris"}')
    turn_two = [QUESTION, *(item.model_dump(exclude_none=True) for item in first.output),
                {"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'}]
    second = client.responses.create(model="gpt-5", input=turn_two, tools=[WEATHER_TOOL], store=False,
                                     include=["reasoning.encrypted_content"])

    assert second.output_text.endswith("Thanks for the tool result.")


def test_a_changed_encrypted_reasoning_item_is_refused(client):
    first = client.responses.create(model="gpt-5", input=[QUESTION], tools=[WEATHER_TOOL], store=False,
                                    include=["reasoning.encrypted_content"])
    reasoning, call = (item.model_dump(exclude_none=True) for item in first.output)
    reasoning["encrypted_content"] = "QUJD" + reasoning["encrypted_content"][4:]

    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-5", store=False, input=[
            QUESTION, reasoning, call, {"type": "function_call_output", "call_id": call["call_id"], "output": "21"}])

    assert refused.value.code == "invalid_encrypted_content"


def test_an_unstored_reasoning_item_referenced_by_id_is_not_found(client):
    first = client.responses.create(model="gpt-5", input=[QUESTION], tools=[WEATHER_TOOL], store=False)
    reasoning, call = (item.model_dump(exclude_none=True) for item in first.output)

    with pytest.raises(openai.NotFoundError) as refused:
        client.responses.create(model="gpt-5", store=False, input=[
            QUESTION, reasoning, call, {"type": "function_call_output", "call_id": call["call_id"], "output": "21"}])

    assert "Items are not persisted when `store` is set to false" in refused.value.message


def test_a_function_output_without_its_call_is_refused(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4.1", input=[
            QUESTION, {"type": "function_call_output", "call_id": "call_nowhere", "output": "21"}])

    assert "call_nowhere" in refused.value.message


def test_previous_response_id_continues_a_stored_conversation_of_the_same_account_only(sim, client):
    first = client.responses.create(model="gpt-4.1", input=[QUESTION], tools=[WEATHER_TOOL])
    [call] = first.output

    second = client.responses.create(model="gpt-4.1", previous_response_id=first.id, tools=[WEATHER_TOOL], input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"celsius": 21}'}])

    assert second.previous_response_id == first.id
    assert second.output_text.endswith("Thanks for the tool result.")
    assert client.responses.retrieve(second.id).output_text == second.output_text
    stranger = openai_client(sim.url, sim.add_account("openai").api_key)
    with pytest.raises(openai.BadRequestError) as refused:
        stranger.responses.create(model="gpt-4.1", previous_response_id=first.id, input="Hello")
    assert refused.value.code == "previous_response_not_found"


def test_json_schema_format_answers_schema_valid_json(client):
    schema = {"type": "object", "additionalProperties": False, "required": ["city", "population", "landmarks"],
              "properties": {"city": {"type": "string"}, "population": {"type": "integer"},
                             "landmarks": {"type": "array", "items": {"type": "string"}}}}

    response = client.responses.create(model="gpt-4.1", input="Describe Paris", text={
        "format": {"type": "json_schema", "name": "city", "schema": schema, "strict": True}})

    jsonschema.validate(json.loads(response.output_text), schema)


def test_json_object_format_needs_the_word_json_in_the_input(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="gpt-4.1", input="Describe Paris", text={"format": {"type": "json_object"}})

    assert refused.value.param == "input"
    answered = client.responses.create(model="gpt-4.1", input="Describe Paris as JSON",
                                       text={"format": {"type": "json_object"}})
    assert answered.output_text.startswith("{")


@pytest.mark.parametrize(("request_fields", "param"), [
    ({"model": "gpt-4.1", "input": "Hi", "reasoning": {"effort": "low"}}, "reasoning.effort"),
    ({"model": "gpt-4.1", "input": "Hi", "max_output_tokens": 100_000}, "max_output_tokens"),
    ({"model": "gpt-4.1", "input": "Hi", "max_output_tokens": 5}, "max_output_tokens"),
    ({"model": "gpt-4.1", "input": [{"type": "telepathy"}]}, "input[0].type"),
    ({"model": "gpt-4.1", "input": [{"role": "user", "content": [{"type": "input_video"}]}]},
     "input[0].content[0].type"),
    ({"model": "gpt-4.1", "input": "Hi", "include": ["everything"]}, "include[0]"),
    ({"model": "gpt-4.1", "input": "Hi", "tools": [{"type": "function"}]}, "tools[0].name"),
])
def test_bad_requests_are_400s_naming_the_parameter(client, request_fields, param):
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(**request_fields)

    assert refused.value.param == param


def test_max_output_tokens_cuts_the_answer_as_incomplete(client):
    response = client.responses.create(model="gpt-5", input="Say hello", max_output_tokens=24,
                                       reasoning={"effort": "low"})

    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"
    assert response.usage.output_tokens <= 24  # the reasoning, then what fits of the answer


def test_images_and_files_are_read(client):
    response = client.responses.create(model="gpt-4.1", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}]}])

    assert response.output_text.endswith("and I see 1 image.")


def test_the_stream_sends_typed_events_in_order_with_sequence_numbers(client):
    with client.responses.stream(model="gpt-5", input="Say hello", reasoning={"summary": "auto"}) as stream:
        events = list(stream)
        final = stream.get_final_response()

    kinds = [event.type for event in events]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index("response.content_part.added")
    text_events = kinds[kinds.index("response.content_part.added"):]
    assert text_events[1] == "response.output_text.delta"
    assert text_events[-4:] == ["response.output_text.done", "response.content_part.done",
                                "response.output_item.done", "response.completed"]
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == final.output_text and final.usage.output_tokens_details.reasoning_tokens > 0


def test_a_streamed_function_call_sends_its_arguments_in_deltas(client):
    with client.responses.stream(model="gpt-4.1", input=[QUESTION], tools=[WEATHER_TOOL]) as stream:
        events = list(stream)

    kinds = [event.type for event in events]
    deltas = [event.delta for event in events if event.type == "response.function_call_arguments.delta"]
    [done] = [event for event in events if event.type == "response.function_call_arguments.done"]
    assert "".join(deltas) == done.arguments == '{"city":"Paris"}'
    assert kinds.index("response.function_call_arguments.done") < kinds.index("response.output_item.done")
    assert kinds[-1] == "response.completed"


def test_a_long_prompt_repeated_reads_the_automatic_cache(client):
    prompt = "word " * 1000 + "and then a question?"

    first = client.responses.create(model="gpt-4.1", input=prompt)
    second = client.responses.create(model="gpt-4.1", input=prompt)

    assert first.usage.input_tokens_details.cached_tokens == 0
    assert first.usage.input_tokens_details.cache_write_tokens > 0
    assert second.usage.input_tokens_details.cached_tokens == first.usage.input_tokens_details.cache_write_tokens
    assert second.usage.input_tokens_details.cached_tokens % 128 == 0


def test_the_responses_api_is_openais_only(sim):
    mistral = openai_client(sim.url, sim.account("demo-mistral").api_key, "mistral")

    with pytest.raises(openai.NotFoundError):
        mistral.responses.create(model="mistral-medium-latest", input="Hi")
