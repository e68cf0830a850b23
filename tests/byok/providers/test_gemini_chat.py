"""OpenAI chat ↔ Gemini generateContent, as pure translations: what each request becomes in Vertex AI's REST JSON,
how JSON Schema becomes Gemini's subset, which requests are refused with a 400 naming the field, and how Gemini's
answers (function calls included) read in OpenAI's shape."""

import base64
import json

import pytest

from byok.providers.translate import RequestInvalid
from byok.providers.translate.gemini_chat import GeminiStreamToChat, chat_to_gemini, gemini_to_chat
from byok.providers.translate.gemini_schema import gemini_schema

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"0" * 16
PNG = base64.b64encode(PNG_BYTES).decode()
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
                                            "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                           "required": ["city"]}}}
CLOCK = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
CHAT = {
    "model": "gemini-2.5-flash", "temperature": 0.5, "top_p": 0.9, "stop": "END", "max_completion_tokens": 77,
    "response_format": {"type": "json_object"}, "tools": [WEATHER, CLOCK], "tool_choice": "required",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
        {"role": "user", "content": [{"type": "text", "text": "Look:"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                                     {"type": "image_url", "image_url": {"url": "https://img.example/photos/cat.jpeg"}}]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "14:05"},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"celsius\": 21}"},
        {"role": "user", "content": "And tomorrow?"},
    ],
}


