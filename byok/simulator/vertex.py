"""Google Vertex AI as `google-auth`, `anthropic.AnthropicVertex` and `google-genai` speak it.

- `POST /vertex/token`: the OAuth2 JWT-bearer grant. The assertion's RS256 signature is verified with the service
  account's public key (the simulator keeps no private key), its audience (Google's token endpoint), issue and
  expiry times are checked as Google does, and an access token is issued; every refusal is a 400 `{"error": "invalid_grant", …}`.
- `POST /vertex/v1/projects/{p}/locations/{l}/publishers/anthropic/models/{model}:rawPredict|:streamRawPredict`:
  Claude (an Anthropic Messages body with `anthropic_version: vertex-2023-10-16`; the model is in the URL).
- `POST /vertex/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent` and
  `:streamGenerateContent?alt=sse`: Gemini, with function calling, images and JSON mode, refusing what Vertex AI's
  request checks refuse (unknown Schema fields, bad image bytes, unanswered function calls, …).

Platform errors (authentication, API not enabled, quota, model not found) have Google's shape
`{"error": {"code", "message", "status", "details"}}` on both publishers.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from .accounts import Account
from .anthropic_api import (
    beta_refusal,
    check_thinking,
    claude_reply,
    message,
    messages_input_tokens,
    stream_events,
)
from .embeddings import EMBEDDING_MODELS, embed, is_embedding_model
from .limits import gemini_max_tokens_error
from .thinking import PLATFORM_BETAS, parse_betas
from .wire import (
    Answer,
    InvalidRequest,
    SimRequest,
    SimResponse,
    SimulatorState,
    StreamAborted,
    Tool,
    answer,
    cache_log,
    conversation_prompt,
    count_tokens,
    drop_if_disconnected,
    json_response,
    logger,
    sample_object,
    sse,
    sse_response,
    streamed_pieces,
    text_of,
)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# What Google requires as the assertion's `aud`, whichever URL the assertion is posted to (google-auth always signs
# this, also when a key file's token_uri points at the simulator).
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"
MAX_ASSERTION_LIFETIME = 3600  # Google refuses assertions valid for longer than an hour
CLOCK_SKEW = 300
_MODEL_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/(?P<publisher>anthropic|google)"
    r"/models/(?P<model>[^/:]+):(?P<method>rawPredict|streamRawPredict|generateContent|streamGenerateContent"
    r"|countTokens|predict|embedContent)$"
)
_OPERATIONS = {"rawPredict": "vertex.RawPredict", "streamRawPredict": "vertex.StreamRawPredict",
               "generateContent": "vertex.GenerateContent", "streamGenerateContent": "vertex.StreamGenerateContent",
               "countTokens": "vertex.CountTokens", "predict": "vertex.Predict", "embedContent": "vertex.EmbedContent"}
# Claude's token counting on Vertex AI: rawPredict on this pseudo-model, with the model named in the body.
CLAUDE_COUNT_TOKENS_MODEL = "count-tokens"


class GoogleError(Exception):
    def __init__(self, status: int, google_status: str, message: str, details: list | None = None) -> None:
        super().__init__(f"{google_status}: {message}")
        self.status, self.google_status, self.message, self.details = status, google_status, message, details or []


def _error_response(error: GoogleError) -> SimResponse:
    payload = {"error": {"code": error.status, "message": error.message, "status": error.google_status}}
    if error.details:
        payload["error"]["details"] = error.details
    return json_response(error.status, payload)


class InvalidGrant(Exception):
    def __init__(self, description: str, error: str = "invalid_grant", account: Account | None = None) -> None:
        super().__init__(description)
        self.error, self.description, self.account = error, description, account


# --- the token endpoint ---------------------------------------------------------------------------------------


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verify_assertion(assertion: str, state: SimulatorState, audience: str) -> Account:
    """The account whose key signed this JWT, after Google's checks; InvalidGrant otherwise."""
    try:
        header_b64, payload_b64, signature_b64 = assertion.split(".")
        header, claims = json.loads(_b64url(header_b64)), json.loads(_b64url(payload_b64))
        signature = _b64url(signature_b64)
    except (ValueError, TypeError):
        raise InvalidGrant("Invalid JWT: the assertion is not a signed JWT.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        raise InvalidGrant("Invalid JWT: the assertion must be signed with RS256.")
    account = state.accounts.by_client_email(str(claims.get("iss", "")))
    if account is None or account.provider != "vertex":
        raise InvalidGrant("Invalid grant: account not found")
    public_key = serialization.load_pem_public_key(account.public_key.encode())
    try:
        public_key.verify(signature, f"{header_b64}.{payload_b64}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise InvalidGrant("Invalid JWT Signature.", account=account) from None
    if account.private_key_id and header.get("kid") not in (None, account.private_key_id):
        raise InvalidGrant("Invalid JWT Signature.", account=account)  # a key id the account does not have (deleted key)
    if claims.get("aud") != audience:
        raise InvalidGrant(f"Invalid JWT: Failed audience check. The right audience is {audience}", account=account)
    now = time.time()
    iat, exp = claims.get("iat"), claims.get("exp")
    if (not isinstance(iat, (int, float)) or not isinstance(exp, (int, float)) or exp - iat > MAX_ASSERTION_LIFETIME
            or iat > now + CLOCK_SKEW or exp < now - CLOCK_SKEW):
        raise InvalidGrant("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                           "timeframe. Check your iat and exp values in the JWT claim.", account=account)
    if account.behaviour == "expired":  # the key expired (or was deleted): Google cannot tell the signature's key
        raise InvalidGrant("Invalid JWT Signature.", account=account)
    if account.behaviour == "disabled":
        raise InvalidGrant("Invalid grant: account not found", account=account)
    return account


def handle_token(request: SimRequest, state: SimulatorState) -> SimResponse:
    form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
    audience = GOOGLE_TOKEN_AUDIENCE
    account: Account | None = None
    try:
        if form.get("grant_type") != JWT_BEARER:
            raise InvalidGrant("Invalid grant_type.", error="unsupported_grant_type")
        account = _verify_assertion(form.get("assertion", ""), state, audience)
        response = json_response(200, {"access_token": state.accounts.issue_access_token(account),
                                       "expires_in": 3599, "token_type": "Bearer"})
    except InvalidGrant as refusal:
        account = refusal.account
        logger.info("vertex.Token refused: %s (%s)", refusal.error, account.name if account else "unknown account")
        response = json_response(400, {"error": refusal.error, "error_description": refusal.description})
    if account is not None:
        state.simulate_latency(account)
    state.stats.record(operation="vertex.Token", principal=account.name if account else "unknown", account=account,
                       status=response.status)
    return response


# --- the model endpoints --------------------------------------------------------------------------------------

_BEHAVIOUR_ERRORS = {
    "throttled": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com/"
                  "online_prediction_requests_per_base_model with base model: {model}. Please submit a quota "
                  "increase request."),
    "server_error": (500, "INTERNAL", "Internal error encountered."),
    "unavailable": (503, "UNAVAILABLE", "The service is currently unavailable."),
}


def _authenticate(request: SimRequest, state: SimulatorState) -> Account:
    authorization = request.headers.get("Authorization", "")
    account = state.accounts.by_access_token(authorization.removeprefix("Bearer ").strip()) \
        if authorization.startswith("Bearer ") else None
    if account is None:
        raise GoogleError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 "
                          "access token, login cookie or other valid authentication credential.")
    return account


def _check_access(account: Account, state: SimulatorState, *, project: str, publisher: str, model: str) -> None:
    if project != account.project_id:
        raise GoogleError(403, "PERMISSION_DENIED", f"Permission 'aiplatform.endpoints.predict' denied on resource "
                          f"'projects/{project}' (or it may not exist).",
                          [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
                            "domain": "aiplatform.googleapis.com"}])
    if account.behaviour == "api_disabled":
        raise GoogleError(403, "PERMISSION_DENIED", f"Vertex AI API has not been used in project {project} before or "
                          "it is disabled. Enable it by visiting the Google Cloud console, then retry.",
                          [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED",
                            "domain": "googleapis.com",
                            "metadata": {"service": "aiplatform.googleapis.com", "consumer": f"projects/{project}"}}])
    drop_if_disconnected(account)
    failure = _BEHAVIOUR_ERRORS.get(account.behaviour)
    if failure is not None:
        status, google_status, text = failure
        raise GoogleError(status, google_status, text.format(model=model))
    if not account.may_use(model) or not state.accounts.knows_model("vertex", model):
        raise GoogleError(404, "NOT_FOUND", f"Publisher Model `projects/{project}/locations/.../publishers/"
                          f"{publisher}/models/{model}` was not found or your project does not have access to it.")


