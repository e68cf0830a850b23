"""The Anthropic Messages API (`/v1/messages`, `/v1/models`) as the `anthropic` SDK speaks it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, unquote

from .accounts import Account, secret_hint
from .caching import Segment
from .limits import anthropic_max_tokens_error, max_output_tokens
from .thinking import ANTHROPIC_BETAS, MIN_BUDGET_TOKENS, parse_betas, thinking_text
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
    elif request.method == "POST" and path == "/v1/messages/count_tokens":
        operation = "anthropic.CountTokens"
    elif request.method == "GET" and (path == "/v1/models" or _MODEL_PATH.match(path)):
        operation = "anthropic.ListModels" if path == "/v1/models" else "anthropic.GetModel"
    else:
        return _error_response(AnthropicError(404, "not_found_error", f"Not found: {request.method} {path}"))

    account: Account | None = None
    body = request.json()
    betas = parse_betas(request.headers.get("anthropic-beta"))
    try:
        account = _authenticate(request, state)
        drop_if_disconnected(account)
        failure = _BEHAVIOUR_ERRORS.get(account.behaviour)
        if failure is not None:
            raise AnthropicError(*failure)
        unknown = [beta for beta in betas if beta not in ANTHROPIC_BETAS]
        if unknown:
            raise AnthropicError(400, "invalid_request_error", beta_refusal(unknown))
        if operation == "anthropic.CreateMessage":
            response = _create_message(body, state, account)
        elif operation == "anthropic.CountTokens":
            response = _count_tokens(body, state, account)
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
        operation=operation, principal=account.name if account else "unknown", account=account, status=response.status,
        endpoint=request.path, model=body.get("model") if isinstance(body, dict) else None, betas=betas,
        **response.log,
    )
    return response


def beta_refusal(unknown: list[str]) -> str:
    """The Messages API's words for beta flags it does not know."""
    values = ", ".join(f"`{beta}`" for beta in unknown)
    return (f"Unexpected value(s) {values} for the `anthropic-beta` header. Please consult our documentation at "
            "docs.claude.com or try again without the header.")


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


def _checked_model(body: Any, state: SimulatorState, account: Account, required: tuple[str, ...]) -> str:
    if not isinstance(body, dict):
        raise AnthropicError(400, "invalid_request_error", "The request body is not valid JSON.")
    for field_name in required:
        if field_name not in body:
            raise AnthropicError(400, "invalid_request_error", f"{field_name}: Field required")
    model = str(body["model"])
    if not state.accounts.knows_model("anthropic", model):
        raise AnthropicError(404, "not_found_error", f"model: {model}")
    if not account.may_use(model):
        raise AnthropicError(
            403, "permission_error", f"Your API key does not have permission to use the model {model}."
        )
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise AnthropicError(400, "invalid_request_error", "messages: at least one message is required")
    return model


def _create_message(body: Any, state: SimulatorState, account: Account) -> SimResponse:
    model = _checked_model(body, state, account, ("model", "max_tokens", "messages"))
    try:
        reply = claude_reply(body, state=state, account=account, model=model, provider="anthropic")
    except InvalidRequest as refusal:
        raise AnthropicError(400, "invalid_request_error", refusal.message) from None
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    headers = {"request-id": f"req_{uuid.uuid4().hex[:24]}"}
    if body.get("stream") is True:
        events = stream_events(account, reply, model, message_id)
        response = sse_response((sse(event, event["type"]) for event in events), headers, account=account)
    else:
        response = json_response(200, message(reply, model, message_id), headers)
    response.log.update(cache_log(reply))
    return response


def _count_tokens(body: Any, state: SimulatorState, account: Account) -> SimResponse:
    _checked_model(body, state, account, ("model", "messages"))
    try:
        check_thinking(body, state, max_tokens=None)
    except InvalidRequest as refusal:
        raise AnthropicError(400, "invalid_request_error", refusal.message) from None
    return json_response(200, {"input_tokens": messages_input_tokens(body)},
                         {"request-id": f"req_{uuid.uuid4().hex[:24]}"})


