"""/v1/openapi.json: the data plane described in OpenAPI 3.1, for clients and for fuzzing (a test drives the live data
plane with schemathesis against it: tests/byok/gateway/dataplane/test_openapi_fuzz.py).

Every top-level request field is described by the check byok runs on it: the declared field tables of
providers/translate/ (CHAT_FIELDS, MESSAGES_FIELDS, …), whose checks carry their JSON Schema, so the description
says exactly which types and ranges every family refuses before any provider is called. A field sent as null is
left out, as the checks do. What lies inside a field (a message, a content part, a tool) follows under `allOf`: the
shape the translating families' walkers read (they check more than is written here); a pass-through family hands
it to its provider, which judges. Which family takes which field (mapped, refused, dropped) is
docs/providers.md's table.
"""

from functools import cache

from ..providers.translate.chat import CHAT_FIELDS, Check
from ..providers.translate.embeddings import EMBEDDINGS_FIELDS
from ..providers.translate.messages import COUNT_TOKENS_FIELDS, MESSAGES_FIELDS
from ..providers.translate.responses import RESPONSES_FIELDS
from .dataplane import OUTPUT_LIMIT_FIELDS

STRING, OBJECT = {"type": "string"}, {"type": "object"}
NAME = {"type": "string", "minLength": 1}

# --- what the walkers read inside the fields ---------------------------------------------------------------------

_CHAT_PART = {"oneOf": [
    {"type": "object", "required": ["type", "text"],
     "properties": {"type": {"enum": ["text", "input_text"]}, "text": STRING, "cache_control": OBJECT}},
    {"type": "object", "required": ["type", "refusal"], "properties": {"type": {"const": "refusal"}, "refusal": STRING}},
    {"type": "object", "required": ["type", "image_url"],
     "properties": {"type": {"const": "image_url"}, "cache_control": OBJECT,
                    "image_url": {"type": "object", "required": ["url"], "properties": {"url": STRING}}}},
    {"type": "object", "required": ["type", "file"],
     "properties": {"type": {"const": "file"}, "cache_control": OBJECT,
                    "file": {"type": "object", "required": ["file_data"],
                             "properties": {"file_data": STRING, "filename": STRING}}}},
]}
_TOOL_CALL = {"type": "object", "required": ["id", "function"],
              "properties": {"id": NAME,
                             "function": {"type": "object", "required": ["name"],
                                          "properties": {"name": NAME, "arguments": STRING}}}}
_CHAT_MESSAGE = {"type": "object", "required": ["role"], "properties": {
    "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
    "content": {"anyOf": [STRING, {"type": "array", "items": _CHAT_PART}, {"type": "null"}]},
    "tool_calls": {"type": "array", "items": _TOOL_CALL}, "tool_call_id": STRING, "name": STRING}}
_FUNCTION = {"type": "object", "required": ["name"],
             "properties": {"name": NAME, "description": STRING, "parameters": OBJECT}}
_CHAT_TOOL = {"type": "object", "required": ["function"],
              "properties": {"type": {"const": "function"}, "function": _FUNCTION, "cache_control": OBJECT}}
_CHAT_TOOL_CHOICE = {"anyOf": [{"enum": ["auto", "none", "required"]},
                               {"type": "object", "required": ["function"],
                                "properties": {"type": {"const": "function"},
                                               "function": {"type": "object", "required": ["name"],
                                                            "properties": {"name": STRING}}}}]}
_RESPONSE_FORMAT = {"type": "object", "required": ["type"], "properties": {
    "type": {"enum": ["text", "json_object", "json_schema"]},
    "json_schema": {"type": "object", "required": ["schema"], "properties": {"name": STRING, "schema": OBJECT}}}}

_CLAUDE_BLOCK = {"type": "object", "required": ["type"], "properties": {"type": STRING}}
_CLAUDE_MESSAGE = {"type": "object", "required": ["role", "content"], "properties": {
    "role": {"enum": ["user", "assistant"]},
    "content": {"anyOf": [STRING, {"type": "array", "items": _CLAUDE_BLOCK}]}}}
_CLAUDE_TOOL = {"type": "object", "required": ["name"],
                "properties": {"name": NAME, "description": STRING, "input_schema": OBJECT, "type": STRING}}

