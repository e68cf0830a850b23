"""The bad-input corpus: hostile and malformed requests on every /v1 endpoint of every family, each answered with a
4xx in the endpoint's own error shape, before any provider call is opened (the simulator's call log stays empty) and
with no usage recorded.

Two parts. Generated: every declared field of every endpoint (byok/providers/translate's tables) × the values of a
pool its check refuses, by the JSON Schema the check states (the same /v1/openapi.json publishes). Written: the cases
that gave 5xx before (issue 23): JSON nested 1,000 levels deep, `stream_options: "x"`, wrong types in text parts,
tool calls, tool_choice and response_format, Gemini tool names, 10,000 input items, hosted tools on /v1/responses,
and their neighbours. A case inside a field (a message, a part, a tool) is byok's to refuse on the families it
translates; pass-through families (OpenAI, the OpenAI-compatible ones) check the declared fields and hand the rest
to the provider, which answers for it."""

import json
from dataclasses import dataclass

import httpx2
import jsonschema
import pytest

from byok.gateway.openapi import description
from byok.models import UsageRecord
from tests.byok.gateway.dataplane.test_dataplane_vertex_role import vertex_key
from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db(transaction=True)

CHAT, MESSAGES, COUNT, RESPONSES, EMBEDDINGS = ("/v1/chat/completions", "/v1/messages", "/v1/messages/count_tokens",
                                               "/v1/responses", "/v1/embeddings")
ANTHROPIC_SHAPED = {MESSAGES, COUNT}
HI = [{"role": "user", "content": "Hi"}]
SIGN_IN = {"sts.GetSessionToken", "vertex.Token"}  # the key's session or token, not a call to a model


@dataclass(frozen=True)
class Family:
    """A family as a caller reaches it: its key, the model to name, the endpoints it serves, and whether byok
    translates chat (else it passes chat through, type-checked) and Responses (else OpenAI's own)."""
    provider: str
    model: str
    endpoints: tuple[str, ...]
    translates_chat: bool = True
    translates_responses: bool = True
    embedding: str = ""


FAMILIES = {
    "bedrock": Family("bedrock", "bedrock/standard", (CHAT, MESSAGES, COUNT, RESPONSES, EMBEDDINGS),
                      embedding="bedrock/embedding"),
    "bedrock_api_key": Family("bedrock_api_key", "bedrock/standard", (CHAT, MESSAGES, COUNT, RESPONSES, EMBEDDINGS),
                              embedding="bedrock/embedding"),
    "anthropic": Family("anthropic", "anthropic/standard", (CHAT, MESSAGES, COUNT, RESPONSES)),
    "openai": Family("openai", "openai/standard", (CHAT, RESPONSES, EMBEDDINGS), translates_chat=False,
                     translates_responses=False, embedding="openai/embedding"),
    "mistral": Family("mistral", "mistral/standard", (CHAT, RESPONSES, EMBEDDINGS), translates_chat=False,
                      embedding="mistral/embedding"),
    "vertex_claude": Family("vertex", "vertex/standard", (CHAT, MESSAGES, COUNT, RESPONSES, EMBEDDINGS),
                            embedding="vertex/embedding"),
    "vertex_gemini": Family("vertex", "vertex/gemini-2.5-flash", (CHAT, RESPONSES)),
}


def valid_body(family: Family, endpoint: str) -> dict:
    """A request the family serves on the endpoint: each case breaks one thing in it."""
    return {CHAT: {"model": family.model, "messages": HI},
            MESSAGES: {"model": family.model, "max_tokens": 50, "messages": HI},
            COUNT: {"model": family.model, "messages": HI},
            RESPONSES: {"model": family.model, "input": "Hi"},
            EMBEDDINGS: {"model": family.embedding, "input": "Hi"}}[endpoint]


# --- generated: every declared field × the values its check refuses ----------------------------------------------

POOL = [True, 7, -1, 2.5, 10**12, "", "x", [], ["x"], [1], [{}], {}, {"a": 1}]


def field_schemas(endpoint: str) -> dict[str, dict]:
    """The endpoint's fields as /v1/openapi.json states their checks (what every family refuses)."""
    body = description()["paths"][endpoint]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schemas = {}
    for name, schema in body["properties"].items():
        schema = schema["anyOf"][0] if name not in body["required"] else schema  # optional: or null
        schemas[name] = schema["allOf"][0] if "allOf" in schema else schema  # the check (then a walker's shape)
    return schemas


def refused_values(schema: dict) -> list:
    return [value for value in POOL if not jsonschema.Draft202012Validator(schema).is_valid(value)]