def handle_vertex(request: SimRequest, state: SimulatorState, path: str) -> SimResponse:
    """`path` is what follows `/vertex`: `/token`, or `/v1/projects/…`."""
    if path == "/token" and request.method == "POST":
        return handle_token(request, state)
    match = _MODEL_PATH.match(unquote(path))
    if request.method != "POST" or match is None:
        return _error_response(GoogleError(404, "NOT_FOUND", f"No simulated Vertex AI API at {request.method} {path}"))
    operation = _OPERATIONS[match["method"]]
    model, publisher, method = match["model"], match["publisher"], match["method"]
    body = request.json()
    counting_claude = publisher == "anthropic" and model == CLAUDE_COUNT_TOKENS_MODEL and method == "rawPredict"
    if counting_claude:
        operation = "vertex.CountTokens"
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
    betas = parse_betas(request.headers.get("anthropic-beta")) + (
        parse_betas(body.get("anthropic_beta")) if isinstance(body, dict) and publisher == "anthropic" else [])
    account: Account | None = None
    try:
        account = _authenticate(request, state)
        if (publisher == "anthropic") != method.endswith("awPredict"):
            raise GoogleError(400, "INVALID_ARGUMENT", f"{method} is not served for {publisher} models.")
        _check_access(account, state, project=match["project"], publisher=publisher, model=model)
        unknown = [beta for beta in betas if beta not in PLATFORM_BETAS]
        if publisher == "anthropic" and unknown:
            response = _anthropic_error(400, beta_refusal(unknown))
        elif counting_claude:
            response = _claude_count_tokens(body, state)
        elif publisher == "anthropic":
            response = _claude(body, state, account, model, stream=method == "streamRawPredict")
        elif method == "countTokens":
            response = _gemini_count_tokens(body)
        elif method in ("predict", "embedContent") or is_embedding_model(model):
            response = _embedding(body, model, method)
        else:
            response = _gemini(request, account, model, stream=method == "streamGenerateContent")
    except GoogleError as error:
        logger.info("%s refused: %s %s (%s)", operation, error.status, error.google_status,
                    f"account {account.name}" if account else "unknown token")
        response = _error_response(error)
    if account is not None:
        state.simulate_latency(account)
    state.stats.record(operation=operation, principal=account.name if account else "unknown", account=account,
                       status=response.status, endpoint=request.path, region=match["location"], model=model,
                       betas=betas, **response.log)
    return response


