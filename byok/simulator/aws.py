"""AWS: Bedrock Runtime (restJson1: Converse, InvokeModel and their event-stream variants) and STS (query protocol,
XML: GetCallerIdentity, GetSessionToken, AssumeRole), SigV4-verified."""

from __future__ import annotations

import base64
import hmac
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from . import eventstream
from .accounts import Account, SessionCredentials, bedrock_base_model_id, secret_hint
from .anthropic_api import (
    check_thinking,
    claude_reply,
    message,
    messages_input_tokens,
    stream_events,
)
from .caching import Segment
from .embeddings import EMBEDDING_MODELS, embed, int8, is_embedding_model
from .limits import converse_max_tokens_error
from .sigv4 import SignatureError, parse_authorization, verify_signature
from .thinking import PLATFORM_BETAS, parse_betas, thinking_text
from .wire import (
    Answer,
    InvalidRequest,
    Prompt,
    SimRequest,
    SimResponse,
    SimulatorState,
    Tool,
    answer,
    cache_log,
    conversation_prompt,
    count_tokens,
    drop_if_disconnected,
    json_response,
    logger,
    paced,
    streamed_pieces,
    text_of,
)

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
STS_VERSION = "2011-06-15"
SESSION_DURATION_DEFAULT = 43200
SESSION_DURATION_RANGE = (900, 129600)
ANTHROPIC_BEDROCK_VERSION = "bedrock-2023-05-31"

_BEDROCK_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<action>converse|converse-stream|invoke|invoke-with-response-stream|count-tokens)$"
)
_BEDROCK_OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}
_MUST_START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)


class Failure(Enum):
    """Why AWS refuses a call; Bedrock and STS word and number the same failure differently."""

    MISSING_AUTH = "missing_auth"
    INVALID_TOKEN = "invalid_token"
    BAD_SIGNATURE = "bad_signature"
    BAD_API_KEY = "bad_api_key"
    EXPIRED = "expired"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"