# --- shared with Bedrock InvokeModel and Vertex rawPredict, which carry the same Messages bodies and events ---------


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


def messages_input_tokens(body: dict[str, Any]) -> int:
    """The input tokens a Messages call with this body reports (what count_tokens answers)."""
    return max(1, count_tokens(messages_prompt(body).text))


def _ttl(block: Any) -> str | None:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return None
    return str(control.get("ttl") or "5m")


def _blocks(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content if isinstance(content, list) \
        else []


def cache_segments(body: dict[str, Any]) -> list[Segment]:
    """The prompt in the order Claude caches it (tools, system, messages), breakpoints where `cache_control` is."""
    segments = [Segment(json.dumps(tool, sort_keys=True), 0, _ttl(tool)) for tool in body.get("tools") or []]
    for block in _blocks(body.get("system")):
        segments.append(Segment(json.dumps(block, sort_keys=True), len(text_of([block]).split()), _ttl(block)))
    for message in body.get("messages") or []:
        if not isinstance(message, dict):
            continue
        for block in _blocks(message.get("content")):
            words = len(text_of([block]).split()) if isinstance(block, dict) else 0
            identity = json.dumps([message.get("role"), block], sort_keys=True)
            segments.append(Segment(identity, words, _ttl(block)))
    return segments


def check_thinking(body: dict[str, Any], state: SimulatorState, *, max_tokens: int | None) -> bool:
    """Whether thinking is on, after Claude's checks of the setting and of the thinking blocks handed back (their
    signatures must verify); InvalidRequest otherwise."""
    config = body.get("thinking")
    if config is not None and not (isinstance(config, dict) and config.get("type") in ("enabled", "disabled",
                                                                                        "adaptive")):
        raise InvalidRequest("thinking: Input tag does not match any of the expected tags: 'adaptive', 'disabled', "
                             "'enabled'")
    enabled = isinstance(config, dict) and config.get("type") in ("enabled", "adaptive")
    if isinstance(config, dict) and config.get("type") == "enabled":
        budget = config.get("budget_tokens")
        if not isinstance(budget, int) or budget < MIN_BUDGET_TOKENS:
            raise InvalidRequest(f"thinking.enabled.budget_tokens: Input should be greater than or equal to "
                                 f"{MIN_BUDGET_TOKENS}")
        if max_tokens is not None and budget >= max_tokens:
            raise InvalidRequest("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
                                 "documentation at https://docs.claude.com/en/docs/build-with-claude/"
                                 "extended-thinking#max-tokens-and-context-window-size")
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    for m_index, message_ in enumerate(messages):
        if not isinstance(message_, dict) or message_.get("role") != "assistant":
            continue
        for b_index, block in enumerate(_blocks(message_.get("content"))):
            if isinstance(block, dict) and block.get("type") == "thinking" and not state.signer.verify(
                    str(block.get("thinking", "")), block.get("signature")):
                raise InvalidRequest(f"messages.{m_index}.content.{b_index}: Invalid `signature` in `thinking` block")
    last_assistant = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], dict)
                           and messages[i].get("role") == "assistant"), None)
    if enabled and last_assistant is not None and last_assistant == len(messages) - 2:
        blocks = _blocks(messages[last_assistant].get("content"))
        kinds = [block.get("type") for block in blocks if isinstance(block, dict)]
        if "tool_use" in kinds and kinds[0] not in ("thinking", "redacted_thinking"):
            raise InvalidRequest(
                f"messages.{last_assistant}.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
                f"`{kinds[0]}`. When `thinking` is enabled, a final `assistant` message must start with a thinking "
                "block (preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include "
                "thinking blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
                "our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
    return enabled


def claude_reply(body: dict[str, Any], *, state: SimulatorState, account: Account, model: str,
                 provider: str) -> Answer:
    """Claude's answer to a Messages body on any platform: max_tokens within the model's limit, thinking checked
    and (when on) thought first and signed, the prompt cache read and written at `cache_control` breakpoints."""
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise InvalidRequest("max_tokens: Input should be a valid integer greater than or equal to 1")
    refusal = anthropic_max_tokens_error(max_tokens, model)
    if refusal:
        raise InvalidRequest(refusal)
    thinking = check_thinking(body, state, max_tokens=max_tokens)
    prompt = messages_prompt(body)
    reply = answer(provider=provider, model=model, prompt=prompt, max_tokens=max_tokens)
    cache = state.prompt_cache.use_breakpoints(account=account.name, model=model, segments=cache_segments(body))
    reply = replace(reply, cache=cache)
    if not thinking:
        return reply
    thought = thinking_text(model, len(prompt.text.split()))
    tokens = count_tokens(thought)
    return replace(reply, thinking=thought, signature=state.signer.sign(thought), reasoning_tokens=tokens,
                   output_tokens=reply.output_tokens + tokens)


def _content_block(reply: Answer) -> dict[str, Any]:
    if reply.tool_call is None:
        return {"type": "text", "text": reply.text}
    return {
        "type": "tool_use",
        "id": f"toolu_{uuid.uuid4().hex[:24]}",
        "name": reply.tool_call.name,
        "input": reply.tool_call.arguments,
    }


def usage(reply: Answer) -> dict[str, Any]:
    """A Messages usage object: input tokens are those neither read from nor written to the cache."""
    cache = reply.cache
    return {
        "input_tokens": max(0, reply.input_tokens - cache.read - cache.write),
        "cache_creation_input_tokens": cache.write,
        "cache_read_input_tokens": cache.read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache.write_5m, "ephemeral_1h_input_tokens": cache.write_1h},
        "output_tokens": reply.output_tokens,
    }