def _claude_count_tokens(body: Any, state: SimulatorState) -> SimResponse:
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
        return _anthropic_error(400, "messages: Field required")
    try:
        check_thinking(body, state, max_tokens=None)
    except InvalidRequest as refusal:
        return _anthropic_error(400, refusal.message)
    return json_response(200, {"input_tokens": messages_input_tokens(body)})


def _claude(body: Any, state: SimulatorState, account: Account, model: str, *, stream: bool) -> SimResponse:
    if not isinstance(body, dict):
        return _anthropic_error(400, "The request body is not valid JSON.")
    # Vertex's own version string, or an Anthropic API date as newer SDKs send.
    if not re.fullmatch(rf"{VERTEX_ANTHROPIC_VERSION}|\d{{4}}-\d{{2}}-\d{{2}}", str(body.get("anthropic_version"))):
        return _anthropic_error(400, f"anthropic_version: must be {VERTEX_ANTHROPIC_VERSION} on Vertex AI.")
    if "model" in body:
        return _anthropic_error(400, "model: Extra inputs are not permitted (the model is in the URL on Vertex AI).")
    for required in ("max_tokens", "messages"):
        if required not in body:
            return _anthropic_error(400, f"{required}: Field required")
    if not isinstance(body["messages"], list) or not body["messages"]:
        return _anthropic_error(400, "messages: at least one message is required")
    try:
        reply = claude_reply(body, state=state, account=account, model=model, provider="vertex")
    except InvalidRequest as refusal:
        return _anthropic_error(400, refusal.message)
    message_id = f"msg_vrtx_{uuid.uuid4().hex[:24]}"
    if stream or body.get("stream") is True:
        response = sse_response((sse(event, event["type"]) for event in stream_events(account, reply, model, message_id)),
                                account=account)
    else:
        response = json_response(200, message(reply, model, message_id))
    response.log.update(cache_log(reply))
    return response