# failure -> (HTTP status, error code, message)
_BEDROCK_ERRORS: dict[Failure, tuple[int, str, str]] = {
    Failure.MISSING_AUTH: (403, "MissingAuthenticationTokenException", "Missing Authentication Token"),
    Failure.INVALID_TOKEN: (
        403,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    ),
    Failure.BAD_SIGNATURE: (403, "InvalidSignatureException", ""),
    # Real Bedrock answers an unknown API key with a bare 403 AccessDeniedException.
    Failure.BAD_API_KEY: (
        403,
        "AccessDeniedException",
        "Authentication failed: Please make sure your API Key is valid.",
    ),
    Failure.EXPIRED: (403, "ExpiredTokenException", "The security token included in the request is expired"),
    Failure.THROTTLED: (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    Failure.SERVER_ERROR: (
        500,
        "InternalServerException",
        "The system encountered an unexpected error during processing. Try your request again.",
    ),
    Failure.UNAVAILABLE: (503, "ServiceUnavailableException", "Bedrock is unable to process your request."),
}
_STS_ERRORS: dict[Failure, tuple[int, str, str]] = {
    Failure.MISSING_AUTH: (403, "MissingAuthenticationToken", "Request is missing Authentication Token"),
    Failure.INVALID_TOKEN: (403, "InvalidClientTokenId", "The security token included in the request is invalid."),
    Failure.BAD_SIGNATURE: (403, "SignatureDoesNotMatch", ""),
    Failure.EXPIRED: (400, "ExpiredToken", "The security token included in the request is expired"),
    Failure.THROTTLED: (400, "Throttling", "Rate exceeded"),
    Failure.SERVER_ERROR: (500, "InternalFailure", "An internal error occurred. Try again."),
    Failure.UNAVAILABLE: (503, "ServiceUnavailable", "Service is unavailable. Try again."),
}
_BEHAVIOUR_FAILURES = {
    "expired": Failure.EXPIRED,
    "throttled": Failure.THROTTLED,
    "server_error": Failure.SERVER_ERROR,
    "unavailable": Failure.UNAVAILABLE,
}


class AwsError(Exception):
    """A refusal in the service's own terms (status, error code, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass
class Caller:
    """Who is calling, filled in as authentication learns it, so failed calls are counted and delayed too."""

    principal: str = "unknown"
    account: Account | None = None
    session: SessionCredentials | None = None
    # Credentials that carry a session token (GetSessionToken's or a static ASIA key) may not ask for another.
    temporary: bool = False
    region: str = ""  # the SigV4 scope's region; a Bedrock API key's own region


def _failure(table: dict[Failure, tuple[int, str, str]], failure: Failure, detail: str = "") -> AwsError:
    status, code, message = table[failure]
    return AwsError(status, code, detail or message)


def _authenticate_sigv4(
    request: SimRequest,
    state: SimulatorState,
    caller: Caller,
    service: str,
    errors: dict[Failure, tuple[int, str, str]],
) -> None:
    signed = parse_authorization(request.headers.get("Authorization"))
    if signed is None:
        raise _failure(errors, Failure.MISSING_AUTH)
    caller.principal, caller.region = signed.access_key_id, signed.region
    found = state.accounts.by_access_key(signed.access_key_id)
    if found is None:
        raise _failure(errors, Failure.INVALID_TOKEN)
    if isinstance(found, SessionCredentials):
        caller.session, caller.account = found, found.account
    else:
        caller.account = found
    caller.temporary = bool(found.session_token)
    sent_token = request.headers.get("X-Amz-Security-Token", "")
    if not hmac.compare_digest(sent_token.encode(), found.session_token.encode()):
        raise _failure(errors, Failure.INVALID_TOKEN)
    if (caller.session and caller.session.expired) or (not caller.session and caller.account.behaviour == "expired"):
        raise _failure(errors, Failure.EXPIRED)
    try:
        verify_signature(
            signed=signed,
            secret_access_key=found.secret_access_key,
            expected_service=service,
            method=request.method,
            raw_path=request.path,
            raw_query=request.query,
            headers=request.headers,
            body=request.body,
        )
    except SignatureError as error:
        raise _failure(errors, Failure.BAD_SIGNATURE, error.reason) from None


def _authenticate_bearer(request: SimRequest, state: SimulatorState, caller: Caller, token: str) -> None:
    account = state.accounts.by_api_key("bedrock_api_key", token)
    if account is None:
        raise _failure(_BEDROCK_ERRORS, Failure.BAD_API_KEY)
    caller.principal, caller.account, caller.region = account.name, account, account.region
    if account.behaviour == "expired":
        raise _failure(_BEDROCK_ERRORS, Failure.EXPIRED, "Authentication failed: Bearer Token has expired.")


def _apply_behaviour(account: Account, errors: dict[Failure, tuple[int, str, str]]) -> None:
    drop_if_disconnected(account)
    failure = _BEHAVIOUR_FAILURES.get(account.behaviour)
    if failure is not None:
        raise _failure(errors, failure)


def _log_refusal(operation: str, caller: Caller, error: AwsError) -> None:
    if caller.account is not None:
        who = f"account {caller.account.name}"
    else:
        who = "unknown credentials" if caller.principal == "unknown" else f"unknown key {secret_hint(caller.principal)}"
    logger.info("%s refused: %s %s (%s)", operation, error.status, error.code, who)


def _finish(state: SimulatorState, operation: str, caller: Caller, response: SimResponse, **details) -> SimResponse:
    if caller.account is not None:
        state.simulate_latency(caller.account)
    state.stats.record(operation=operation, principal=caller.principal, account=caller.account, status=response.status,
                       region=caller.region, **details, **response.log)
    return response


# --- Bedrock Runtime ------------------------------------------------------------------------------------------------


def handle_bedrock(request: SimRequest, state: SimulatorState) -> SimResponse:
    match = _BEDROCK_PATH.match(request.path)
    if request.method != "POST" or match is None:
        return _bedrock_error(AwsError(404, "UnknownOperationException", "Unknown operation"))
    operation = f"bedrock.{_BEDROCK_OPERATIONS[match['action']]}"
    model_id = unquote(match["model"])
    caller = Caller()
    try:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            _authenticate_bearer(request, state, caller, authorization.removeprefix("Bearer ").strip())
        else:
            _authenticate_sigv4(request, state, caller, "bedrock", _BEDROCK_ERRORS)
        assert caller.account is not None
        _apply_behaviour(caller.account, _BEDROCK_ERRORS)
        base_model = bedrock_base_model_id(model_id)
        if not state.accounts.knows_model(caller.account.provider, base_model):
            raise AwsError(400, "ValidationException", "The provided model identifier is invalid.")
        if not caller.account.may_use(base_model):
            raise AwsError(
                403, "AccessDeniedException", "You don't have access to the model with the specified model ID."
            )
        action = match["action"]
        if action == "count-tokens":
            response = _count_tokens(request, state, base_model)
        elif action.startswith("converse"):
            response = _converse(request, state, caller.account, model_id, stream=action == "converse-stream")
        elif is_embedding_model(base_model) and action == "invoke":
            response = _invoke_embedding(request, base_model)
        else:
            response = _invoke_model(request, state, caller.account, base_model, stream=action != "invoke")
    except InvalidRequest as refusal:
        response = _bedrock_error(AwsError(400, "ValidationException", refusal.message))
    except AwsError as error:
        _log_refusal(operation, caller, error)
        response = _bedrock_error(error, bearer=request.headers.get("Authorization", "").startswith("Bearer "))
    return _finish(state, operation, caller, response, endpoint=request.path, model=model_id)


def _bedrock_error(error: AwsError, *, bearer: bool = False) -> SimResponse:
    # Bearer-key refusals come back with a capitalised "Message" key; botocore reads either.
    return json_response(
        error.status,
        {"Message" if bearer and error.status == 403 else "message": error.message},
        {
            "x-amzn-ErrorType": f"{error.code}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-RequestId": str(uuid.uuid4()),
        },
    )


def _converse_messages(body: Any) -> list:
    messages = body.get("messages") if isinstance(body, dict) else None
    if (
        not isinstance(messages, list)
        or not messages
        or not isinstance(messages[0], dict)
        or messages[0].get("role") != "user"
    ):
        raise AwsError(400, "ValidationException", _MUST_START_WITH_USER)
    return messages


def _converse(request: SimRequest, state: SimulatorState, account: Account, model_id: str, *,
              stream: bool) -> SimResponse:
    body = request.json()
    messages = _converse_messages(body)
    base_model = bedrock_base_model_id(model_id)
    max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
    if isinstance(max_tokens, int) and (refusal := converse_max_tokens_error(max_tokens, base_model)):
        raise AwsError(400, "ValidationException", refusal)
    thinking = _converse_thinking(body, state, messages, max_tokens)
    prompt = _converse_prompt(body, messages)
    reply = answer(provider="bedrock", model=model_id, prompt=prompt, max_tokens=max_tokens)
    segments = _converse_cache_segments(body, messages)
    if any(segment.ttl for segment in segments):
        reply = replace(reply, cache=state.prompt_cache.use_breakpoints(account=account.name, model=base_model,
                                                                        segments=segments))
    if thinking:
        thought = thinking_text(base_model, len(prompt.text.split()))
        reply = replace(reply, thinking=thought, signature=state.signer.sign(thought),
                        reasoning_tokens=count_tokens(thought), output_tokens=reply.output_tokens + count_tokens(thought))
    usage = _converse_usage(reply, cache_used=any(segment.ttl for segment in segments))
    metrics = {"latencyMs": max(1, account.latency_ms)}
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if stream:
        response = _event_stream(_converse_events(account, reply, usage, metrics), headers, account=account)
    else:
        if reply.tool_call is None:
            content = {"text": reply.text}
        else:
            call = reply.tool_call
            content = {"toolUse": {"toolUseId": _tool_use_id(), "name": call.name, "input": call.arguments}}
        reasoning = [{"reasoningContent": {"reasoningText": {"text": reply.thinking, "signature": reply.signature}}}] \
            if reply.thinking else []
        response = json_response(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [*reasoning, content]}},
                "stopReason": reply.stop,
                "usage": usage,
                "metrics": metrics,
            },
            headers,
        )
    response.log.update(cache_log(reply))
    return response


def _converse_thinking(body: dict, state: SimulatorState, messages: list, max_tokens: Any) -> bool:
    """Claude's thinking through Converse: `additionalModelRequestFields.thinking`, checked as Claude checks it
    (the reasoningContent blocks handed back must carry their signatures)."""
    extra = body.get("additionalModelRequestFields")
    claude_view = {"thinking": extra.get("thinking") if isinstance(extra, dict) else None, "messages": [
        {"role": message_.get("role"), "content": [
            {"type": "thinking", "thinking": block["reasoningContent"].get("reasoningText", {}).get("text", ""),
             "signature": block["reasoningContent"].get("reasoningText", {}).get("signature")}
            if isinstance(block, dict) and isinstance(block.get("reasoningContent"), dict)
            else {"type": "tool_use"} if isinstance(block, dict) and "toolUse" in block
            else {"type": "text"}
            for block in (message_.get("content") if isinstance(message_.get("content"), list) else [])]}
        for message_ in messages if isinstance(message_, dict)]}
    if claude_view["thinking"] is None:
        claude_view.pop("thinking")
    return check_thinking(claude_view, state, max_tokens=max_tokens if isinstance(max_tokens, int) else None)


def _cache_point_ttl(block: Any) -> str | None:
    point = block.get("cachePoint") if isinstance(block, dict) else None
    return str(point.get("ttl") or "5m") if isinstance(point, dict) else None


def _converse_cache_segments(body: dict, messages: list) -> list[Segment]:
    """The prompt in cache order (tools, system, messages); a `cachePoint` block ends a cached prefix."""
    config = body.get("toolConfig") if isinstance(body.get("toolConfig"), dict) else {}
    system = body.get("system") if isinstance(body.get("system"), list) else []
    blocks: list[tuple[str, Any]] = [("tool", tool) for tool in config.get("tools") or []]
    blocks += [("system", block) for block in system]
    blocks += [(str(message_.get("role")), block) for message_ in messages
               for block in (message_.get("content") if isinstance(message_.get("content"), list) else [])]
    return [Segment(json.dumps([role, block], sort_keys=True),
                    len(text_of([block]).split()) if isinstance(block, dict) and "toolSpec" not in block else 0,
                    _cache_point_ttl(block)) for role, block in blocks]


def _converse_usage(reply: Answer, *, cache_used: bool) -> dict[str, Any]:
    cache = reply.cache
    uncached = max(0, reply.input_tokens - cache.read - cache.write)
    usage: dict[str, Any] = {
        "inputTokens": uncached,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens + reply.output_tokens,
    }
    if cache_used:
        usage["cacheReadInputTokens"] = cache.read
        usage["cacheWriteInputTokens"] = cache.write
        details = [{"ttl": ttl, "inputTokens": tokens} for ttl, tokens in (("5m", cache.write_5m),
                                                                           ("1h", cache.write_1h)) if tokens]
        if details:
            usage["cacheDetails"] = details
    return usage


def _tool_use_id() -> str:
    return f"tooluse_{uuid.uuid4().hex[:22]}"


def _converse_prompt(body: dict, messages: list) -> Prompt:
    config = body.get("toolConfig") if isinstance(body.get("toolConfig"), dict) else {}
    tools = tuple(
        Tool(
            name=str(spec.get("name", "")),
            description=str(spec.get("description", "")),
            schema=(spec.get("inputSchema") or {}).get("json") or {},
        )
        for spec in (tool.get("toolSpec") for tool in config.get("tools") or [] if isinstance(tool, dict))
        if isinstance(spec, dict)
    )
    choice = config.get("toolChoice") if isinstance(config.get("toolChoice"), dict) else {}
    forced = "" if "any" in choice else str(choice["tool"].get("name", "")) if "tool" in choice else None
    system = body.get("system") if isinstance(body.get("system"), list) else []
    return conversation_prompt(messages, system=text_of(system), tools=tools, forced_tool=forced)


def _event_stream(frames: Iterator[bytes], headers: dict[str, str], *, account: Account) -> SimResponse:
    return SimResponse(status=200, headers={"Content-Type": eventstream.CONTENT_TYPE, **headers},
                       stream=paced(account, frames))


_STREAM_ERROR = ("modelStreamErrorException", "The model stream failed. Try your request again.")


def _converse_events(account: Account, reply: Answer, usage: dict, metrics: dict) -> Iterator[bytes]:
    """ConverseStream: messageStart, [contentBlockStart for a tool use], contentBlockDelta…, contentBlockStop,
    messageStop, metadata; "mid_stream_failure" accounts get an exception frame after a few deltas."""
    yield eventstream.event("messageStart", {"role": "assistant"})
    index = 0
    if reply.thinking:
        for piece in re.findall(r"\s*\S+", reply.thinking):
            yield eventstream.event("contentBlockDelta", {"delta": {"reasoningContent": {"text": piece}},
                                                          "contentBlockIndex": 0})
        yield eventstream.event("contentBlockDelta", {"delta": {"reasoningContent": {"signature": reply.signature}},
                                                      "contentBlockIndex": 0})
        yield eventstream.event("contentBlockStop", {"contentBlockIndex": 0})
        index = 1
    if reply.tool_call is not None:
        start = {"toolUse": {"toolUseId": _tool_use_id(), "name": reply.tool_call.name}}
        yield eventstream.event("contentBlockStart", {"start": start, "contentBlockIndex": index})
    pieces, fails = streamed_pieces(account, reply)
    for piece in pieces:
        delta = {"text": piece} if reply.tool_call is None else {"toolUse": {"input": piece}}
        yield eventstream.event("contentBlockDelta", {"delta": delta, "contentBlockIndex": index})
    if fails:
        yield eventstream.exception(*_STREAM_ERROR)
        return
    yield eventstream.event("contentBlockStop", {"contentBlockIndex": index})
    yield eventstream.event("messageStop", {"stopReason": reply.stop})
    yield eventstream.event("metadata", {"usage": usage, "metrics": metrics})


def _invoke_model(request: SimRequest, state: SimulatorState, account: Account, base_model: str, *,
                  stream: bool) -> SimResponse:
    body = _anthropic_body(request.json(), base_model)
    # Bedrock reports the Anthropic model name, without the "anthropic." vendor prefix and "-v1:0" version suffix.
    model_name = re.sub(r"-v\d+(:\d+)?$", "", base_model.removeprefix("anthropic."))
    reply = claude_reply(body, state=state, account=account, model=model_name, provider="bedrock")
    message_id = f"msg_bdrk_{uuid.uuid4().hex[:24]}"
    latency = max(1, account.latency_ms)
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if stream:
        metrics = {
            "inputTokenCount": reply.input_tokens,
            "outputTokenCount": reply.output_tokens,
            "invocationLatency": latency,
            "firstByteLatency": latency,
        }
        events = stream_events(account, reply, model_name, message_id, {"amazon-bedrock-invocationMetrics": metrics})
        headers["X-Amzn-Bedrock-Content-Type"] = "application/json"
        response = _event_stream(_invoke_chunks(events), headers, account=account)
    else:
        response = json_response(
            200,
            message(reply, model_name, message_id),
            headers
            | {
                "X-Amzn-Bedrock-Input-Token-Count": str(reply.input_tokens),
                "X-Amzn-Bedrock-Output-Token-Count": str(reply.output_tokens),
                "X-Amzn-Bedrock-Invocation-Latency": str(latency),
            },
        )
    response.log.update(cache_log(reply) | ({"betas": body["anthropic_beta"]} if body.get("anthropic_beta") else {}))
    return response


def _anthropic_body(body: Any, base_model: str, *, for_count: bool = False) -> dict:
    """An InvokeModel body for Claude after Bedrock's checks (version, required keys, `anthropic_beta` flags)."""
    if not base_model.startswith("anthropic.") or not isinstance(body, dict):
        raise AwsError(400, "ValidationException", "Malformed input request, please reformat your input and try again.")
    for required in ("anthropic_version", "messages") if for_count else ("anthropic_version", "max_tokens", "messages"):
        if required not in body:
            raise AwsError(
                400,
                "ValidationException",
                f"Malformed input request: #: required key [{required}] not found, "
                "please reformat your input and try again.",
            )
    # boto3 callers send "bedrock-2023-05-31"; the anthropic SDK's AnthropicBedrock sends its dated API version.
    if not re.fullmatch(rf"{ANTHROPIC_BEDROCK_VERSION}|\d{{4}}-\d{{2}}-\d{{2}}", str(body["anthropic_version"])):
        raise AwsError(400, "ValidationException", "Invalid API version")
    betas = parse_betas(body.get("anthropic_beta"))
    unknown = [beta for beta in betas if beta not in PLATFORM_BETAS]
    if "anthropic_beta" in body and (unknown or not isinstance(body["anthropic_beta"], list)):
        raise AwsError(400, "ValidationException", f"invalid beta flag: {', '.join(unknown) or body['anthropic_beta']}")
    return body


def _count_tokens(request: SimRequest, state: SimulatorState, base_model: str) -> SimResponse:
    """CountTokens: `input.invokeModel.body` (an InvokeModel body, base64 in JSON) or `input.converse`."""
    payload = request.json()
    given = payload.get("input") if isinstance(payload, dict) else None
    if not isinstance(given, dict) or len(given) != 1 or not ({"invokeModel", "converse"} & set(given)):
        raise AwsError(400, "ValidationException", "1 validation error detected: Value at 'input' failed to satisfy "
                       "constraint: Member must have exactly one of invokeModel or converse")
    if not base_model.startswith("anthropic."):
        raise AwsError(400, "ValidationException", "The provided model doesn't support counting tokens.")
    if "converse" in given:
        converse = given["converse"] if isinstance(given["converse"], dict) else {}
        tokens = max(1, count_tokens(_converse_prompt(converse, _converse_messages(converse)).text))
    else:
        try:
            body = json.loads(base64.b64decode(str((given["invokeModel"] or {}).get("body", "")), validate=True))
        except ValueError:
            raise AwsError(400, "ValidationException", "The invokeModel body is not base64-encoded JSON.") from None
        body = _anthropic_body(body, base_model, for_count=True)
        try:
            check_thinking(body, state, max_tokens=None)
        except InvalidRequest as refusal:
            raise AwsError(400, "ValidationException", refusal.message) from None
        tokens = messages_input_tokens(body)
    return json_response(200, {"inputTokens": tokens}, {"x-amzn-RequestId": str(uuid.uuid4())})


def _invoke_embedding(request: SimRequest, model: str) -> SimResponse:
    """InvokeModel on Titan Text Embeddings v2 or Cohere Embed (v3: `texts`; v4: also `output_dimension`)."""
    body = request.json()
    if not isinstance(body, dict):
        raise AwsError(400, "ValidationException", "Malformed input request, please reformat your input and try again.")
    spec = EMBEDDING_MODELS[model]
    headers = {"x-amzn-RequestId": str(uuid.uuid4())}
    if model.startswith("amazon.titan"):
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise AwsError(400, "ValidationException", "Malformed input request: #: required key [inputText] not "
                           "found, please reformat your input and try again.")
        size = body.get("dimensions", spec.default_dimensions)
        if size not in spec.dimensions:
            raise AwsError(400, "ValidationException", f"Malformed input request: #/dimensions: {size} is not a "
                           "valid enum value, please reformat your input and try again.")
        vector = embed(model, text, size)
        tokens = max(1, count_tokens(text))
        types = body.get("embeddingTypes") or ["float"]
        by_type = {kind: vector if kind == "float" else [int(v > 0) for v in vector] for kind in types}
        return json_response(200, {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_type},
                             headers | {"X-Amzn-Bedrock-Input-Token-Count": str(tokens)})
    texts = body.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) for text in texts):
        raise AwsError(400, "ValidationException", "Malformed input request: #: required key [texts] not found, "
                       "please reformat your input and try again.")
    if len(texts) > spec.max_inputs:
        raise AwsError(400, "ValidationException", f"Malformed input request: #/texts: expected maximum item count: "
                       f"{spec.max_inputs}, found: {len(texts)}, please reformat your input and try again.")
    if "input_type" not in body:
        raise AwsError(400, "ValidationException", "Malformed input request: #: required key [input_type] not found, "
                       "please reformat your input and try again.")
    size = body.get("output_dimension", spec.default_dimensions)
    if size not in spec.dimensions:
        raise AwsError(400, "ValidationException", f"Malformed input request: #/output_dimension: {size} is not a "
                       "valid enum value, please reformat your input and try again.")
    vectors = [embed(model, text, size) for text in texts]
    tokens = sum(max(1, count_tokens(text)) for text in texts)
    types = body.get("embedding_types")
    payload: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": texts}
    if types or model == "cohere.embed-v4:0":
        payload |= {"response_type": "embeddings_by_type",
                    "embeddings": {kind: vectors if kind == "float" else [int8(v) for v in vectors]
                                   for kind in (types or ["float"])}}
    else:
        payload |= {"response_type": "embeddings_floats", "embeddings": vectors}
    return json_response(200, payload, headers | {"X-Amzn-Bedrock-Input-Token-Count": str(tokens)})


