"""The OpenAI Chat Completions and Models API, shared by OpenAI and the OpenAI-compatible providers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from .accounts import Account, secret_hint
from .caching import CacheUsage
from .embeddings import EMBEDDING_MODELS, base64_floats, embed, is_embedding_model
from .limits import openai_max_tokens_error
from .openai_errors import OpenAIError, check_model_access, error_response, invalid
from .responses_api import create_response, get_response
from .wire import (
    Answer,
    Prompt,
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


# The OpenAI-compatible providers that serve /v1/embeddings (the others answer 404, as their APIs do).
EMBEDDING_PROVIDERS = frozenset({"openai", "mistral", "zai"})


def handle_openai_compatible(request: SimRequest, state: SimulatorState, provider: str, path: str) -> SimResponse:
    """`path` is what follows `/{provider}/v1`, e.g. `/chat/completions`."""
    if request.method == "POST" and path == "/chat/completions":
        operation = f"{provider}.ChatCompletions"
    elif request.method == "POST" and path == "/embeddings" and provider in EMBEDDING_PROVIDERS:
        operation = f"{provider}.Embeddings"
    elif request.method == "POST" and path == "/responses" and provider == "openai":
        operation = "openai.CreateResponse"
    elif request.method == "GET" and path.startswith("/responses/") and provider == "openai":
        operation = "openai.GetResponse"
    elif request.method == "GET" and path == "/models":
        operation = f"{provider}.ListModels"
    elif request.method == "GET" and path.startswith("/models/"):
        operation = f"{provider}.GetModel"
    else:
        return error_response(
            OpenAIError(404, "invalid_request_error", None, f"Invalid URL ({request.method} {path})")
        )

    account: Account | None = None
    body = request.json()
    try:
        account = _authenticate(request, state, provider)
        drop_if_disconnected(account)
        failure = _BEHAVIOUR_ERRORS.get(account.behaviour)
        if failure is not None:
            status, error_type, code, message = failure
            raise OpenAIError(status, error_type, code, message)
        if operation.endswith("ChatCompletions") and account.behaviour == "broken_body":
            # A 200 whose JSON stops short, as a proxy or load balancer cutting the body may give.
            response = SimResponse(status=200, body=b'{"id":"chatcmpl-broken","object":"chat.comp',
                                   headers={"Content-Type": "application/json"})
        elif operation.endswith("ChatCompletions"):
            response = _chat_completion(body, state, account)
        elif operation.endswith("Embeddings"):
            response = _embeddings(body, account)
        elif operation == "openai.CreateResponse":
            response = create_response(body, state, account)
        elif operation == "openai.GetResponse":
            response = get_response(state, account, unquote(path.removeprefix("/responses/")))
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
        response = error_response(error)
    if account is not None:
        state.simulate_latency(account)
    state.stats.record(
        operation=operation, principal=account.name if account else "unknown", account=account, status=response.status,
        endpoint=request.path, model=body.get("model") if isinstance(body, dict) else None, **response.log,
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


def _chat_completion(body: Any, state: SimulatorState, account: Account) -> SimResponse:
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
    check_model_access(account, model)
    field_name = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    max_tokens = body.get(field_name)
    if isinstance(max_tokens, int) and (refusal := openai_max_tokens_error(field_name, max_tokens, model)):
        raise invalid(refusal, field_name)
    choices, logprobs, top_logprobs = _choice_settings(body)
    prompt = _prompt(body, messages)
    reply = answer(provider=account.provider, model=model, prompt=prompt, max_tokens=max_tokens)
    cached, written = state.prompt_cache.use_automatic(account=account.name, model=model, text=prompt.text) \
        if account.provider == "openai" else (0, 0)
    reply = replace(reply, cache=CacheUsage(read=cached, write_5m=written))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:29]}"
    headers = {"x-request-id": f"req_{uuid.uuid4().hex}"}
    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        response = sse_response(_chunks(account, reply, completion_id, model, include_usage, choices,
                                        top_logprobs if logprobs else None), headers, account=account)
        response.log.update(cache_log(reply))
        return response
    choice_list = []
    for index in range(choices):
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
        choice_logprobs = {"content": _logprobs(reply.pieces(), top_logprobs), "refusal": None} \
            if logprobs and reply.tool_call is None else None
        choice_list.append({"index": index, "message": message, "logprobs": choice_logprobs,
                            "finish_reason": _FINISH[reply.stop]})
    response = json_response(
        200,
        {
            **_completion_head(completion_id, "chat.completion", model),
            "choices": choice_list,
            "usage": _usage(reply, account, choices),
        },
        headers,
    )
    response.log.update(cache_log(reply))
    return response


def _choice_settings(body: dict[str, Any]) -> tuple[int, bool, int]:
    """`n` (1–128), `logprobs` and `top_logprobs` (0–20, only with logprobs), as OpenAI checks them."""
    choices = body.get("n") if body.get("n") is not None else 1
    if not isinstance(choices, int) or isinstance(choices, bool):
        raise invalid(f"Invalid type for 'n': expected an integer, but got {type(choices).__name__} instead.", "n",
                      "invalid_type")
    if choices < 1:
        raise invalid(f"Invalid 'n': integer below minimum value. Expected a value >= 1, but got {choices} instead.",
                      "n", "integer_below_min_value")
    if choices > 128:
        raise invalid(f"Invalid 'n': integer above maximum value. Expected a value <= 128, but got {choices} "
                      "instead.", "n", "integer_above_max_value")
    logprobs = body.get("logprobs") is True
    top = body.get("top_logprobs")
    if top is not None:
        if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 20:
            raise invalid(f"Invalid 'top_logprobs': integer above maximum value. Expected a value <= 20, but got {top} "
                          "instead.", "top_logprobs", "integer_above_max_value")
        if not logprobs:
            raise invalid("Invalid value for 'logprobs': must be true when 'top_logprobs' is set.", "logprobs")
    return choices, logprobs, top or 0


def _logprobs(pieces: list[str], top: int) -> list[dict[str, Any]]:
    """Deterministic log probabilities of each piece, with `top` alternatives (the piece first)."""
    def entry(token: str, logprob: float) -> dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    content = []
    for index, piece in enumerate(pieces):
        logprob = -round(0.01 * (1 + index % 7), 4)
        alternatives = [entry(piece, logprob)] + [entry(f"{piece.strip()}{rank}", round(logprob - rank, 4))
                                                  for rank in range(1, top)]
        content.append(entry(piece, logprob) | {"top_logprobs": alternatives[:top]})
    return content


def _embeddings(body: Any, account: Account) -> SimResponse:
    """`/v1/embeddings`: a string or a list of strings (token arrays too), `encoding_format` float or base64,
    `dimensions` on the models that may be shortened."""
    if not isinstance(body, dict):
        raise OpenAIError(400, "invalid_request_error", None, "We could not parse the JSON body of your request.")
    model, given = body.get("model"), body.get("input")
    if not model:
        raise OpenAIError(400, "invalid_request_error", "missing_required_parameter",
                          "Missing required parameter: 'model'.", "model")
    check_model_access(account, model)
    if not is_embedding_model(model):
        raise invalid(f"This model does not support embeddings: {model}.", "model", "model_not_supported")
    texts = [given] if isinstance(given, str) else given
    if isinstance(texts, list) and texts and all(isinstance(item, int) for item in texts):
        texts = [texts]  # one input given as token ids
    if not isinstance(texts, list) or not texts or not all(isinstance(item, (str, list)) and item for item in texts):
        raise invalid("'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/"
                      "api-reference.", "input")
    spec = EMBEDDING_MODELS[model]
    if len(texts) > spec.max_inputs:
        raise invalid(f"'$.input' is invalid: at most {spec.max_inputs} inputs per request, got {len(texts)}.",
                      "input")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        raise invalid(f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'.", "encoding_format")
    size = body.get("dimensions")
    if size is not None and len(spec.dimensions) == 1:
        raise invalid("This model does not support specifying dimensions.", "dimensions")
    size = size if size is not None else spec.default_dimensions
    if size not in spec.dimensions:
        raise invalid(f"Invalid 'dimensions': {size}. Expected a value between 1 and {spec.default_dimensions}.",
                      "dimensions")
    data, tokens = [], 0
    for index, item in enumerate(texts):
        text = item if isinstance(item, str) else " ".join(str(token) for token in item)
        vector = embed(model, text, size)
        tokens += max(1, count_tokens(text)) if isinstance(item, str) else len(item)
        data.append({"object": "embedding", "index": index,
                     "embedding": base64_floats(vector) if encoding == "base64" else vector})
    return json_response(200, {"object": "list", "data": data, "model": model,
                               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
                         {"x-request-id": f"req_{uuid.uuid4().hex}"})


_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _completion_head(completion_id: str, kind: str, model: str) -> dict[str, Any]:
    created = int(time.time())
    return {"id": completion_id, "object": kind, "created": created, "model": model, "system_fingerprint": None}


def _usage(reply: Answer, account: Account, choices: int = 1) -> dict[str, Any]:
    """Usage of the whole call (every choice's output); OpenAI itself adds the token details (cached tokens of its
    automatic prompt caching, reasoning tokens), the compatible providers do not."""
    output_tokens = reply.output_tokens * choices
    usage: dict[str, Any] = {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": reply.input_tokens + output_tokens,
    }
    if account.provider == "openai":
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cache.read, "cache_write_tokens": reply.cache.write,
                                          "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": reply.reasoning_tokens, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
    return usage


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


def _chunks(account: Account, reply: Answer, completion_id: str, model: str, include_usage: bool, choices: int = 1,
            top_logprobs: int | None = None) -> Iterator[bytes]:
    """`data: {chunk}` lines, choice after choice: the role, the deltas (with their log probabilities when asked),
    the finish reason; then the usage when asked, then `[DONE]`."""
    head = _completion_head(completion_id, "chat.completion.chunk", model) | ({"usage": None} if include_usage else {})

    def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None,
              logprobs: dict[str, Any] | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return sse({**head, "choices": [choice]})

    pieces, fails = streamed_pieces(account, reply)
    call = reply.tool_call
    for index in range(choices):
        if call is None:
            yield chunk(index, {"role": "assistant", "content": "", "refusal": None})
            for piece in pieces:
                logprobs = None if top_logprobs is None else {"content": _logprobs([piece], top_logprobs),
                                                               "refusal": None}
                yield chunk(index, {"content": piece}, logprobs=logprobs)
        else:
            first = {"index": 0, "id": _call_id(), "type": "function",
                     "function": {"name": call.name, "arguments": ""}}
            yield chunk(index, {"role": "assistant", "content": None, "tool_calls": [first]})
            for piece in pieces:
                yield chunk(index, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        if fails:
            raise StreamAborted
        yield chunk(index, {}, _FINISH[reply.stop])
    if include_usage:
        yield sse({**head, "choices": [], "usage": _usage(reply, account, choices)})
    yield sse("[DONE]")


def _model(account: Account, model: str) -> dict[str, object]:
    return {"id": model, "object": "model", "created": _MODEL_CREATED, "owned_by": _OWNERS.get(account.provider, account.provider)}


def _get_model(account: Account, model: str) -> SimResponse:
    if not account.may_use(model):
        raise OpenAIError(404, "invalid_request_error", "model_not_found", f"The model '{model}' does not exist")
    return json_response(200, _model(account, model))
