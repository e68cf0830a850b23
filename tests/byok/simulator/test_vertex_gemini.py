"""The simulator's Gemini endpoints in Vertex AI's REST JSON, posted by the provider's own client (bearer token,
generateContent / streamGenerateContent?alt=sse): function calls when tools are offered (and text once a function
response comes back), images, JSON mode — and the requests Vertex AI refuses, refused alike, so that a translation the
data plane gets wrong fails its tests here rather than on Google. Requests spell fields as Vertex AI's parser takes
them: the REST reference's camelCase, or the proto names google-genai sends nested (`inline_data`, `mime_type`)."""

import base64
import json

import pytest

from byok.providers import transport
from byok.providers.registry import PROVIDERS

from .test_tools_and_images import PNG, PNG_BASE64

VERTEX = PROVIDERS["vertex"]
FLASH = "gemini-2.5-flash"
WEATHER = {"name": "get_weather", "description": "Weather",
           "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"},
                                                           "unit": {"type": "STRING", "enum": ["C", "F"]}},
                          "required": ["city", "unit"]}}


class Gemini:
    """generateContent and streamGenerateContent of one simulated key, through the provider's client."""

    def __init__(self, client) -> None:
        self.client = client

    def generate(self, body: dict) -> dict:
        async def call():
            return await transport.read_json(await self.client.gemini_post(FLASH, body, stream=False))
        return transport.run_sync(call())

    def stream(self, body: dict) -> list[dict]:
        async def call():
            response = await self.client.gemini_post(FLASH, body, stream=True)
            return [json.loads(data) async for _, data in transport.sse_events(response)]
        return transport.run_sync(call())

    def refusal(self, body: dict) -> tuple[int, str]:
        with pytest.raises(transport.HttpStatusError) as raised:
            self.generate(body)
        return raised.value.status, raised.value.json()["error"]["message"]


@pytest.fixture
def gemini(sandbox):
    account = sandbox.add_account("vertex")
    credentials = VERTEX.clean({"service_account_json": sandbox.server.vertex_service_account_json(account.name),
                                "location": "us-east5"}).credentials
    return Gemini(VERTEX.async_client(credentials, timeout=5))


def ask(text: str, *parts: dict) -> list[dict]:
    return [{"role": "user", "parts": [{"text": text}, *parts]}]


def parts_of(response: dict) -> list[dict]:
    return response["candidates"][0]["content"]["parts"]


def text_of(response: dict) -> str:
    return "".join(part.get("text", "") for part in parts_of(response))


def test_a_weather_question_gets_a_function_call_then_the_response_gets_text(gemini):
    tools = [{"functionDeclarations": [WEATHER]}]
    first = gemini.generate({"contents": ask("What is the weather in Paris?"), "tools": tools})
    [part] = parts_of(first)
    call = part["functionCall"]
    assert (call["name"], call["args"]) == ("get_weather", {"city": "Paris", "unit": "C"})
    assert first["candidates"][0]["finishReason"] == "STOP"
    assert first["usageMetadata"]["promptTokenCount"] > 0 and first["usageMetadata"]["candidatesTokenCount"] > 0
    contents = ask("What is the weather in Paris?") + [
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": call["args"]}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}}]}]
    second = gemini.generate({"contents": contents, "tools": tools})
    assert text_of(second).endswith("Thanks for the tool result.")
    assert not any("functionCall" in part for part in parts_of(second))


def test_a_streamed_function_call_comes_whole(gemini):
    chunks = gemini.stream({"contents": ask("Hello"), "tools": [{"functionDeclarations": [WEATHER, {"name": "get_time"}]}],
                            "toolConfig": {"functionCallingConfig": {"mode": "ANY",
                                                                     "allowedFunctionNames": ["get_time"]}}})
    assert [parts_of(c)[0]["functionCall"]["name"] for c in chunks] == ["get_time"]
    assert chunks[-1]["usageMetadata"]["candidatesTokenCount"] > 0


def test_a_text_stream_comes_in_pieces_then_its_finish_and_usage(gemini):
    chunks = gemini.stream({"contents": ask("Hello there"), "systemInstruction": {"parts": [{"text": "Be brief."}]},
                            "generationConfig": {"temperature": 0.2, "maxOutputTokens": 100}})
    assert len(chunks) > 3 and "".join(map(text_of, chunks)).startswith(f"Simulated vertex reply from {FLASH}")
    assert [c["candidates"][0].get("finishReason") for c in chunks][-2:] == [None, "STOP"]
    assert "usageMetadata" in chunks[-1] and "usageMetadata" not in chunks[0]


@pytest.mark.parametrize("spelling", ["camelCase", "proto names"])
def test_images_are_decoded_and_acknowledged(gemini, spelling):
    png = {"inlineData": {"mimeType": "image/png", "data": PNG_BASE64}}
    link = {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://bucket/cat.jpg"}}
    if spelling == "proto names":  # as google-genai sends them, its bytes in URL-safe base64
        png = {"inline_data": {"mime_type": "image/png", "data": base64.urlsafe_b64encode(PNG).decode()}}
        link = {"file_data": {"mime_type": "image/jpeg", "file_uri": "gs://bucket/cat.jpg"}}
    assert text_of(gemini.generate({"contents": ask("Look", png, link)})).endswith("and I see 2 images.")


def test_json_mode_answers_json_that_fits_the_schema(gemini):
    schema = {"type": "OBJECT", "properties": {"city": {"type": "STRING"}, "celsius": {"type": "NUMBER"}},
              "propertyOrdering": ["city", "celsius"]}
    reply = gemini.generate({"contents": ask("Weather?"), "generationConfig": {
        "responseMimeType": "application/json", "responseSchema": schema}})
    assert json.loads(text_of(reply)) == {"city": "Paris", "celsius": 21.5}
    plain = gemini.generate({"contents": ask("Hi"), "generationConfig": {"responseMimeType": "application/json"}})
    assert json.loads(text_of(plain))["reply"].startswith("Simulated vertex reply")


@pytest.mark.parametrize(("body", "words"), [
    ({"contents": ask("Look", {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"GIF89a").decode()}})},
     "Unable to process input image"),
    ({"contents": ask("Look", {"inlineData": {"mimeType": "image/gif", "data": base64.b64encode(b"GIF89a").decode()}})},
     "Unsupported MIME type: image/gif"),
    ({"contents": ask("Look", {"fileData": {"fileUri": "https://example.com/a"}})}, "a mime_type are required"),
    ({"contents": ask("Hi"), "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING", "format": "uri"}}}}]}]},
     "only 'enum' and 'date-time' are supported for STRING type"),
    ({"contents": ask("Hi"), "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}]}]},
     "parameters.properties: should be non-empty for OBJECT type"),
    ({"contents": ask("Hi"), "tools": [{"functionDeclarations": [{"name": "f"}]}],
      "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}},
     "only allowed when mode is ANY"),
    ({"contents": ask("Hi") + [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}] * 2},
                               {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
     "the number of function response parts is equal to the number of function call parts"),
    ({"contents": ask("Hi"), "tools": [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "OBJECT", "properties": {"a": {"type": "STRING", "const": "x"}}}}]}]}, 'Unknown name "const"'),
])
def test_what_vertex_refuses_is_refused(gemini, body, words):
    status, message = gemini.refusal(body)
    assert status == 400 and words in message