def _anthropic_error(status: int, text: str) -> SimResponse:
    return json_response(status, {"type": "error", "error": {"type": "invalid_request_error", "message": text}})


# --- Gemini -------------------------------------------------------------------------------------------------------

# Gemini's Schema (an OpenAPI 3.0 subset) as the REST API spells it: any other key is refused, as Vertex AI's
# request parser refuses unknown fields.
_SCHEMA_FIELDS = {"type", "format", "title", "description", "nullable", "default", "items", "minItems", "maxItems",
                  "enum", "properties", "propertyOrdering", "required", "minProperties", "maxProperties", "minLength",
                  "maxLength", "pattern", "example", "anyOf", "additionalProperties", "minimum", "maximum"}
_SCHEMA_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
_STRING_FORMATS = {"enum", "date-time"}
# The image types Gemini reads, each with how its bytes start (a corrupt or mislabelled image is refused).
_IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/webp": b"RIFF"}
_FUNCTION_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}")
_MODES = {"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}


def _camel(key: str) -> str:
    """Vertex AI's JSON parser takes proto field names in either spelling (`inline_data`, `inlineData`)."""
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def _fields(value: Any) -> dict[str, Any]:
    return {_camel(key): item for key, item in value.items()} if isinstance(value, dict) else {}


def _invalid(message: str) -> GoogleError:
    return GoogleError(400, "INVALID_ARGUMENT", message)


def _check_schema(schema: Any, where: str) -> dict[str, Any]:
    """The schema with camelCase keys, recursively, after Vertex AI's checks; GoogleError otherwise."""
    if not isinstance(schema, dict):
        raise _invalid(f"Invalid value at '{where}': a Schema must be an object.")
    schema = _fields(schema)
    for key in schema:
        if key not in _SCHEMA_FIELDS:
            raise _invalid(f'Invalid JSON payload received. Unknown name "{key}" at \'{where}\': Cannot find field.')
    kind = schema.get("type")
    if kind is not None and str(kind).upper() not in _SCHEMA_TYPES:
        raise _invalid(f"Invalid value at '{where}.type' (type.googleapis.com/google.cloud.aiplatform.v1.Type), "
                       f'"{kind}"')
    if str(kind).upper() == "STRING" and schema.get("format") not in (None, *_STRING_FORMATS):
        raise _invalid(f"{where}.format: only 'enum' and 'date-time' are supported for STRING type")
    if "enum" in schema and not (isinstance(schema["enum"], list) and all(isinstance(v, str) for v in schema["enum"])):
        raise _invalid(f"Invalid value at '{where}.enum': enum values must be strings.")
    properties = schema.get("properties")
    if properties is not None:
        schema["properties"] = {name: _check_schema(sub, f"{where}.properties[{name}].value")
                                for name, sub in (properties.items() if isinstance(properties, dict) else [])}
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            schema[key] = _check_schema(schema[key], f"{where}.{key}")
    if isinstance(schema.get("anyOf"), list):
        schema["anyOf"] = [_check_schema(sub, f"{where}.any_of[{i}]") for i, sub in enumerate(schema["anyOf"])]
    return schema


def _json_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A checked Gemini schema in JSON Schema's lower-case types (what `sample_object` reads)."""
    out = dict(schema)
    if isinstance(out.get("type"), str):
        out["type"] = out["type"].lower()
    if isinstance(out.get("properties"), dict):
        out["properties"] = {name: _json_schema(sub) for name, sub in out["properties"].items()}
    return out


def _gemini_tools(body: dict[str, Any]) -> tuple[tuple[Tool, ...], str | None]:
    """The declared functions, and what the calling mode forces (see `Prompt.forced_tool`), after Vertex AI's
    checks."""
    tools: list[Tool] = []
    for t_index, tool in enumerate(body.get("tools") or []):
        for f_index, declaration in enumerate(_fields(tool).get("functionDeclarations") or []):
            where = f"tools[{t_index}].function_declarations[{f_index}]"
            declaration = _fields(declaration)
            name = declaration.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
                raise _invalid(f"* GenerateContentRequest.{where}.name: Invalid function name. Must start with a "
                               "letter or an underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.)"
                               ", colons (:) or dashes (-), with a maximum length of 64.")
            parameters = declaration.get("parameters")
            schema: dict[str, Any] = {}
            if parameters is not None:
                schema = _check_schema(parameters, f"{where}.parameters")
                if str(schema.get("type", "")).upper() == "OBJECT" and not schema.get("properties"):
                    raise _invalid(f"* GenerateContentRequest.{where}.parameters.properties: should be non-empty for "
                                   "OBJECT type")
            tools.append(Tool(name=name, description=str(declaration.get("description", "")),
                              schema=_json_schema(schema)))
    calling = _fields(_fields(body.get("toolConfig")).get("functionCallingConfig"))
    mode = str(calling.get("mode") or "AUTO").upper()
    allowed = calling.get("allowedFunctionNames") or []
    if mode not in _MODES:
        raise _invalid(f"Invalid value at 'tool_config.function_calling_config.mode', \"{mode}\"")
    if allowed and mode != "ANY":
        raise _invalid("* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only "
                       "allowed when mode is ANY")
    unknown = [name for name in allowed if name not in {tool.name for tool in tools}]
    if unknown:
        raise _invalid(f"* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: "
                       f"{unknown[0]} is not a declared function")
    if mode == "NONE":
        return (), None
    if mode == "ANY":
        return tuple(tool for tool in tools if not allowed or tool.name in allowed), ""
    return tuple(tools), None


def _image(data: dict[str, Any], where: str) -> None:
    mime = data.get("mimeType")
    if mime not in _IMAGE_MAGIC:
        raise _invalid(f"Unsupported MIME type: {mime}")
    try:
        raw = base64.b64decode(str(data.get("data", "")).replace("-", "+").replace("_", "/"), validate=True)
    except ValueError:
        raise _invalid(f"Invalid value at '{where}.inline_data.data' (TYPE_BYTES), Base64 decoding failed") from None
    if not raw or not raw.startswith(_IMAGE_MAGIC[mime]):
        raise _invalid("Unable to process input image. Please retry or report in "
                       "https://developers.generativeai.google/guide/troubleshooting")


def _gemini_messages(contents: list[Any]) -> list[dict[str, Any]]:
    """The contents, after Vertex AI's checks, as the messages `conversation_prompt` reads: text, an image block
    for each inline or linked image, a tool_result block for each function response."""
    messages: list[dict[str, Any]] = []
    calls_before = 0  # function calls in the previous model turn, which the next user turn must answer one by one
    for c_index, content in enumerate(contents):
        content = _fields(content)
        role, parts = content.get("role", "user"), content.get("parts")
        if role not in ("user", "model") or not isinstance(parts, list) or not parts:
            raise _invalid(f"* GenerateContentRequest.contents[{c_index}]: a content has role user or model and "
                           "non-empty parts")
        blocks: list[dict[str, Any]] = []
        calls = responses = 0
        for p_index, part in enumerate(parts):
            part, where = _fields(part), f"contents[{c_index}].parts[{p_index}]"
            if isinstance(part.get("text"), str):
                blocks.append({"text": part["text"]})
            elif isinstance(part.get("inlineData"), dict):
                _image(_fields(part["inlineData"]), where)
                blocks.append({"type": "image"})
            elif isinstance(part.get("fileData"), dict):
                data = _fields(part["fileData"])
                if not data.get("mimeType") or urlsplit(str(data.get("fileUri", ""))).scheme not in ("gs", "http",
                                                                                                      "https"):
                    raise _invalid(f"* GenerateContentRequest.{where}.file_data: a file_uri (gs:// or http(s)://) "
                                   "and a mime_type are required")
                blocks.append({"type": "image"})
            elif isinstance(part.get("functionCall"), dict) and role == "model":
                calls += 1
            elif isinstance(part.get("functionResponse"), dict) and role == "user":
                response = _fields(part["functionResponse"])
                if not response.get("name") or not isinstance(response.get("response"), dict):
                    raise _invalid(f"* GenerateContentRequest.{where}.function_response: a name and a response "
                                   "object are required")
                responses += 1
                blocks.append({"type": "tool_result", "content": json.dumps(response["response"])})
            else:
                raise _invalid(f"* GenerateContentRequest.{where}: a part holds one of text, inline_data, file_data, "
                               "function_call (model) or function_response (user)")
        if responses and responses != calls_before:
            raise _invalid("Please ensure that the number of function response parts is equal to the number of "
                           "function call parts of the function call turn.")
        calls_before = calls
        messages.append({"role": "assistant" if role == "model" else "user", "content": blocks})
    return messages


def _gemini_prompt(body: dict[str, Any]):
    system = _fields(body).get("systemInstruction") or {}
    tools, forced = _gemini_tools(_fields(body))
    return conversation_prompt(_gemini_messages(body["contents"]), tools=tools, forced_tool=forced,
                               system=text_of(system.get("parts") if isinstance(system, dict) else system))


def _json_answer(reply: Answer, config: dict[str, Any]) -> Answer:
    """JSON mode: an object that fits the response schema (or one holding the reply's text)."""
    schema = config.get("responseSchema")
    if schema is not None:
        schema = _check_schema(schema, "generation_config.response_schema")
    value = sample_object(_json_schema(schema)) if schema else {"reply": reply.text}
    text = json.dumps(value)
    return replace(reply, text=text, output_tokens=count_tokens(text), truncated=False)


def _gemini(request: SimRequest, account: Account, model: str, *, stream: bool) -> SimResponse:
    body = request.json()
    if not isinstance(body, dict) or not body.get("contents"):
        raise GoogleError(400, "INVALID_ARGUMENT", "contents is not specified")
    config = _fields(body.get("generationConfig"))
    max_tokens = config.get("maxOutputTokens")
    if isinstance(max_tokens, int) and (refusal := gemini_max_tokens_error(max_tokens, model)):
        raise _invalid(refusal)
    reply = answer(provider="vertex", model=model, prompt=_gemini_prompt(body),
                   max_tokens=int(max_tokens) if max_tokens else None)
    mime = config.get("responseMimeType", "text/plain")
    if mime not in ("text/plain", "application/json"):
        raise _invalid(f"Unsupported response mime type: {mime}")
    if mime == "application/json" and reply.tool_call is None:
        reply = _json_answer(reply, config)
    usage = {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": reply.output_tokens,
             "totalTokenCount": reply.input_tokens + reply.output_tokens}
    finish = "MAX_TOKENS" if reply.truncated else "STOP"  # a function call ends with STOP too
    response_id = uuid.uuid4().hex[:22]
    if reply.tool_call is not None:  # Gemini sends a function call whole, also when streaming
        pieces = [{"functionCall": {"name": reply.tool_call.name, "args": reply.tool_call.arguments}}]
    else:
        pieces = [{"text": piece} for piece in (reply.pieces() if stream else [reply.text])]
    if not stream:
        return json_response(200, {
            "candidates": [{"content": {"role": "model", "parts": pieces}, "finishReason": finish}],
            "usageMetadata": usage, "modelVersion": model, "responseId": response_id})
    if parse_qs(urlsplit("?" + request.query).query).get("alt") != ["sse"]:
        raise GoogleError(400, "INVALID_ARGUMENT", "The simulator streams Gemini as server-sent events: add alt=sse.")
    return sse_response(_gemini_stream(account, pieces, finish, usage, model, response_id), account=account)


def _gemini_stream(account: Account, pieces: list[dict], finish: str, usage: dict, model: str,
                   response_id: str) -> Iterator[bytes]:
    sent, fails = streamed_pieces(account, _Pieces(pieces))
    for index, piece in enumerate(sent):
        chunk: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [piece]}}],
                                 "modelVersion": model, "responseId": response_id}
        if index == len(sent) - 1 and not fails:
            chunk["candidates"][0]["finishReason"] = finish
            chunk["usageMetadata"] = usage
        yield sse(chunk)
    if fails:
        raise StreamAborted()  # the connection drops with the body unfinished


