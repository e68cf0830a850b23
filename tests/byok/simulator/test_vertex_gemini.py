"""The simulator's Gemini endpoints through google-genai: function calls when tools are offered (and text once a
function response comes back), images, JSON mode — and the requests Vertex AI refuses, refused alike, so that a
translation the data plane gets wrong fails its tests here rather than on Google."""

import base64
import json

import pytest
from google.genai import errors as genai_errors
from google.genai import types

from byok.providers.registry import PROVIDERS

from .test_tools_and_images import PNG

VERTEX = PROVIDERS["vertex"]
FLASH = "gemini-2.5-flash"
WEATHER = {"name": "get_weather", "description": "Weather",
           "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"},
                                                           "unit": {"type": "STRING", "enum": ["C", "F"]}},
                          "required": ["city", "unit"]}}


@pytest.fixture
def gemini(sandbox):
    account = sandbox.add_account("vertex")
    credentials = VERTEX.clean({"service_account_json": sandbox.server.vertex_service_account_json(account.name),
                                "location": "us-east5"}).credentials
    return VERTEX.client(credentials, timeout=5).gemini  # google-genai's client (closed when dropped: kept whole)


def ask(text: str, *parts: dict) -> list[dict]:
    return [{"role": "user", "parts": [{"text": text}, *parts]}]


def test_a_weather_question_gets_a_function_call_then_the_response_gets_text(gemini):
    config = {"tools": [{"function_declarations": [WEATHER]}]}
    first = gemini.models.generate_content(model=FLASH, contents=ask("What is the weather in Paris?"), config=config)
    [call] = first.function_calls
    assert (call.name, call.args) == ("get_weather", {"city": "Paris", "unit": "C"})
    assert first.candidates[0].finish_reason == types.FinishReason.STOP
    contents = ask("What is the weather in Paris?") + [
        {"role": "model", "parts": [{"function_call": {"name": "get_weather", "args": call.args}}]},
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"celsius": 21}}}]}]
    second = gemini.models.generate_content(model=FLASH, contents=contents, config=config)
    assert second.text.endswith("Thanks for the tool result.") and not second.function_calls


def test_a_streamed_function_call_comes_whole(gemini):
    config = {"tools": [{"function_declarations": [WEATHER, {"name": "get_time"}]}],
              "tool_config": {"function_calling_config": {"mode": "ANY", "allowed_function_names": ["get_time"]}}}
    chunks = list(gemini.models.generate_content_stream(model=FLASH, contents=ask("Hello"), config=config))
    assert [c.function_calls[0].name for c in chunks] == ["get_time"]
    assert chunks[-1].usage_metadata.candidates_token_count > 0


def test_images_are_decoded_and_acknowledged(gemini):
    png = {"inline_data": {"mime_type": "image/png", "data": PNG}}
    link = {"file_data": {"mime_type": "image/jpeg", "file_uri": "gs://bucket/cat.jpg"}}
    reply = gemini.models.generate_content(model=FLASH, contents=ask("Look", png, link))
    assert reply.text.endswith("and I see 2 images.")


def test_json_mode_answers_json_that_fits_the_schema(gemini):
    schema = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}, "celsius": {"type": "NUMBER"}}}
    reply = gemini.models.generate_content(model=FLASH, contents=ask("Weather?"), config={
        "response_mime_type": "application/json", "response_schema": schema})
    assert json.loads(reply.text) == {"city": "Paris", "celsius": 21.5}
    plain = gemini.models.generate_content(model=FLASH, contents=ask("Hi"), config={"response_mime_type": "application/json"})
    assert json.loads(plain.text)["reply"].startswith("Simulated vertex reply")


@pytest.mark.parametrize(("contents", "config", "words"), [
    (ask("Look", {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(b"GIF89a").decode()}}), {},
     "Unable to process input image"),
    (ask("Look", {"inline_data": {"mime_type": "image/gif", "data": base64.b64encode(b"GIF89a").decode()}}), {},
     "Unsupported MIME type: image/gif"),
    (ask("Look", {"file_data": {"file_uri": "https://example.com/a"}}), {}, "a mime_type are required"),
    (ask("Hi"), {"tools": [{"function_declarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING", "format": "uri"}}}}]}]},
     "only 'enum' and 'date-time' are supported for STRING type"),
    (ask("Hi"), {"tools": [{"function_declarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}]},
     "parameters.properties: should be non-empty for OBJECT type"),
    (ask("Hi"), {"tools": [{"function_declarations": [{"name": "f"}]}],
                 "tool_config": {"function_calling_config": {"mode": "AUTO", "allowed_function_names": ["f"]}}},
     "only allowed when mode is ANY"),
    (ask("Hi") + [{"role": "model", "parts": [{"function_call": {"name": "f", "args": {}}}] * 2},
                  {"role": "user", "parts": [{"function_response": {"name": "f", "response": {}}}]}],
     {}, "the number of function response parts is equal to the number of function call parts"),
])
def test_what_vertex_refuses_is_refused(gemini, contents, config, words):
    with pytest.raises(genai_errors.ClientError) as raised:
        gemini.models.generate_content(model=FLASH, contents=contents, config=config)
    assert raised.value.code == 400 and words in raised.value.message


def test_a_schema_field_gemini_does_not_have_is_refused(gemini):
    # google-genai's own Schema type has no such field either, so the raw request goes through its HTTP client.
    client = gemini._api_client
    body = {"contents": ask("Hi"), "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING", "const": "x"}}}}]}]}
    with pytest.raises(genai_errors.ClientError) as raised:
        client.request("post", f"publishers/google/models/{FLASH}:generateContent", body)
    assert 'Unknown name "const"' in raised.value.message
