"""The Anthropic Messages API (`/v1/messages`, `/v1/models`) as the `anthropic` SDK speaks it."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote

from .accounts import Account, secret_hint
from .wire import (
    Answer,
    Prompt,
    SimRequest,
    SimResponse,
    SimulatorState,
    Tool,
    answer,
    conversation_prompt,
    json_response,
    logger,
    sse,
    sse_response,
    streamed_pieces,
    text_of,
)

MODELS_PAGE_DEFAULT = 20
_MODEL_PATH = re.compile(r"^/v1/models/(?P<model>[^/]+)$")

# behaviour -> (status, error type, message)
_BEHAVIOUR_ERRORS: dict[str, tuple[int, str, str]] = {
    "expired": (401, "authentication_error", "Your API key has expired. Please create a new key in the Console."),
    "throttled": (429, "rate_limit_error", "Number of requests has exceeded your per-minute rate limit."),
    "server_error": (500, "api_error", "Internal server error"),
    # Anthropic signals overload with its own 529 rather than 503.
    "unavailable": (529, "overloaded_error", "Overloaded"),
}


class AnthropicError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.status, self.error_type, self.message = status, error_type, message


def _error_response(error: AnthropicError) -> SimResponse:
    request_id = f"req_{uuid.uuid4().hex[:24]}"
    headers = {"request-id": request_id}
    if error.status == 429:
        headers["retry-after"] = "1"
    payload = {"type": "error", "error": {"type": error.error_type, "message": error.message}, "request_id": request_id}
    return json_response(error.status, payload, headers)


def handle_anthropic(request: SimRequest, state: SimulatorState, path: str) -> SimResponse:
    """`path` is what follows the `/anthropic` prefix, e.g. `/v1/messages`."""
    if request.method == "POST" and path == "/v1/messages":
        operation = "anthropic.CreateMessage"
    elif request.method == "GET" and (path == "/v1/models" or _MODEL_PATH.match(path)):
        operation = "anthropic.ListModels" if path == "/v1/models" else "anthropic.GetModel"
    else:
        return _error_response(AnthropicError(404, "not_found_error", f"Not found: {request.method} {path}"))

    account: Account | None = None
    try:
        account = _authenticate(request, state)
        failure = _BEHAVIOUR_ERRORS.get(account.behaviour)
        if failure is not None:
            raise AnthropicError(*failure)
        if operation == "anthropic.CreateMessage":
            response = _create_message(request, state, account)
        elif operation == "anthropic.ListModels":
            response = _list_models(request, account)
        else:
            response = _get_model(account, unquote(_MODEL_PATH.match(path)["model"]))
    except AnthropicError as error:
        logger.info(
            "%s refused: %s %s (%s)",
            operation,
            error.status,
            error.error_type,
            f"account {account.name}" if account else "unknown key",
        )
        response = _error_response(error)
    if account is not None:
        state.simulate_latency(account)
    state.stats.record(
        operation=operation, principal=account.name if account else "unknown", account=account, status=response.status
    )
    return response


def _authenticate(request: SimRequest, state: SimulatorState) -> Account:
    # Older SDKs send x-api-key; the installed one sends the key as a bearer token. Accept both, like the API.
    authorization = request.headers.get("Authorization", "")
    api_key = request.headers.get("x-api-key")
    if not api_key and authorization.startswith("Bearer "):
        api_key = authorization.removeprefix("Bearer ").strip()
    if not api_key:
        raise AnthropicError(401, "authentication_error", "x-api-key header is required")
    account = state.accounts.by_api_key("anthropic", api_key)
    if account is None:
        logger.debug("anthropic: unknown api key %s", secret_hint(api_key))
        raise AnthropicError(401, "authentication_error", "invalid x-api-key")
    if not request.headers.get("anthropic-version"):
        raise AnthropicError(400, "invalid_request_error", "anthropic-version: header is required")
    return account


def _create_message(request: SimRequest, state: SimulatorState, account: Account) -> SimResponse:
    body = request.json()
    if not isinstance(body, dict):
        raise AnthropicError(400, "invalid_request_error", "The request body is not valid JSON.")
    for required in ("model", "max_tokens", "messages"):
        if required not in body:
            raise AnthropicError(400, "invalid_request_error", f"{required}: Field required")
    model = str(body["model"])
    if not state.accounts.knows_model("anthropic", model):
        raise AnthropicError(404, "not_found_error", f"model: {model}")
    if not account.may_use(model):
        raise AnthropicError(
            403, "permission_error", f"Your API key does not have permission to use the model {model}."
        )
    messages = body["messages"] if isinstance(body["messages"], list) else []
    if not messages:
        raise AnthropicError(400, "invalid_request_error", "messages: at least one message is required")
    reply = answer(provider="anthropic", model=model, prompt=messages_prompt(body), max_tokens=int(body["max_tokens"]))
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
    if body.get("stream") is True:
        events = stream_events(account, reply, model, message_id)
        return sse_response((sse(event, event["type"]) for event in events), headers)
    return json_response(200, message(reply, model, message_id), headers)


# --- shared with Bedrock InvokeModel, which carries the same Messages bodies and events ---------------------------


def messages_prompt(body: dict[str, Any]) -> Prompt:
    """The Prompt of a Messages API body (system, messages, tools, tool_choice)."""
    tools = tuple(
        Tool(
            name=str(tool["name"]), description=str(tool.get("description", "")), schema=tool.get("input_schema") or {}
        )
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and "name" in tool
    )
    choice = body.get("tool_choice") if isinstance(body.get("tool_choice"), dict) else {}
    forced = {"any": "", "tool": str(choice.get("name", ""))}.get(choice.get("type"))
    messages = body["messages"] if isinstance(body.get("messages"), list) else []
    return conversation_prompt(
        messages,
        system=text_of(body.get("system")),
        tools=() if choice.get("type") == "none" else tools,
        forced_tool=forced,
    )


def _content_block(reply: Answer) -> dict[str, Any]:
    if reply.tool_call is None:
        return {"type": "text", "text": reply.text}
    return {
        "type": "tool_use",
        "id": f"toolu_{uuid.uuid4().hex[:24]}",
        "name": reply.tool_call.name,
        "input": reply.tool_call.arguments,
    }


def message(reply: Answer, model: str, message_id: str) -> dict[str, Any]:
    """A Messages API response body."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [_content_block(reply)],
        "stop_reason": reply.stop,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