def generated(family: Family, endpoint: str) -> list[tuple[str, dict, str]]:
    """(case, body, the field the answer must name)."""
    return [(f"{name}={json.dumps(value)}", {**valid_body(family, endpoint), name: value}, name)
            for name, schema in field_schemas(endpoint).items() for value in refused_values(schema)]


# --- written: what gave 5xx before, and its neighbours ------------------------------------------------------------

def deep(levels: int, leaf: str = "1") -> str:
    return '{"a":' * levels + leaf + "}" * levels


def raw_cases(family: Family, endpoint: str) -> list[tuple[str, bytes]]:
    """Bodies that are not a JSON object byok can read; the same on every endpoint."""
    model = json.dumps(valid_body(family, endpoint)["model"])
    return [("empty body", b""), ("not JSON", b"not json"), ("a JSON array", b"[1, 2]"), ("a JSON string", b'"x"'),
            ("null", b"null"), ("not UTF-8", b"\xff\xfe{}"), ("cut short", f'{{"model": {model}, '.encode()),
            ("1,000 nested lists", b"[" * 1000 + b"]" * 1000),
            ("1,000 nested objects in a field", f'{{"model": {model}, "metadata": {deep(1000)}}}'.encode()),
            ("100,000 nested lists", b"[" * 100_000 + b"]" * 100_000),
            ("NaN where a number goes", f'{{"model": {model}, "temperature": NaN}}'.encode()),
            ("Infinity where a number goes", f'{{"model": {model}, "top_p": -Infinity}}'.encode())]


def message(content, role: str = "user", **fields) -> dict:
    return {"role": role, "content": content, **fields}


def call(call_id="call_1", name="get_weather", arguments="{}") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}