def test_a_chat_request_as_a_generate_content_body():
    request = chat_to_gemini(CHAT)
    assert set(request) == {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig"}
    user, model, results = request["contents"]
    assert user == {"role": "user", "parts": [
        {"text": "Look:"}, {"inlineData": {"mimeType": "image/png", "data": PNG}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://img.example/photos/cat.jpeg"}}]}
    assert base64.b64decode(user["parts"][1]["inlineData"]["data"]) == PNG_BYTES
    assert model == {"role": "model", "parts": [{"text": "Checking."},
                                                {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                                                {"functionCall": {"name": "get_time", "args": {}}}]}
    # Both results answer the calls by name, in one user turn with the next question; text is wrapped in an object.
    assert results == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_time", "response": {"output": "14:05"}}},
        {"functionResponse": {"name": "get_weather", "response": {"celsius": 21}}},
        {"text": "And tomorrow?"}]}
    assert request["systemInstruction"] == {"role": "user", "parts": [{"text": "Be brief.\n\nUse tools."}]}
    assert request["generationConfig"] == {"maxOutputTokens": 77, "temperature": 0.5, "topP": 0.9,
                                           "stopSequences": ["END"], "responseMimeType": "application/json"}
    weather, clock = request["tools"][0]["functionDeclarations"]
    assert weather == {"name": "get_weather", "description": "The weather in a city.", "parameters": {
        "type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]}}
    assert clock == {"name": "get_time"}  # Gemini refuses an object schema without properties
    assert request["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(("choice", "calling"), [
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    ("required", {"mode": "ANY"}),
    ({"type": "function", "function": {"name": "get_time"}}, {"mode": "ANY", "allowedFunctionNames": ["get_time"]}),
])
def test_tool_choice_is_the_function_calling_mode(choice, calling):
    request = chat_to_gemini({"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER, CLOCK],
                              "tool_choice": choice})
    assert request["toolConfig"] == {"functionCallingConfig": calling}


def test_without_limits_gemini_keeps_its_own():
    request = chat_to_gemini({"messages": [{"role": "user", "content": "Hi"}]})
    # no maxOutputTokens: a thinking model's budget is not cut to an arbitrary default
    assert request == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}], "generationConfig": {}}


def test_json_schema_response_format_becomes_the_response_schema():
    config = chat_to_gemini({"messages": [{"role": "user", "content": "Hi"}], "response_format": {
        "type": "json_schema", "json_schema": {"name": "w", "strict": True, "schema": {
            "type": "object", "properties": {"n": {"type": "integer"}, "unit": {"type": "string"}}, "required": ["n"],
            "additionalProperties": False}}}})["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    # the properties in the caller's order (Gemini otherwise answers them alphabetically)
    assert config["responseSchema"] == {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"},
                                                                         "unit": {"type": "STRING"}},
                                        "propertyOrdering": ["n", "unit"], "required": ["n"],
                                        "additionalProperties": False}


def test_json_schema_becomes_geminis_subset():
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Trip", "type": "object",
        "$defs": {"Place": {"type": "object", "description": "A place", "properties": {"name": {"type": "string"}}}},
        "properties": {
            "when": {"type": "string", "format": "date-time", "examples": ["2026-01-01T00:00:00Z"]},
            "site": {"type": "string", "format": "uri", "minLength": 3, "x-ui": "link"},
            "note": {"type": ["string", "null"], "maxLength": 200},
            "stops": {"type": "array", "items": {"$ref": "#/$defs/Place"}, "minItems": 1, "uniqueItems": True},
            "origin": {"anyOf": [{"$ref": "#/$defs/Place"}, {"type": "null"}], "description": "Where from"},
            "mode": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "kind": {"const": "leisure"},
            "level": {"type": "integer", "enum": [1, 2, 3], "exclusiveMinimum": 0, "minimum": 1},
            "party": {"allOf": [{"type": "object", "properties": {"adults": {"type": "integer"}}, "required": ["adults"]},
                                {"properties": {"children": {"type": "integer"}}}]},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    out = gemini_schema(schema, param="tools[0].function.parameters")
    place = {"type": "OBJECT", "description": "A place", "properties": {"name": {"type": "STRING"}}}
    assert out["title"] == "Trip" and out["type"] == "OBJECT" and "$defs" not in out and "$schema" not in out
    p = out["properties"]
    assert p["when"] == {"type": "STRING", "format": "date-time", "example": "2026-01-01T00:00:00Z"}
    assert p["site"] == {"type": "STRING", "minLength": 3}  # format uri: Gemini refuses it; x-ui: not Gemini's
    assert p["note"] == {"type": "STRING", "nullable": True, "maxLength": 200}
    assert p["stops"] == {"type": "ARRAY", "items": place, "minItems": 1}
    assert p["origin"] == {**place, "description": "Where from", "nullable": True}
    assert p["mode"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert p["kind"] == {"enum": ["leisure"]}
    assert p["level"] == {"type": "INTEGER", "minimum": 1, "enum": ["1", "2", "3"], "format": "enum"}
    assert p["party"] == {"type": "OBJECT", "required": ["adults"], "properties": {
        "adults": {"type": "INTEGER"}, "children": {"type": "INTEGER"}}}
    assert p["tags"] == {"type": "OBJECT", "additionalProperties": {"type": "STRING"}}
    assert "propertyOrdering" not in json.dumps(out)  # a function's parameters need no order
    assert keys_of(out) <= SCHEMA_FIELDS  # every key is one of Gemini's


# Gemini's Schema as Vertex AI's REST reference spells it (projects.locations.publishers.models.generateContent).
SCHEMA_FIELDS = {"type", "format", "title", "description", "nullable", "default", "items", "minItems", "maxItems",
                 "enum", "properties", "propertyOrdering", "required", "minProperties", "maxProperties", "minLength",
                 "maxLength", "pattern", "example", "anyOf", "additionalProperties", "minimum", "maximum"}


def keys_of(schema: dict) -> set[str]:
    """The schema's keys and its sub-schemas' (not the property names)."""
    keys = set(schema)
    subs = [*schema.get("properties", {}).values(), *schema.get("anyOf", [])]
    subs += [schema[key] for key in ("items", "additionalProperties") if isinstance(schema.get(key), dict)]
    return keys.union(*map(keys_of, subs))


def test_a_response_schema_orders_every_object_with_several_properties():
    schema = {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "object", "properties": {
        "z": {"type": "integer"}, "y": {"type": "integer"}}}, "c": {"type": "array", "items": {
            "type": "object", "properties": {"only": {"type": "string"}}}}}}
    out = gemini_schema(schema, param="response_format.json_schema.schema", ordered=True)
    assert out["propertyOrdering"] == ["b", "a", "c"] and out["properties"]["a"]["propertyOrdering"] == ["z", "y"]
    assert "propertyOrdering" not in out["properties"]["c"]["items"]  # one property: nothing to order


@pytest.mark.parametrize(("schema", "words"), [
    ({"type": "object", "properties": {"at": {"type": "array", "items": [{"type": "number"}]}}},
     "tools[0].function.parameters.properties.at is a tuple array"),
    ({"type": "object", "properties": {"at": {"type": "array", "prefixItems": [{"type": "number"}]}}},
     "tools[0].function.parameters.properties.at is a tuple array"),
    ({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"},
     "tools[0].function.parameters.properties.next.$ref '#/$defs/N' is recursive"),
    ({"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}},
     "tools[0].function.parameters.properties.a.$ref 'https://example.com/a.json' does not name an entry"),
    ({"type": "object", "properties": {"a": {"type": "text"}}}, "tools[0].function.parameters.properties.a.type"),
    ({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}, {"type": "integer"}]}}},
     "tools[0].function.parameters.properties.a.allOf[1]: its 'type' conflicts"),
    ({"type": "object", "properties": ["a"]}, "tools[0].function.parameters.properties must be an object"),
    ({"type": "object", "properties": {"a": {"enum": []}}}, "tools[0].function.parameters.properties.a.enum"),
    ({"type": "object", "properties": {"a": {"type": "string", "minLength": "3"}}},
     "tools[0].function.parameters.properties.a.minLength must be an integer"),
    ({"type": "object", "properties": {"a": {"type": "number", "maximum": True}}},
     "tools[0].function.parameters.properties.a.maximum must be a number"),
    ({"type": "object", "properties": {"a": {"type": "string", "nullable": "yes"}}},
     "tools[0].function.parameters.properties.a.nullable must be true or false"),
    ({"type": "array", "items": {"type": "string"}}, "tools[0].function.parameters must be an object schema"),
    ("object", "tools[0].function.parameters must be a JSON Schema object"),
])
def test_schemas_gemini_cannot_express_are_400s_naming_the_place(schema, words):
    tool = {"type": "function", "function": {"name": "f", "parameters": schema}}
    with pytest.raises(RequestInvalid) as raised:
        chat_to_gemini({"messages": [{"role": "user", "content": "Hi"}], "tools": [tool]})
    assert str(raised.value).startswith(words) and raised.value.param == "tools"