OVERLOADED_EVENT = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def stream_events(
    account: Account, reply: Answer, model: str, message_id: str, stop_extra: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """The streaming event objects, from message_start to message_stop (which `stop_extra` adds fields to); an
    account with behaviour "mid_stream_failure" gets OVERLOADED_EVENT after a few deltas instead of the end."""
    start = message(reply, model, message_id) | {"content": [], "stop_reason": None}
    start["usage"] = {"input_tokens": reply.input_tokens, "output_tokens": 1}
    yield {"type": "message_start", "message": start}
    # The block starts empty (text "" / input {}), then grows by text_delta or input_json_delta pieces.
    block = _content_block(reply) | ({"text": ""} if reply.tool_call is None else {"input": {}})
    delta_type, delta_key = ("text_delta", "text") if reply.tool_call is None else ("input_json_delta", "partial_json")
    yield {"type": "content_block_start", "index": 0, "content_block": block}
    yield {"type": "ping"}
    pieces, fails = streamed_pieces(account, reply)
    for piece in pieces:
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": delta_type, delta_key: piece}}
    if fails:
        yield OVERLOADED_EVENT
        return
    yield {"type": "content_block_stop", "index": 0}
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": reply.stop, "stop_sequence": None},
        "usage": {"output_tokens": reply.output_tokens},
    }
    yield {"type": "message_stop", **(stop_extra or {})}


def _model_info(model: str) -> dict[str, object]:
    # "claude-sonnet-4-5-20250929" -> "Claude Sonnet 4.5", released 2025-09-29
    match = re.match(r"^claude-(?P<line>[a-z]+)-(?P<major>\d+)-(?P<minor>\d+)(-(?P<date>\d{8}))?$", model)
    display_name = f"Claude {match['line'].title()} {match['major']}.{match['minor']}" if match else model
    date = (match and match["date"]) or "20260101"  # undated aliases sort as the newest
    created_at = f"{date[:4]}-{date[4:6]}-{date[6:]}T00:00:00Z"
    return {
        "type": "model",
        "id": model,
        "display_name": display_name,
        "created_at": created_at,
        "lifecycle": "active",
        "max_input_tokens": 200000,
        "max_tokens": 64000,
    }


def _visible_models(account: Account) -> list[str]:
    """The models an account may use, newest first as Anthropic lists them."""
    return sorted(account.models, key=lambda model: (_model_info(model)["created_at"], model), reverse=True)


def _list_models(request: SimRequest, account: Account) -> SimResponse:
    params = {key: values[0] for key, values in parse_qs(request.query).items()}
    models = _visible_models(account)
    limit = int(params.get("limit", MODELS_PAGE_DEFAULT))
    if not 1 <= limit <= 1000:
        raise AnthropicError(400, "invalid_request_error", "limit: Input should be between 1 and 1000")
    if "after_id" in params and params["after_id"] in models:
        start = models.index(params["after_id"]) + 1
        page = models[start : start + limit]
        has_more = start + limit < len(models)
    elif "before_id" in params and params["before_id"] in models:
        end = models.index(params["before_id"])
        page = models[max(0, end - limit) : end]
        has_more = end - limit > 0
    else:
        page, has_more = models[:limit], len(models) > limit
    return json_response(
        200,
        {
            "data": [_model_info(model) for model in page],
            "has_more": has_more,
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        },
    )


def _get_model(account: Account, model: str) -> SimResponse:
    if not account.may_use(model):
        raise AnthropicError(404, "not_found_error", f"model: {model}")
    return json_response(200, _model_info(model))