CHAT_MESSAGES = {
    "a message that is a string": ["hi"], "a message that is a number": [5], "no role": [{"content": "hi"}],
    "role robot": [message("hi", role="robot")], "role a number": [message("hi", role=5)],
    "content a number": [message(5)], "content an object": [message({"text": "hi"})],
    "a part that is a string": [message(["hi"])], "a part with no type": [message([{"text": "hi"}])],
    "a part of type 5": [message([{"type": 5}])], "text part text a number": [message([{"type": "text", "text": 5}])],
    "text part without text": [message([{"type": "text"}])],
    "text part text a list": [message([{"type": "text", "text": ["a"]}])],
    "text part cache_control a string": [message([{"type": "text", "text": "a", "cache_control": "x"}])],
    "image_url a number": [message([{"type": "image_url", "image_url": 5}])],
    "image_url without url": [message([{"type": "image_url", "image_url": {}}])],
    "image data URL not base64": [message([{"type": "image_url",
                                            "image_url": {"url": "data:image/png;base64,@@@"}}])],
    "image data URL of a TIFF": [message([{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}])],
    "file part by file_id": [message([{"type": "file", "file": {"file_id": "file-1"}}])],
    "file part of an unknown type": [message([{"type": "file", "file": {"file_data": "data:x/y;base64,AAAA"}}])],
    "file part filename a number": [message([{"type": "file", "file": {
        "file_data": "data:text/plain;base64,aGk=", "filename": 5}}])],
    "an audio part": [message([{"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}])],
    "an image in a system message": [message([{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}],
                                             role="system")],
    "tool_calls a string": [*HI, message(None, role="assistant", tool_calls="x")],
    "tool_calls [5]": [*HI, message(None, role="assistant", tool_calls=[5])],
    "tool call id a number": [*HI, message(None, role="assistant", tool_calls=[call(call_id=5)])],
    "tool call without id": [*HI, message(None, role="assistant", tool_calls=[{"function": {"name": "f"}}])],
    "tool call function a string": [*HI, message(None, role="assistant", tool_calls=[{"id": "c", "function": "f"}])],
    "tool call name a number": [*HI, message(None, role="assistant", tool_calls=[call(name=5)])],
    "tool call name empty": [*HI, message(None, role="assistant", tool_calls=[call(name="")])],
    "tool call arguments a number": [*HI, message(None, role="assistant", tool_calls=[call(arguments=5)])],
    "tool call arguments not JSON": [*HI, message(None, role="assistant", tool_calls=[call(arguments="{nope")])],
    "tool call arguments a JSON list": [*HI, message(None, role="assistant", tool_calls=[call(arguments="[1]")])],
    "thinking_blocks a string": [*HI, message("ok", role="assistant", thinking_blocks="x")],
    "thinking block without signature": [*HI, message("ok", role="assistant",
                                                       thinking_blocks=[{"type": "thinking", "thinking": "t"}])],
    "tool result without tool_call_id": [*HI, message("21 C", role="tool")],
    "tool result tool_call_id a number": [*HI, message("21 C", role="tool", tool_call_id=5)],
}
CHAT_FIELDS_INSIDE = {
    "stream_options a string, streaming": {"stream": True, "stream_options": "x"},
    "stream_options a number, streaming": {"stream": True, "stream_options": 5},
    "stream_options a list, streaming": {"stream": True, "stream_options": []},
    "tools [5]": {"tools": [5]}, "a tool without function": {"tools": [{"type": "function"}]},
    "tool name a number": {"tools": [{"type": "function", "function": {"name": 5}}]},
    "tool parameters a string": {"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
    "tool description a number": {"tools": [{"type": "function", "function": {"name": "f", "description": 5}}]},
    "tool cache_control a string": {"tools": [{**TOOL, "cache_control": "x"}]},
    "a hosted tool": {"tools": [{"type": "web_search"}]},
    "tool_choice sometimes": {"tools": [TOOL], "tool_choice": "sometimes"},
    "tool_choice function a string": {"tools": [TOOL], "tool_choice": {"type": "function", "function": "f"}},
    "tool_choice name a number": {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": 5}}},
    "tool_choice names no tool": {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "x"}}},
    "response_format type a number": {"response_format": {"type": 5}},
    "response_format type xml": {"response_format": {"type": "xml"}},
    "response_format without type": {"response_format": {}},
    "json_schema without json_schema": {"response_format": {"type": "json_schema"}},
    "json_schema a string": {"response_format": {"type": "json_schema", "json_schema": "x"}},
    "json_schema schema a number": {"response_format": {"type": "json_schema", "json_schema": {"schema": 5}}},
    "json_schema name a number": {"response_format": {"type": "json_schema",
                                                      "json_schema": {"name": 5, "schema": {"type": "object"}}}},
    "a tool named json_answer beside JSON": {"tools": [{"type": "function", "function": {"name": "json_answer"}}],
                                             "response_format": {"type": "json_object"}},
    "n 2": {"n": 2}, "logprobs true": {"logprobs": True}, "functions": {"functions": [{"name": "f"}]},
    "an unknown field": {"frobnicate": 1},
}
GEMINI_TOOL_NAMES = ["bad name!", "9lives", "a" * 129, "naïve", "semi;colon", "slash/name"]
DOUBLING = {f"d{i}": {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{i + 1}"},
                                                       "y": {"$ref": f"#/$defs/d{i + 1}"}}} for i in range(30)}
# JSON Schemas Gemini's translation (translate/gemini_schema.py) cannot express, for tools and answers alike.
GEMINI_SCHEMAS = {
    "type 5": {"type": 5}, "type tuple": {"type": "tuple"}, "properties a string": {"type": "object", "properties": "x"},
    "a property that is a number": {"type": "object", "properties": {"a": 5}},
    "items as a list": {"type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}},
    "a $ref to nothing": {"$ref": "#/$defs/missing"}, "$ref a number": {"$ref": 5},
    "a recursive $ref": {"$defs": {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}},
                         "$ref": "#/$defs/node"},
    "a $defs entry that is a string": {"$defs": {"a": "x"}, "type": "object", "properties": {"p": {"$ref": "#/$defs/a"}}},
    "a $defs entry that is a list": {"$defs": {"a": [1]}, "$ref": "#/$defs/a"}, "$defs a number": {"$defs": 5},
    "allOf a string": {"allOf": "x"}, "conflicting allOf": {"allOf": [{"type": "object"}, {"type": "integer"}]},
    "an empty enum": {"type": "object", "properties": {"a": {"enum": []}}}, "an empty anyOf": {"anyOf": []},
    "required a string": {"type": "object", "required": "a"}, "minimum a string": {"minimum": "1"},
    "description a number": {"type": "object", "description": 5},
    "additionalProperties a string": {"type": "object", "additionalProperties": "x"},
    "2^30 schemas by $ref": {"$defs": {**DOUBLING, "d30": {"type": "string"}}, "$ref": "#/$defs/d0"},
}


def gemini_tool(name: str, parameters: dict | None = None) -> dict:
    return {"tools": [{"type": "function", "function": {"name": name, **({"parameters": parameters} if parameters
                                                                          else {})}}]}


def gemini_cases(endpoint: str) -> dict[str, dict]:
    """Gemini's own refusals: function names, and the schemas of tools and JSON answers."""
    if endpoint == RESPONSES:
        return {**{f"tool schema {name}": {"tools": [{"type": "function", "name": "f", "parameters": schema}]}
                   for name, schema in GEMINI_SCHEMAS.items()},
                **{f"answer schema {name}": {"text": {"format": {"type": "json_schema", "name": "a", "schema": schema}}}
                   for name, schema in GEMINI_SCHEMAS.items()}}
    return {**{f"tool name {name!r}": gemini_tool(name) for name in GEMINI_TOOL_NAMES},
            **{f"tool schema {name}": gemini_tool("f", schema) for name, schema in GEMINI_SCHEMAS.items()},
            **{f"answer schema {name}": {"response_format": {"type": "json_schema",
                                                             "json_schema": {"name": "a", "schema": schema}}}
               for name, schema in GEMINI_SCHEMAS.items()},
            "tool parameters of type string": gemini_tool("f", {"type": "string"}),
            "an image link to an unclosed IPv6 host": {"messages": [message([
                {"type": "image_url", "image_url": {"url": "http://[::1/a.png"}}])]},
            "an image link without a type": {"messages": [message([
                {"type": "image_url", "image_url": {"url": "https://x.test/image"}}])]},
            "an image from Cloud Storage": {"messages": [message([
                {"type": "image_url", "image_url": {"url": "gs://bucket/a.png"}}])]}}


def item(**fields) -> dict:
    return {"type": "message", "role": "user", "content": "hi", **fields}


RESPONSES_INSIDE = {
    "10,000 input items": {"input": [item()] * 10_000}, "no input": {"input": None}, "empty input": {"input": []},
    "an item that is a number": {"input": [5]}, "an item of type weird": {"input": [{"type": "weird"}]},
    "item role robot": {"input": [item(role="robot")]}, "item content a number": {"input": [item(content=5)]},
    "input_text text a number": {"input": [item(content=[{"type": "input_text", "text": 5}])]},
    "a part that is a string": {"input": [item(content=["hi"])]},
    "input_image without image_url": {"input": [item(content=[{"type": "input_image"}])]},
    "input_image by file_id": {"input": [item(content=[{"type": "input_image", "file_id": "file-1"}])]},
    "input_file by file_id": {"input": [item(content=[{"type": "input_file", "file_id": "file-1"}])]},
    "refusal in a user item": {"input": [item(content=[{"type": "refusal", "refusal": "x"}])]},
    "function_call call_id a number": {"input": [{"type": "function_call", "call_id": 5, "name": "f",
                                                  "arguments": "{}"}]},
    "function_call without name": {"input": [{"type": "function_call", "call_id": "c", "arguments": "{}"}]},
    "function_call arguments an object": {"input": [{"type": "function_call", "call_id": "c", "name": "f",
                                                     "arguments": {}}]},
    "function_call_output without call_id": {"input": [{"type": "function_call_output", "output": "x"}]},
    "function_call_output output a number": {"input": [{"type": "function_call_output", "call_id": "c",
                                                        "output": 5}]},
    "an item_reference": {"input": [{"type": "item_reference", "id": "msg_1"}]},
    "tools [5]": {"tools": [5]}, "a function tool without name": {"tools": [{"type": "function"}]},
    "function tool name a number": {"tools": [{"type": "function", "name": 5}]},
    "a tool of type 5": {"tools": [{"type": 5}]},
    "tool_choice a hosted tool": {"tool_choice": {"type": "web_search"}},
    "tool_choice name a number": {"tool_choice": {"type": "function", "name": 5}},
    "text.format a string": {"text": {"format": "json"}}, "text.format type 5": {"text": {"format": {"type": 5}}},
    "json_schema without schema": {"text": {"format": {"type": "json_schema", "name": "a"}}},
    "json_schema schema a string": {"text": {"format": {"type": "json_schema", "name": "a", "schema": "x"}}},
    "reasoning effort extreme": {"reasoning": {"effort": "extreme"}},
    "reasoning effort a number": {"reasoning": {"effort": 5}},
    "reasoning summary a number": {"reasoning": {"summary": 5}},
    "previous_response_id": {"previous_response_id": "resp_1"}, "conversation": {"conversation": {"id": "conv_1"}},
    "background": {"background": True}, "truncation auto": {"truncation": "auto"}, "max_tool_calls": {
        "max_tool_calls": 3}, "a stored prompt": {"prompt": {"id": "pmpt_1"}}, "an unknown field": {"frobnicate": 1},
}
HOSTED_TOOLS = ["web_search", "web_search_preview", "file_search", "code_interpreter", "computer_use_preview",
                "image_generation", "mcp", "local_shell", "shell", "apply_patch", "custom",
                "web_search_preview_2025_03_11"]
EMBEDDINGS_INSIDE = {
    "10,001 inputs": {"input": ["x"] * 10_001}, "an empty string among inputs": {"input": ["a", ""]},
    "an empty token array": {"input": [[]]}, "a token array of strings": {"input": [["a"]]},
    "a negative token": {"input": [[-1]]}, "a float token": {"input": [1.5]}, "a mixed token array": {"input": [[1, "a"]]},
    "no input": {"input": None},
}
MESSAGES_INSIDE = {"max_tokens 0": {"max_tokens": 0}, "max_tokens a string": {"max_tokens": "50"},
                   "no max_tokens": {"max_tokens": None}, "no messages": {"messages": None},
                   "an unknown field": {"frobnicate": 1}}
COUNT_INSIDE = {"max_tokens (not a counting field)": {"max_tokens": 5}, "no messages": {"messages": None},
                "an unknown field": {"frobnicate": 1}}


def written(family: Family, endpoint: str) -> list[tuple[str, dict, str]]:
    """The written cases of the endpoint that byok refuses on this family (those inside a field on the families it
    translates)."""
    if endpoint == CHAT:
        changes = {name: {"messages": value} for name, value in CHAT_MESSAGES.items()} | CHAT_FIELDS_INSIDE \
            if family.translates_chat else {k: v for k, v in CHAT_FIELDS_INSIDE.items() if k.startswith("stream_")}
    elif endpoint == RESPONSES:
        changes = RESPONSES_INSIDE | {f"hosted tool {kind}": {"tools": [{"type": kind}]} for kind in HOSTED_TOOLS} \
            if family.translates_responses else {"10,000 input items": RESPONSES_INSIDE["10,000 input items"]}
    elif endpoint == EMBEDDINGS:
        changes = EMBEDDINGS_INSIDE
    else:
        changes = MESSAGES_INSIDE if endpoint == MESSAGES else COUNT_INSIDE
    if family.model.startswith("vertex/gemini"):  # Gemini answers JSON natively: a tool may be named json_answer
        changes = {k: v for k, v in changes.items() if "json_answer" not in k} | gemini_cases(endpoint)
    cases = []
    for name, change in changes.items():
        body = {**valid_body(family, endpoint), **change}
        cases.append((name, {key: value for key, value in body.items() if value is not None}, ""))
    return cases


def corpus(family: Family) -> list[tuple[str, str, bytes, str]]:
    """(endpoint, case, body, the field the answer must name, if one) for every endpoint the family serves."""
    cases = []
    for endpoint in family.endpoints:
        cases += [(endpoint, name, body, "") for name, body in raw_cases(family, endpoint)]
        cases += [(endpoint, name, json.dumps(body).encode(), field) for name, body, field in
                  generated(family, endpoint) + written(family, endpoint)]
    return cases


def member_of(sandbox, family: Family):
    if family.provider == "vertex":
        return vertex_key(sandbox)[0]
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account(family.provider), provider=family.provider)
    return member


def in_shape(endpoint: str, answer) -> bool:
    try:
        payload = answer.json()
    except ValueError:
        return False
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str) or not error["message"]:
        return False
    if endpoint in ANTHROPIC_SHAPED:
        return payload.get("type") == "error" and isinstance(error.get("type"), str)
    return isinstance(error.get("type"), str) and isinstance(error.get("code"), str) and "param" in error


def test_the_corpus_holds_more_than_the_issues_634_cases():
    sizes = {name: len(corpus(family)) for name, family in FAMILIES.items()}
    assert sum(sizes.values()) > 634, sizes
    assert all(size > 100 for size in sizes.values()), sizes


@pytest.mark.parametrize("name", list(FAMILIES))
def test_bad_input_is_refused_in_shape_before_any_provider_call(dataplane, sandbox, name):
    family = FAMILIES[name]
    member = member_of(sandbox, family)
    headers = {"Authorization": f"Bearer {dataplane.token(member)}", "Content-Type": "application/json"}
    failures = []
    with httpx2.Client(base_url=dataplane.url, headers=headers, timeout=30) as client:
        for endpoint, case, body, field in corpus(family):
            answer = client.post(endpoint, content=body)
            opened = [call["operation"] for call in sandbox.call_log() if call["operation"] not in SIGN_IN]
            if not 400 <= answer.status_code < 500 or not in_shape(endpoint, answer) or field not in answer.text \
                    or opened:
                failures.append(f"{endpoint} {case}: {answer.status_code} {answer.text[:300]} provider calls {opened}")
                sandbox.server.reset()
    dataplane.flush_usage()
    assert not failures, f"{len(failures)} of {len(corpus(family))} cases:\n" + "\n".join(failures)
    assert not UsageRecord.objects.exists()