def _invoke_chunks(events: Iterator[dict]) -> Iterator[bytes]:
    """InvokeModelWithResponseStream: each Anthropic event as a `chunk` frame of base64 JSON; the Anthropic stream's
    error event becomes Bedrock's exception frame."""
    for event in events:
        if event["type"] == "error":
            yield eventstream.exception(*_STREAM_ERROR)
            return
        encoded = base64.b64encode(json.dumps(event, separators=(",", ":")).encode()).decode()
        yield eventstream.event("chunk", {"bytes": encoded})


# --- STS ------------------------------------------------------------------------------------------------------------


def handle_sts(request: SimRequest, state: SimulatorState) -> SimResponse:
    form = {key: values[0] for key, values in parse_qs(request.body.decode("utf-8", "replace")).items()}
    action = form.get("Action", "")
    operation = f"sts.{action or 'Unknown'}"
    caller = Caller()
    try:
        _authenticate_sigv4(request, state, caller, "sts", _STS_ERRORS)
        assert caller.account is not None
        _apply_behaviour(caller.account, _STS_ERRORS)
        if form.get("Version") != STS_VERSION or action not in ("GetCallerIdentity", "GetSessionToken", "AssumeRole"):
            raise AwsError(400, "InvalidAction", f"Could not find operation {action} for version {form.get('Version')}")
        if action == "GetCallerIdentity":
            response = _sts_response(action, _caller_identity_xml(caller.account, caller.session))
        elif action == "AssumeRole":
            response = _sts_response(action, _assume_role_xml(state, caller, form))
        else:
            response = _sts_response(action, _get_session_token_xml(state, caller, form.get("DurationSeconds")))
    except AwsError as error:
        _log_refusal(operation, caller, error)
        response = _sts_error(error)
    return _finish(state, operation, caller, response)