class _Pieces:
    """Adapts a list of parts to what `streamed_pieces` expects of an Answer."""

    def __init__(self, pieces: list[dict]) -> None:
        self._pieces = pieces

    def pieces(self) -> list[dict]:
        return self._pieces


def _gemini_count_tokens(body: Any) -> SimResponse:
    """`:countTokens`: the prompt tokens a generateContent call with these contents reports."""
    if not isinstance(body, dict) or not body.get("contents"):
        raise GoogleError(400, "INVALID_ARGUMENT", "contents is not specified")
    tokens = max(1, count_tokens(_gemini_prompt(body).text))
    return json_response(200, {"totalTokens": tokens, "totalBillableCharacters": len(_gemini_prompt(body).text)})


def _embedding(body: Any, model: str, method: str) -> SimResponse:
    """Text embeddings: `:predict` (`instances[].content`, `parameters.outputDimensionality`), or `:embedContent`
    (`content.parts[].text`, `outputDimensionality`) as google-genai calls Gemini embedding models."""
    if not is_embedding_model(model):
        raise _invalid(f"{model} is not an embedding model.")
    spec = EMBEDDING_MODELS[model]
    body = _fields(body)
    if method == "predict":
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances:
            raise _invalid("Invalid value at 'instances': at least one instance is required.")
        texts = [str(_fields(instance).get("content", "")) for instance in instances]
        size = _fields(body.get("parameters")).get("outputDimensionality", spec.default_dimensions)
    elif method == "embedContent":
        config = _fields(body.get("embedContentConfig")) | body
        texts = [text_of(_fields(config.get("content")).get("parts"))]
        size = config.get("outputDimensionality", spec.default_dimensions)
    else:
        raise _invalid(f"{method} is not served for embedding models: call :predict.")
    if len(texts) > spec.max_inputs:
        raise _invalid(f"Unable to submit request because the model {model} supports only {spec.max_inputs} "
                       f"instance{'s' if spec.max_inputs > 1 else ''} per request. You sent {len(texts)}.")
    if not all(texts):
        raise _invalid("The text content is empty.")
    if size not in spec.dimensions:
        raise _invalid(f"Invalid value at 'output_dimensionality': {size} (1 to {spec.default_dimensions}).")
    vectors = [embed(model, text, size) for text in texts]
    tokens = [max(1, count_tokens(text)) for text in texts]
    if method == "embedContent":
        return json_response(200, {"embedding": {"values": vectors[0]}, "usageMetadata": {
            "promptTokenCount": tokens[0], "totalTokenCount": tokens[0]}, "truncated": False})
    return json_response(200, {
        "predictions": [{"embeddings": {"values": vector, "statistics": {"truncated": False, "token_count": count}}}
                        for vector, count in zip(vectors, tokens)],
        "metadata": {"billableCharacterCount": sum(len(text.replace(" ", "")) for text in texts)}})