_RESPONSES_PART = {"type": "object", "required": ["type"], "properties": {
    "type": {"enum": ["input_text", "output_text", "refusal", "input_image", "input_file"]},
    "text": STRING, "image_url": STRING, "file_data": STRING}}
_RESPONSES_ITEM = {"type": "object", "properties": {
    "type": {"enum": ["message", "function_call", "function_call_output", "reasoning"]},
    "role": {"enum": ["user", "assistant", "system", "developer"]},
    "content": {"anyOf": [STRING, {"type": "array", "items": _RESPONSES_PART}]},
    "call_id": STRING, "name": STRING, "arguments": STRING,
    "output": {"anyOf": [STRING, {"type": "array", "items": _RESPONSES_PART}]}}}
_RESPONSES_TOOL = {"type": "object", "required": ["type"], "properties": {
    "type": STRING, "name": STRING, "description": STRING, "parameters": OBJECT}}

CHAT_SHAPES = {"messages": {"items": _CHAT_MESSAGE}, "tools": {"items": _CHAT_TOOL},
               "tool_choice": _CHAT_TOOL_CHOICE, "response_format": _RESPONSE_FORMAT,
               "stream_options": {"properties": {"include_usage": {"type": "boolean"}}}}
MESSAGES_SHAPES = {"messages": {"items": _CLAUDE_MESSAGE}, "tools": {"items": _CLAUDE_TOOL},
                   "tool_choice": {"required": ["type"], "properties": {"type": STRING, "name": STRING}}}
RESPONSES_SHAPES = {"input": {"anyOf": [STRING, {"type": "array", "items": _RESPONSES_ITEM}]},
                    "tools": {"items": _RESPONSES_TOOL}}


def request_body(fields: dict[str, Check], *, required: tuple[str, ...], shapes: dict[str, dict] | None = None,
                 closed: bool = False, api: str = "") -> dict:
    """A request body's schema. Each field is its check's schema (what byok refuses on every family before any
    provider is called), and where a walker reads inside it, `allOf` that schema and the shape (checked by the
    translating families' walkers, by the provider on pass-through families). Optional fields may be null. `closed`:
    a field outside the table is a 400 on every family (not passed through). An output limit has no maximum: above
    the model's, a tier's call is lowered to it (X-BYOK-Adjusted), a model id's is a 400."""
    properties = {}
    for name, check in fields.items():
        schema = dict(check.schema)
        if name in OUTPUT_LIMIT_FIELDS.get(api, ()):
            schema.pop("maximum")
        if name in (shapes or {}):
            schema = {"allOf": [schema, shapes[name]]}
        properties[name] = schema if name in required else {"anyOf": [schema, {"type": "null"}]}
    return {"type": "object", "required": list(required), "properties": properties, "additionalProperties": not closed}


# --- answers -----------------------------------------------------------------------------------------------------

OPENAI_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "code"],
    "properties": {"message": STRING, "type": STRING, "code": STRING, "param": {"type": ["string", "null"]}}}}}
ANTHROPIC_ERROR = {"type": "object", "required": ["type", "error"], "properties": {
    "type": {"const": "error"},
    "error": {"type": "object", "required": ["type", "message"], "properties": {"type": STRING, "message": STRING}}}}
ERROR_STATUSES = {"400": "The request is invalid (the message names the field).",
                  "401": "No API key, or not a valid one.", "402": "The owner's platform credits are used up.",
                  "403": "The key belongs to another workspace, or is an API token.",
                  "404": "Unknown model (or workspace).", "413": "The request body is too large.",
                  "424": "The owner's exclusive key cannot serve.",
                  "429": "A rate limit, or the provider's (Retry-After says when to try again).",
                  "502": "The provider failed.", "503": "Nothing can serve now (Retry-After says when to try again).",
                  "504": "The provider did not answer in time."}
HEADERS = {"X-Request-Id": {"required": True, "schema": STRING, "description": "The request id (logs, usage)."},
           "X-BYOK-Source": {"required": True, "schema": {"enum": ["", "byok", "platform"]},
                             "description": "Whose credentials served: the owner's key (byok) or platform's."}}


