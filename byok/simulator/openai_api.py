"""The OpenAI Chat Completions and Models API, shared by OpenAI and the OpenAI-compatible providers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from .accounts import Account, secret_hint
from .wire import (
    Answer,
    Prompt,
    SimRequest,
    SimResponse,
    SimulatorState,
    StreamAborted,
    Tool,
    answer,
    conversation_prompt,
    json_response,
    logger,
    sse,
    sse_response,
    streamed_pieces,
)

# `owned_by` in model listings, where the provider does not name itself by its id.
_OWNERS = {"mistral": "mistralai", "zai": "z-ai"}
_MODEL_CREATED = 1_735_689_600  # 2025-01-01: a fixed "created" keeps model listings deterministic

# behaviour -> (status, type, code, message)
_BEHAVIOUR_ERRORS: dict[str, tuple[int, str, str | None, str]] = {
    "expired": (401, "invalid_request_error", "invalid_api_key", "The API key provided has expired."),
    "throttled": (
        429,
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.",
    ),
    "server_error": (
        500,
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    "unavailable": (503, "server_error", "service_unavailable", "The server is overloaded or not ready yet."),
}


class OpenAIError(Exception):
    def __init__(self, status: int, error_type: str, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_type, self.code, self.message, self.param = status, error_type, code, message, param


def _error_response(error: OpenAIError) -> SimResponse:
    payload = {"error": {"message": error.message, "type": error.error_type, "param": error.param, "code": error.code}}
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if error.status == 429:
        headers["retry-after"] = "1"
    return json_response(error.status, payload, headers)


def handle_openai_compatible(request: SimRequest, state: SimulatorState, provider: str, path: str) -> SimResponse:
    """`path` is what follows `/{provider}/v1`, e.g. `/chat/completions`."""
    if request.method == "POST" and path == "/chat/completions":
        operation = f"{provider}.ChatCompletions"
    elif request.method == "GET" and path == "/models":
        operation = f"{provider}.ListModels"
    elif request.method == "GET" and path.startswith("/models/"):
        operation = f"{provider}.GetModel"
    else:
        return _error_response(
            OpenAIError(404, "invalid_request_error", None, f"Invalid URL ({request.method} {path})")
        )

    account: Account | None = None
    try:
        account = _authenticate(request, state, provider)
        failure = _BEHAVIOUR_ERRORS.get(account.behaviour)
        if failure is not None:
            status, error_type, code, message = failure
            raise OpenAIError(status, error_type, code, message)
        if operation.endswith("ChatCompletions"):
            response = _chat_completion(request, account)
        elif operation.endswith("ListModels"):
            response = json_response(200, {"object": "list", "data": [_model(account, m) for m in account.models]})
        else:
            response = _get_model(account, unquote(path.removeprefix("/models/")))
    except OpenAIError as error:
        logger.info(
            "%s refused: %s %s (%s)",
            operation,
            error.status,
            error.code or error.error_type,
            f"account {account.name}" if account else "unknown key",
        )
        response = _error_response(error)
    if account is not None:
        state.simulate_latency(account)
    state.stats.record(
        operation=operation, principal=account.name if account else "unknown", account=account, status=response.status
    )
    return response


def _authenticate(request: SimRequest, state: SimulatorState, provider: str) -> Account:
    authorization = request.headers.get("Authorization", "")
    api_key = authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    if not api_key:
        raise OpenAIError(
            401,
            "invalid_request_error",
            None,
            "You didn't provide an API key. You need to provide your API key in an Authorization header using "
            "Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    account = state.accounts.by_api_key(provider, api_key)
    if account is None:
        # Like OpenAI, name the key only by a hint.
        raise OpenAIError(
            401, "invalid_request_error", "invalid_api_key", f"Incorrect API key provided: {secret_hint(api_key)}."
        )
    return account


def _chat_completion(request: SimRequest, account: Account) -> SimResponse:
    body = request.json()
    if not isinstance(body, dict):
        raise OpenAIError(400, "invalid_request_error", None, "We could not parse the JSON body of your request.")
    model = body.get("model")
    messages = body.get("messages")
    if not model:
        raise OpenAIError(
            400, "invalid_request_error", "missing_required_parameter", "Missing required parameter: 'model'.", "model"
        )
    if not isinstance(messages, list) or not messages:
        raise OpenAIError(
            400,
            "invalid_request_error",
            "missing_required_parameter",
            "Missing required parameter: 'messages'.",
            "messages",
        )
    if not account.may_use(model):
        # OpenAI does not tell "no such model" from "not for you".
        raise OpenAIError(
            404,
            "invalid_request_error",
            "model_not_found",
            f"The model `{model}` does not exist or you do not have access to it.",
        )
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    reply = answer(provider=account.provider, model=model, prompt=_prompt(body, messages), max_tokens=max_tokens)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:29]}"
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return sse_response(_chunks(account, reply, completion_id, model, include_usage), headers)
    message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None, "annotations": []}
    if reply.tool_call is not None:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": _call_id(),
                "type": "function",
                "function": {"name": reply.tool_call.name, "arguments": reply.tool_call.arguments_json},
            }
        ]
    return json_response(
        200,
        {
            **_completion_head(completion_id, "chat.completion", model),
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": _FINISH[reply.stop]}],
            "usage": _usage(reply),
        },
        headers,
    )


_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _completion_head(completion_id: str, kind: str, model: str) -> dict[str, Any]:
    created = int(time.time())
    return {"id": completion_id, "object": kind, "created": created, "model": model, "system_fingerprint": None}


def _usage(reply: Answer) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _prompt(body: dict[str, Any], messages: list[Any]) -> Prompt:
    tools = tuple(
        Tool(
            name=str(function.get("name", "")),
            description=str(function.get("description", "")),
            schema=function.get("parameters") or {},
        )
        for function in (tool.get("function") for tool in body.get("tools") or [] if isinstance(tool, dict))
        if isinstance(function, dict)
    )
    choice = body.get("tool_choice")
    forced = "" if choice == "required" else None
    if isinstance(choice, dict):
        forced = str((choice.get("function") or {}).get("name", ""))
    return conversation_prompt(messages, tools=() if choice == "none" else tools, forced_tool=forced)


def _chunks(account: Account, reply: Answer, completion_id: str, model: str, include_usage: bool) -> Iterator[bytes]:
    """`data: {chunk}` lines: the role, the deltas, the finish reason, the usage when asked, then `[DONE]`."""
    head = _completion_head(completion_id, "chat.completion.chunk", model) | ({"usage": None} if include_usage else {})

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse({**head, "choices": [choice]})

    pieces, fails = streamed_pieces(account, reply)
    call = reply.tool_call
    if call is None:
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in pieces:
            yield chunk({"content": piece})
    else:
        first = {"index": 0, "id": _call_id(), "type": "function", "function": {"name": call.name, "arguments": ""}}
        yield chunk({"role": "assistant", "content": None, "tool_calls": [first]})
        for piece in pieces:
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    if fails:
        raise StreamAborted
    yield chunk({}, _FINISH[reply.stop])
    if include_usage:
        yield sse({**head, "choices": [], "usage": _usage(reply)})
    yield sse("[DONE]")


def _model(account: Account, model: str) -> dict[str, object]:
    return {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": _OWNERS.get(account.provider, account.provider)}


def _get_model(account: Account, model: str) -> SimResponse:
    if not account.may_use(model):
        raise OpenAIError(404, "invalid_request_error", "model_not_found", f"The model '{model}' does not exist")
    return json_response(200, _model(account, model))