def _caller_identity_xml(account: Account, session: SessionCredentials | None = None) -> str:
    if session is not None and session.role_arn:
        user_id = f"{_role_id(session.role_arn)}:{session.session_name}"
        return (f"<Arn>{escape(session.assumed_role_arn)}</Arn><UserId>{escape(user_id)}</UserId>"
                f"<Account>{account.account_id}</Account>")
    return f"<Arn>{escape(account.arn)}</Arn><UserId>{account.user_id}</UserId><Account>{account.account_id}</Account>"


def _role_id(role_arn: str) -> str:
    """A stable AROA… unique id for a role, as AWS reports it."""
    return "AROA" + uuid.uuid5(uuid.NAMESPACE_URL, role_arn).hex[:17].upper()


_SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}", re.ASCII)


def _assume_role_xml(state: SimulatorState, caller: Caller, form: dict[str, str]) -> str:
    """sts:AssumeRole: only the role's trusted account, with the role's external ID, gets a session of the role's
    account (ASIA credentials that expire after DurationSeconds and call Bedrock as that account)."""
    account = caller.account
    assert account is not None
    role_arn, session_name = form.get("RoleArn", ""), form.get("RoleSessionName", "")
    if not _SESSION_NAME.fullmatch(session_name):
        raise AwsError(400, "ValidationError", "1 validation error detected: Value at 'roleSessionName' failed to "
                       "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
    caller_arn = caller.session.assumed_role_arn if caller.session and caller.session.role_arn else account.arn
    refused = AwsError(403, "AccessDenied",
                       f"User: {caller_arn} is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
    found = state.accounts.by_role_arn(role_arn)
    if found is None:  # AWS answers a role that does not exist as it answers one that does not trust the caller
        raise refused
    role_account, role = found
    if role.trusted_account != account.account_id:
        raise refused
    if role.external_id and not hmac.compare_digest(form.get("ExternalId", "").encode(), role.external_id.encode()):
        raise refused
    duration = form.get("DurationSeconds", "")
    seconds = int(duration) if duration.isdigit() else 3600
    if not 900 <= seconds <= role.max_session_duration:
        raise AwsError(400, "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set "
                       "for this role." if seconds > role.max_session_duration else
                       f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
                       "constraint: Member must have value greater than or equal to 900")
    session = state.accounts.issue_session(role_account, seconds, role_arn=role_arn, session_name=session_name)
    logger.info("sts.AssumeRole issued %s for role %s of account %s", secret_hint(session.access_key_id),
                role.name, role_account.name)
    return (
        _credentials_xml(session)
        + f"<AssumedRoleUser><AssumedRoleId>{_role_id(role_arn)}:{escape(session_name)}</AssumedRoleId>"
        f"<Arn>{escape(session.assumed_role_arn)}</Arn></AssumedRoleUser>"
    )


def _get_session_token_xml(state: SimulatorState, caller: Caller, duration: str | None) -> str:
    account = caller.account
    assert account is not None
    if caller.temporary:
        raise AwsError(403, "AccessDenied", "Cannot call GetSessionToken with session credentials")
    if not account.sts_get_session_token:
        raise AwsError(
            403,
            "AccessDenied",
            f"User: {account.arn} is not authorized to perform: sts:GetSessionToken because no identity-based "
            "policy allows the sts:GetSessionToken action",
        )
    seconds = int(duration) if duration and duration.isdigit() else SESSION_DURATION_DEFAULT
    low, high = SESSION_DURATION_RANGE
    if not low <= seconds <= high:
        bound = "greater than or equal to 900" if seconds < low else "less than or equal to 129600"
        raise AwsError(
            400,
            "ValidationError",
            f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: "
            f"Member must have value {bound}",
        )
    session = state.accounts.issue_session(account, seconds)
    logger.info("sts.GetSessionToken issued %s for account %s", secret_hint(session.access_key_id), account.name)
    return _credentials_xml(session)


def _credentials_xml(session) -> str:
    """The <Credentials> element STS answers with (GetSessionToken, AssumeRole)."""
    expiration = datetime.fromtimestamp(session.expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        "<Credentials>"
        f"<AccessKeyId>{session.access_key_id}</AccessKeyId>"
        f"<SecretAccessKey>{escape(session.secret_access_key)}</SecretAccessKey>"
        f"<SessionToken>{escape(session.session_token)}</SessionToken>"
        f"<Expiration>{expiration}</Expiration>"
        "</Credentials>"
    )


def _sts_response(action: str, result_xml: str) -> SimResponse:
    xml = (
        f'<{action}Response xmlns="{STS_NAMESPACE}">\n'
        f"  <{action}Result>{result_xml}</{action}Result>\n"
        f"  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>\n"
        f"</{action}Response>\n"
    )
    return SimResponse(200, xml.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": str(uuid.uuid4())})


def _sts_error(error: AwsError) -> SimResponse:
    request_id = str(uuid.uuid4())
    fault = "Receiver" if error.status >= 500 else "Sender"
    xml = (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}">\n'
        f"  <Error><Type>{fault}</Type><Code>{error.code}</Code><Message>{escape(error.message)}</Message></Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n"
        "</ErrorResponse>\n"
    )
    return SimResponse(error.status, xml.encode(), {"Content-Type": "text/xml", "x-amzn-RequestId": request_id})