def _answers(ok: dict, error: str, *, stream: bool = False) -> dict:
    content = {"application/json": {"schema": ok}}
    if stream:  # each event: its type (Anthropic's and the Responses API's events) and its JSON data
        content["text/event-stream"] = {"schema": {"type": "object", "required": ["data"],
                                                   "properties": {"event": STRING, "data": STRING}}}
    headers = {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS}
    return {"200": {"description": "The answer" + (", or its events when stream is true." if stream else "."),
                    "headers": headers, "content": content},
            **{status: {"description": words, "headers": headers,
                        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{error}"}}}}
               for status, words in ERROR_STATUSES.items()}}


def _post(operation_id: str, summary: str, body: dict, ok: dict, error: str = "OpenAIError", *,
          stream: bool = False) -> dict:
    return {"post": {"operationId": operation_id, "summary": summary,
                     "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                     "responses": _answers(ok, error, stream=stream)}}


def _answer(*required: str) -> dict:
    return {"type": "object", "required": list(required)}


_ANTHROPIC_VERSION = {"name": "anthropic-version", "in": "header", "required": False, "schema": STRING,
                      "description": "Sent by the Anthropic SDKs: the answer (and its errors) in Anthropic's shape."}
_EITHER_ERROR = "OpenAIOrAnthropicError"


@cache
def description() -> dict:
    chat = request_body(CHAT_FIELDS, required=("model", "messages"), shapes=CHAT_SHAPES, api="chat")
    messages = request_body(MESSAGES_FIELDS, required=("model", "messages", "max_tokens"), shapes=MESSAGES_SHAPES,
                            closed=True, api="messages")
    count_tokens = request_body(COUNT_TOKENS_FIELDS, required=("model", "messages"), shapes=MESSAGES_SHAPES,
                                closed=True)
    responses = request_body(RESPONSES_FIELDS, required=("model", "input"), shapes=RESPONSES_SHAPES)
    embeddings = request_body(EMBEDDINGS_FIELDS, required=("model", "input"))
    listed = {"type": "object", "required": ["data"],
              "properties": {"data": {"type": "array", "items": _answer("id", "byok")}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "byok data plane", "version": "1",
                 "description": "The OpenAI- and Anthropic-compatible endpoints members call with a workspace API "
                                "key (docs/data-plane.md). Errors come in the endpoint's own shape."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": {
            "/v1/chat/completions": _post("createChatCompletion", "OpenAI Chat Completions, on any family.", chat,
                                          _answer("id", "object", "model", "choices"), stream=True),
            "/v1/messages": _post("createMessage", "Anthropic Messages, on Claude (Anthropic, Bedrock, Vertex AI).",
                                  messages, _answer("id", "type", "model", "content"), "AnthropicError",
                                  stream=True),
            "/v1/messages/count_tokens": _post("countTokens", "Anthropic token counting, on Claude (free).",
                                               count_tokens, _answer("input_tokens"), "AnthropicError"),
            "/v1/responses": _post("createResponse", "The OpenAI Responses API, stateless, on any family.",
                                   responses, _answer("id", "object", "model", "output", "status"), stream=True),
            "/v1/embeddings": _post("createEmbeddings", "OpenAI Embeddings.", embeddings,
                                    _answer("object", "model", "data")),
            "/v1/models": {"get": {"operationId": "listModels", "summary": "What this workspace can call now.",
                                   "parameters": [_ANTHROPIC_VERSION], "responses": _answers(listed, _EITHER_ERROR)}},
            "/v1/models/{model}": {"get": {
                "operationId": "retrieveModel", "summary": "One model of the listing, by its id.",
                "parameters": [{"name": "model", "in": "path", "required": True, "schema": STRING},
                               _ANTHROPIC_VERSION],
                "responses": _answers(_answer("id", "byok"), _EITHER_ERROR)}},
            "/v1/openapi.json": {"get": {"operationId": "describe", "summary": "This description.", "security": [],
                                         "responses": {"200": {"description": "OpenAPI 3.1.",
                                                               "content": {"application/json": {"schema": OBJECT}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A workspace API key (byok_…), as the OpenAI SDKs send it."},
                                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                                           "description": "A workspace API key, as the Anthropic SDKs send it."}},
            "schemas": {"OpenAIError": OPENAI_ERROR, "AnthropicError": ANTHROPIC_ERROR,
                        _EITHER_ERROR: {"anyOf": [OPENAI_ERROR, ANTHROPIC_ERROR]}},
            "headers": HEADERS,
        },
    }