def message(reply: Answer, model: str, message_id: str) -> dict[str, Any]:
    """A Messages API response body (a signed thinking block first when the model thought)."""
    thinking = [{"type": "thinking", "thinking": reply.thinking, "signature": reply.signature}] if reply.thinking \
        else []
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [*thinking, _content_block(reply)],
        "stop_reason": reply.stop,
        "stop_sequence": None,
        "usage": usage(reply),
    }


OVERLOADED_EVENT = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


def stream_events(
    account: Account, reply: Answer, model: str, message_id: str, stop_extra: dict[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """The streaming event objects, from message_start to message_stop (which `stop_extra` adds fields to); an
    account with behaviour "mid_stream_failure" gets OVERLOADED_EVENT after a few deltas instead of the end."""
    start = message(reply, model, message_id) | {"content": [], "stop_reason": None}
    start["usage"] = usage(reply) | {"output_tokens": 1}
    yield {"type": "message_start", "message": start}
    index = 0
    if reply.thinking:
        yield {"type": "content_block_start", "index": 0,
               "content_block": {"type": "thinking", "thinking": "", "signature": ""}}
        for piece in re.findall(r"\s*\S+", reply.thinking):
            yield {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": piece}}
        yield {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": reply.signature}}
        yield {"type": "content_block_stop", "index": 0}
        index = 1
    # The block starts empty (text "" / input {}), then grows by text_delta or input_json_delta pieces.
    block = _content_block(reply) | ({"text": ""} if reply.tool_call is None else {"input": {}})
    delta_type, delta_key = ("text_delta", "text") if reply.tool_call is None else ("input_json_delta", "partial_json")
    yield {"type": "content_block_start", "index": index, "content_block": block}
    yield {"type": "ping"}
    pieces, fails = streamed_pieces(account, reply)
    for piece in pieces:
        yield {"type": "content_block_delta", "index": index, "delta": {"type": delta_type, delta_key: piece}}
    if fails:
        yield OVERLOADED_EVENT
        return
    yield {"type": "content_block_stop", "index": index}
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
        "max_tokens": max_output_tokens(model),
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