def test_a_deeply_nested_schema_is_refused_before_it_exhausts_the_stack():
    schema = {"type": "string"}
    for _ in range(40):
        schema = {"type": "array", "items": schema}
    with pytest.raises(RequestInvalid, match="nests deeper than 32 levels") as raised:
        gemini_schema(schema, param="response_format.json_schema.schema")
    assert raised.value.param == "response_format"


def gif() -> str:
    return base64.b64encode(b"GIF89a").decode()


@pytest.mark.parametrize(("messages", "param", "words"), [
    (["Hi"], "messages", "messages[0] must be an object with a role."),
    ([{"role": "robot", "content": "Hi"}], "messages", "messages[0].role must be system, developer, user, assistant or tool"),
    ([{"role": "system", "content": "Be brief."}], "messages", "messages: at least one user message"),
    ([{"role": "user", "content": 42}], "messages", "messages[0].content must be a string or a list"),
    ([{"role": "user", "content": [{"type": "text", "text": 42}]}], "messages",
     "messages[0].content[0].text must be a string."),
    ([{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}], "messages",
     "messages[0].content[0].type must be text, image_url or file here (got 'input_audio')"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": f"data:image/gif;base64,{gif()}"}}]}],
     "messages", "messages[0]: Gemini does not read image/gif images"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}],
     "messages", "messages[0].content[0]: the image's data URL is not valid base64."),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.example/photo"}}]}],
     "messages", "messages[0]: Gemini needs an image link's type"),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x.example/a.png"}}]}],
     "messages", "messages[0]: An image_url is a data: URL or an http(s):// link."),
    ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "gs://owners-bucket/secret.png"}}]}],
     "messages", "messages[0]: gs:// images would be read with the key owner's service account"),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "tool_calls": {"id": "c"}}], "messages",
     "messages[1].tool_calls must be a list."),
    ([{"role": "user", "content": "Hi"}, {"role": "assistant", "tool_calls": [{"id": "c", "function": {}}]}],
     "messages", "messages[1].tool_calls[0] must be {\"id\", \"type\": \"function\""),
    ([{"role": "user", "content": "Hi"},
      {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}],
     "messages", "messages[1].tool_calls[0].function.arguments is not valid JSON."),
    ([{"role": "user", "content": "Hi"}, {"role": "tool", "tool_call_id": "call_9", "content": "42"}], "messages",
     "messages[1]: tool_call_id must be the id of a tool call in an earlier assistant message"),
])
def test_malformed_messages_are_400s_naming_the_message(messages, param, words):
    with pytest.raises(RequestInvalid) as raised:
        chat_to_gemini({"messages": messages})
    assert str(raised.value).startswith(words) and raised.value.param == param


@pytest.mark.parametrize(("fields", "param", "words"), [
    ({"temperature": "warm"}, "temperature", "temperature must be a number, not a string."),
    ({"top_p": True}, "top_p", "top_p must be a number, not a boolean."),
    ({"stop": [1]}, "stop", "stop must be a string or a list of at most 4 strings."),
    ({"max_tokens": 0}, "max_tokens", "max_tokens must be between 1 and"),
    ({"response_format": {"type": "yaml"}}, "response_format", "response_format.type must be text, json_object"),
    ({"response_format": {"type": "json_schema"}}, "response_format", "response_format.json_schema.schema must be a JSON Schema object."),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "tuple"}}}}, "response_format",
     "response_format.json_schema.schema.type must be one of"),
    ({"tools": {"f": 1}}, "tools", "tools must be a list, not an object."),
    ({"tools": [{"type": "function", "function": {"name": "9lives"}}]}, "tools",
     "tools[0].function.name: Gemini takes function names that start with a letter or an underscore"),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_time"}}}, "tool_choice",
     "tool_choice names 'get_time', which is not one of the tools."),
    ({"tools": [WEATHER], "tool_choice": "always"}, "tool_choice", "tool_choice must be auto, none, required or"),
    ({"tool_choice": "required"}, "tool_choice", "tool_choice needs tools."),
])
def test_malformed_parameters_are_400s_naming_the_field(fields, param, words):
    with pytest.raises(RequestInvalid) as raised:
        chat_to_gemini({"messages": [{"role": "user", "content": "Hi"}], **fields})
    assert str(raised.value).startswith(words) and raised.value.param == param


def response(parts: list[dict], finish: str = "STOP", **extra) -> dict:
    """A generateContent response body, as Vertex AI's REST API answers."""
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}],
            "usageMetadata": {"promptTokenCount": 11, "candidatesTokenCount": 5, "thoughtsTokenCount": 2,
                              "totalTokenCount": 18}, **extra}


def test_function_calls_come_back_as_tool_calls():
    chat = gemini_to_chat(response([{"thought": True, "text": "Let me see."}, {"text": "On it."},
                                    {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                                    {"functionCall": {"name": "get_time"}}]), model="gemini-2.5-pro")
    choice = chat["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "On it."  # no thoughts
    weather, clock = choice["message"]["tool_calls"]
    assert weather["id"].startswith("call_") and weather["id"] != clock["id"] and len(weather["id"]) == 29
    assert (weather["type"], weather["function"]) == ("function", {"name": "get_weather",
                                                                   "arguments": '{"city": "Oslo"}'})
    assert clock["function"] == {"name": "get_time", "arguments": "{}"}
    assert chat["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,  # thinking counts
                             "completion_tokens_details": {"reasoning_tokens": 2}}
    assert chat["model"] == "gemini-2.5-pro"


@pytest.mark.parametrize(("finish", "reason"), [("STOP", "stop"), ("MAX_TOKENS", "length"),
                                                ("SAFETY", "content_filter"), ("OTHER", "stop")])
def test_text_answers_keep_geminis_finish_reason(finish, reason):
    chat = gemini_to_chat(response([{"text": "Hello"}], finish), model="m")
    assert (chat["choices"][0]["message"]["content"], chat["choices"][0]["finish_reason"]) == ("Hello", reason)
    assert "tool_calls" not in chat["choices"][0]["message"]


def test_a_blocked_prompt_is_a_content_filter_finish():
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    chat = gemini_to_chat(blocked, model="m")
    assert chat["choices"][0]["finish_reason"] == "content_filter" and chat["choices"][0]["message"]["content"] == ""
    assert chat["usage"] == {"prompt_tokens": 4, "completion_tokens": 0, "total_tokens": 4}


def test_cached_prompt_tokens_are_reported_as_openai_does():
    chat = gemini_to_chat(response([{"text": "Hi"}], usageMetadata={
        "promptTokenCount": 1200, "candidatesTokenCount": 3, "cachedContentTokenCount": 1024}), model="m")
    assert chat["usage"] == {"prompt_tokens": 1200, "completion_tokens": 3, "total_tokens": 1203,
                             "prompt_tokens_details": {"cached_tokens": 1024}}


def test_a_stream_with_a_function_call_in_openais_chunk_shape():
    translator = GeminiStreamToChat(model="gemini-2.5-flash")
    chunks = translator.feed({"candidates": [{"content": {"role": "model", "parts": [{"text": "Checking"}]}}]})
    chunks += translator.feed(response([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}},
                                        {"functionCall": {"name": "get_time", "args": {}}}]))
    chunks += translator.finish()
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": "Checking"}
    first, second = (c["choices"][0]["delta"]["tool_calls"] for c in chunks[2:4])
    assert first == [{"index": 0, "id": first[0]["id"], "type": "function",
                      "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]
    assert second[0]["index"] == 1 and second[0]["id"].startswith("call_") and second[0]["id"] != first[0]["id"]
    assert chunks[4]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "tool_calls", "logprobs": None}
    assert chunks[5]["choices"] == [] and chunks[5]["usage"]["completion_tokens"] == 7
    assert len({c["id"] for c in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_a_text_stream_ends_with_geminis_reason_then_usage():
    translator = GeminiStreamToChat(model="m")
    chunks = translator.feed(response([{"text": "Hi"}], "MAX_TOKENS")) + translator.finish()
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]] == [None, None, "length"]
    assert json.loads(json.dumps(chunks[-1]))["usage"]["prompt_tokens"] == 11
