"""The data plane: a lean ASGI app for the LLM endpoints, mounted beside Django (byok_project/asgi.py).

    POST /v1/chat/completions   OpenAI Chat Completions (any family: Bedrock Converse, Anthropic, OpenAI-compatible)
    POST /v1/messages           Anthropic Messages (Claude on the Anthropic API, Bedrock or Vertex)
    POST /v1/messages/count_tokens   Anthropic token counting (Claude on the Anthropic API, Bedrock or Vertex; free)
    POST /v1/responses          the OpenAI Responses API, stateless: passed through where the provider speaks it
                                (OpenAI), else translated to the family's chat and back (translate/responses.py)
    POST /v1/embeddings         OpenAI Embeddings (OpenAI, Mistral, Z.ai, Bedrock Titan and Cohere, Vertex)
    GET  /v1/models             what this workspace can call now, and on whose credentials
    GET  /v1/models/{id}        one of them
    GET  /v1/openapi.json       all of the above described in OpenAPI 3.1 (openapi.py)

Every other path under /v1/ is a JSON 404 in the calling SDK's shape (Anthropic's when `anthropic-version` is sent),
never an HTML page. Browser apps from BYOK_CORS_ORIGINS get CORS answers (preflights included).

A call in flight holds no database connection and no thread: resolutions, principals and clients come from
in-process caches (dropped through the "gateway" generation), misses and writes run in worker threads that close
their connection, and usage is written in batches (usage.py). Every response carries X-BYOK-Source,
X-BYOK-Fallback-Reason, X-BYOK-Key-Hint, X-BYOK-Provider, X-BYOK-Model, X-Request-Id and request-id (the
header the Anthropic SDKs read).
"""

import asyncio
import gc
import logging
import threading
from functools import partial
from urllib.parse import unquote

from django.conf import settings

from accounts.models import ApiKey
from accounts.selectors import ApiKeyPrincipal
from core.errors import SERVICE_OUTAGES, DomainError
from core import wire_json
from core.parsers import NestedTooDeep, read_json
from core.request_context import (
    RequestContext,
    client_address,
    current_request_context,
    enter_request_context,
    leave_request_context,
    request_id_from,
)

from ..catalog.pricing import TokenCounts
from ..catalog.selectors import catalog_model
from ..models.keys import is_exclusive
from ..providers import transport
from ..providers.base import EMBEDDING_TIER, TIERS
from ..providers.outcomes import Category, Failure
from ..providers.registry import FAMILIES, PROVIDERS, platform_provider
from ..providers.translate import RequestInvalid
from ..providers.translate.embeddings import embeddings_checked
from ..providers.translate.responses import (
    ChatStreamToResponses,
    chat_to_response,
    in_responses_terms,
    responses_to_chat,
)
from . import bridge, cache, openapi, usage
from .auth import NOT_CACHED, authenticate_api_key_from, cached_principal
from .breaker import resolution_for_model
from .catalog import ALIASES, CLAUDE_FAMILIES, Target, UnknownModel, embeds, family_models, parse_model, valid_names
from .dataplane import Served, open_call, relay, resolve_target
from .limits import Quota
from .dbthread import db_once
from .resolve import NotAMemberOfWorkspace, Resolution, Source

logger = logging.getLogger(__name__)
MAX_BODY = 32 * 1024 * 1024  # images travel inline
RETRY_AFTER_SECONDS = "5"


# --- who is calling ----------------------------------------------------------------------------------------------

class AuthFailed(Exception):
    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


async def _principal(headers: dict[str, str]) -> ApiKeyPrincipal:
    """Who calls, in which workspace, with which workspace API key (provider keys scoped to it serve its calls): the
    key is sent as `Authorization: Bearer byok_…` or `x-api-key`, answered from memory on a hit (byok.gateway.auth),
    else by one query in a thread."""
    authorization = headers.get("authorization", "")
    raw = authorization[7:].strip() if authorization[:7].lower() == "bearer " else headers.get("x-api-key", "")
    if not raw:
        raise AuthFailed("Missing credentials: send Authorization: Bearer <API key> or x-api-key: <API key>.")
    principal = cached_principal(raw)
    if principal is NOT_CACHED or principal is None:  # not a good key in memory: throttled per address
        address = getattr(current_request_context(), "ip", None)
        principal = await db_once(("principal", ApiKey.hash_of(raw), address), authenticate_api_key_from, raw, address)
    if principal is None:
        raise AuthFailed("Invalid, revoked or expired API key.")
    if principal.is_token:
        raise AuthFailed("This is an API token, which speaks for you on /api/v1/ only: call /v1 with a workspace API "
                         "key (POST /api/v1/workspaces/{slug}/api-keys/).", status=403)
    requested = headers.get("x-byok-workspace", "")
    if requested and requested != principal.workspace_slug:
        raise AuthFailed("This API key belongs to another workspace.", status=403)
    usage.batch.note_api_key(principal.api_key_id)
    return principal


# --- responses ---------------------------------------------------------------------------------------------------

class Reply:
    """The response being built: status, the X-BYOK headers, and the ASGI send."""

    def __init__(self, send, request_id: str) -> None:
        self.send = send
        self.headers = {"x-byok-source": "", "x-byok-fallback-reason": "", "x-byok-key-hint": "",
                        "x-byok-provider": "", "x-byok-model": "", "x-request-id": request_id,
                        "request-id": request_id}

    def served_by(self, resolution: Resolution | None, *, model: str = "", fallback_reason: str = "",
                  adjusted: str = "", quota: Quota | None = None) -> None:
        if quota is not None:  # x-ratelimit-* as the OpenAI SDKs read them
            self.headers.update(quota.headers)
        if resolution is not None:
            self.headers.update({"x-byok-source": resolution.source, "x-byok-provider": resolution.provider,
                                 "x-byok-key-hint": _ascii(resolution.key_hint if resolution.source == Source.BYOK
                                                           else "")})
        self.headers["x-byok-model"] = model
        self.headers["x-byok-fallback-reason"] = fallback_reason
        if adjusted:
            self.headers["x-byok-adjusted"] = adjusted

    def _raw_headers(self, content_type: str, extra: dict | None = None) -> list:
        headers = {**self.headers, "content-type": content_type, **(extra or {})}
        return [(k.encode(), v.encode("latin-1", "replace")) for k, v in headers.items()]

    async def json(self, status: int, payload, extra: dict | None = None) -> None:
        body = b"" if payload is None else payload.raw if isinstance(payload, transport.Verbatim) \
            else wire_json.dumps(payload)
        await self.send({"type": "http.response.start", "status": status, "headers": self._raw_headers(
            "application/json", {**(extra or {}), "content-length": str(len(body))})})
        await self.send({"type": "http.response.body", "body": body})

    async def start_stream(self) -> None:
        await self.send({"type": "http.response.start", "status": 200, "headers": self._raw_headers(
            "text/event-stream; charset=utf-8", {"cache-control": "no-cache", "x-accel-buffering": "no"})})

    async def chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})


def _ascii(value: str) -> str:
    return value.replace("…", "...")


# Error shapes. (status, code, message) -> body
_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "insufficient_quota",
                 403: "permission_error", 404: "invalid_request_error", 424: "upstream_error",
                 429: "rate_limit_error", 502: "upstream_error", 503: "service_unavailable", 504: "timeout"}
_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                    403: "permission_error", 404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                    502: "api_error", 503: "overloaded_error", 504: "timeout_error", 424: "api_error"}


def openai_error(status: int, code: str, message: str, param: str | None = None) -> dict:
    return {"error": {"message": message, "type": _OPENAI_TYPES.get(status, "api_error"), "code": code,
                      "param": param}}


def anthropic_error(status: int, code: str, message: str, param: str | None = None) -> dict:
    return {"type": "error", "error": {"type": _ANTHROPIC_TYPES.get(status, "api_error"), "message": message,
                                       "code": code}}


def _error_of(exc: BaseException) -> tuple[int, str, str, str | None]:
    if isinstance(exc, AuthFailed):
        return exc.status, "invalid_api_key" if exc.status == 401 else "workspace_required", str(exc), None
    if isinstance(exc, UnknownModel):
        return 404, "model_not_found", (f"Unknown model {str(exc)!r}. Use a tier (standard, complex), an alias "
                                        f"(claude-sonnet, claude-opus), <provider>/<model> or one of: "
                                        f"{', '.join(valid_names())}."), "model"
    if isinstance(exc, RequestInvalid):
        return 400, "invalid_request", str(exc), exc.param or None
    if isinstance(exc, NotAMemberOfWorkspace):
        return 404, "workspace_not_found", f"No workspace {exc} that you are a member of.", None
    if isinstance(exc, DomainError):
        return exc.status, exc.code, exc.message, None
    if isinstance(exc, SERVICE_OUTAGES):
        return 503, "service_unavailable", "The service is temporarily unavailable; try again shortly.", None
    if isinstance(exc, Failure):
        from ..errors import ProviderCallFailed

        status = ProviderCallFailed.STATUS.get(exc.category, 502)
        return status, f"provider_{exc.category}", exc.hint, None
    return 500, "internal_error", "Internal error.", None


async def _answer_error(reply: Reply, exc: BaseException, shape) -> None:
    status, code, message, param = _error_of(exc)
    if status == 500:
        logger.exception("data plane error", exc_info=exc)
    elif isinstance(exc, SERVICE_OUTAGES):
        logger.warning("data plane answered 503: database or cache unreachable (%s)", type(exc).__name__)
    extra = getattr(exc, "headers", None) or (
        {"retry-after": str(getattr(exc, "retry_after", RETRY_AFTER_SECONDS))} if status == 429 else None)
    if status == 503 and not extra:
        extra = {"retry-after": str(settings.BYOK_RETRY_AFTER_SECONDS)}
    await reply.json(status, shape(status, code, message, param), extra)


# --- handlers ----------------------------------------------------------------------------------------------------

def _sse(data: dict, event: str | None = None) -> bytes:
    payload = wire_json.dumps(data)
    return b"event: %s\ndata: %s\n\n" % (event.encode(), payload) if event else b"data: %s\n\n" % payload


def _body(raw: bytes) -> dict:
    """The request's JSON object (core.parsers.read_json: nesting bounded as on the control plane)."""
    try:
        body = read_json(raw or b"{}")
    except UnicodeDecodeError:
        raise RequestInvalid("The request body is not UTF-8 JSON.") from None
    except NestedTooDeep as exc:
        raise RequestInvalid(f"The request body nests JSON deeper than {exc.limit} levels.") from None
    except ValueError:
        raise RequestInvalid("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise RequestInvalid("The request body must be a JSON object.")
    return body


async def chat_completions(headers: dict, raw: bytes, reply: Reply) -> None:
    try:
        principal = await _principal(headers)
        body = _body(raw)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise RequestInvalid("messages must be a non-empty list.", param="messages")
        stream = bool(body.get("stream"))
        served = await open_call(user_id=principal.user_id, slug=principal.workspace_slug,
                                 target=parse_model(body.get("model")), api="chat", body=body, stream=stream,
                                 region=headers.get("x-byok-region", ""), api_key_id=principal.api_key_id)
    except Exception as exc:  # noqa: BLE001 -- every refusal answers in the OpenAI error shape
        if isinstance(exc, DomainError) and exc.details.get("source") == "byok":
            reply.headers["x-byok-source"] = "byok"
        await _answer_error(reply, exc, openai_error)
        return
    reply.served_by(served.resolution, model=served.model, fallback_reason=served.fallback_reason,
                    adjusted=served.adjusted, quota=served.quota)
    if not stream:
        await served.record(usage.chat_tokens(served.first.get("usage") or {}))
        await reply.json(200, served.first)
        return
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    tokens: dict = {}
    await reply.start_stream()
    try:
        async for item in relay(served):
            if item.get("usage"):
                tokens = item["usage"]
            if include_usage or item.get("choices"):
                await reply.chunk(_sse(item))
        await reply.chunk(b"data: [DONE]\n\n")
    except Exception as exc:  # noqa: BLE001 -- after the first byte: end the stream with an error event
        status, code, message, _ = _error_of(exc)
        await reply.chunk(_sse(openai_error(status, code, f"The stream failed after it started: {message}")))
    finally:
        await served.record(usage.chat_tokens(tokens))
    await reply.end()


async def messages(headers: dict, raw: bytes, reply: Reply) -> None:
    try:
        principal = await _principal(headers)
        body = _body(raw)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise RequestInvalid("messages: a non-empty list is required.", param="messages")
        if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
            raise RequestInvalid("max_tokens: a positive integer is required.", param="max_tokens")
        target = await _claude_target(principal, body, "/v1/messages")
        stream = bool(body.get("stream"))
        served = await open_call(user_id=principal.user_id, slug=principal.workspace_slug, target=target,
                                 api="messages", body=body, stream=stream, region=headers.get("x-byok-region", ""),
                                 api_key_id=principal.api_key_id, betas=_betas(headers))
    except Exception as exc:  # noqa: BLE001 -- every refusal answers in the Anthropic error shape
        await _answer_error(reply, exc, anthropic_error)
        return
    reply.served_by(served.resolution, model=served.model, fallback_reason=served.fallback_reason,
                    adjusted=served.adjusted, quota=served.quota)
    if not stream:
        await served.record(usage.messages_tokens(served.first.get("usage") or {}))
        await reply.json(200, served.first)
        return
    tokens: dict = {}  # the Messages usage, as message_start and message_delta tell it
    await reply.start_stream()
    try:
        async for item in relay(served):
            kind = item.get("type")
            if kind == "message_start":
                tokens = dict((item.get("message") or {}).get("usage") or {})
            elif kind == "message_delta":
                tokens.update({k: v for k, v in (item.get("usage") or {}).items() if v is not None})
            await reply.chunk(_sse(item, kind))
    except Exception as exc:  # noqa: BLE001 -- after the first byte: end the stream with an error event
        status, code, message, _ = _error_of(exc)
        error = anthropic_error(status if status != 400 else 502, code,
                                f"The stream failed after it started: {message}")
        await reply.chunk(_sse(error, "error"))
    finally:
        await served.record(usage.messages_tokens(tokens))
    await reply.end()


async def responses(headers: dict, raw: bytes, reply: Reply) -> None:
    """The Responses API: OpenAI's events pass through; any other family's chat answer comes back as a Response (or
    its typed events, re-numbered here). One usage record per call, from the answer's tokens."""
    try:
        principal = await _principal(headers)
        body = _body(raw)
        target = parse_model(body.get("model"))
        resolution = await resolve_target(principal.user_id, principal.workspace_slug, target, principal.api_key_id)
        passes = "responses" in resolution.provider_spec.speaks
        request = body if passes else responses_to_chat(body, family=resolution.provider_spec.name,
                                                         thinking=resolution.family in CLAUDE_FAMILIES)
        stream = bool(body.get("stream"))
        served = await open_call(user_id=principal.user_id, slug=principal.workspace_slug, target=target,
                                 api="responses" if passes else "chat", body=request, stream=stream,
                                 region=headers.get("x-byok-region", ""), api_key_id=principal.api_key_id)
    except Exception as exc:  # noqa: BLE001 -- every refusal answers in the OpenAI error shape
        if isinstance(exc, RequestInvalid):
            exc = in_responses_terms(exc)
        if isinstance(exc, DomainError) and exc.details.get("source") == "byok":
            reply.headers["x-byok-source"] = "byok"
        await _answer_error(reply, exc, openai_error)
        return
    reply.served_by(served.resolution, model=served.model, fallback_reason=served.fallback_reason,
                    adjusted=served.adjusted, quota=served.quota)
    if not stream:
        answer = served.first if passes else chat_to_response(served.first, body)
        await served.record(usage.responses_tokens(answer.get("usage") or {}))
        await reply.json(200, answer)
        return
    translator = None if passes else ChatStreamToResponses(body, model=served.model)
    tokens, sequence = {}, 0

    async def send(events) -> None:
        nonlocal tokens, sequence
        for event in events:
            sequence = event.get("sequence_number", sequence) + 1
            tokens = (event.get("response") or {}).get("usage") or tokens
            await reply.chunk(_sse(event, event["type"]))

    await reply.start_stream()
    try:
        await send(translator.start() if translator else ())
        async for item in relay(served):
            await send(translator.feed(item) if translator else (item,))
        await send(translator.finish() if translator else ())
    except Exception as exc:  # noqa: BLE001 -- after the first byte: end the stream with a failure event
        status, code, message, _ = _error_of(exc)
        message = f"The stream failed after it started: {message}"
        await send(translator.failed(code, message) if translator else [
            {"type": "error", "code": code, "message": message, "param": None, "sequence_number": sequence}])
    finally:
        await served.record(usage.responses_tokens(tokens))
    await reply.end()


async def embeddings(headers: dict, raw: bytes, reply: Reply) -> None:
    """Input tokens only are recorded (embeddings produce no output tokens)."""
    try:
        principal = await _principal(headers)
        body = _body(raw)
        embeddings_checked(body)
        served = await open_call(user_id=principal.user_id, slug=principal.workspace_slug,
                                 target=parse_model(body.get("model")), api="embeddings", body=body, stream=False,
                                 region=headers.get("x-byok-region", ""), api_key_id=principal.api_key_id)
    except Exception as exc:  # noqa: BLE001 -- every refusal answers in the OpenAI error shape
        await _answer_error(reply, exc, openai_error)
        return
    reply.served_by(served.resolution, model=served.model, fallback_reason=served.fallback_reason)
    await served.record(TokenCounts(input=(served.first.get("usage") or {}).get("prompt_tokens") or 0))
    await reply.json(200, served.first)


async def count_tokens(headers: dict, raw: bytes, reply: Reply) -> None:
    """Claude's token counting: free, so no usage is recorded; resolution, fallback and the breaker apply."""
    try:
        principal = await _principal(headers)
        body = _body(raw)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            raise RequestInvalid("messages: a non-empty list is required.", param="messages")
        target = await _claude_target(principal, body, "/v1/messages/count_tokens")
        served = await open_call(user_id=principal.user_id, slug=principal.workspace_slug, target=target,
                                 api="count_tokens", body=body, stream=False, region=headers.get("x-byok-region", ""),
                                 api_key_id=principal.api_key_id, betas=_betas(headers))
    except Exception as exc:  # noqa: BLE001 -- every refusal answers in the Anthropic error shape
        await _answer_error(reply, exc, anthropic_error)
        return
    reply.served_by(served.resolution, model=served.model, fallback_reason=served.fallback_reason)
    await served.succeeded()
    await reply.json(200, served.first)


def _betas(headers: dict) -> tuple[str, ...]:
    """The caller's `anthropic-beta` flags, carried to the provider."""
    return tuple(flag.strip() for flag in headers.get("anthropic-beta", "").split(",") if flag.strip())


async def _claude_target(principal: ApiKeyPrincipal, body: dict, path: str) -> Target:
    """The target of an Anthropic-shaped call, which only Claude families serve (a 400 naming the family else)."""
    target = parse_model(body.get("model"))
    resolution = await resolve_target(principal.user_id, principal.workspace_slug, target, principal.api_key_id)
    if resolution.family not in CLAUDE_FAMILIES:
        raise RequestInvalid(f"{path} serves Claude (Anthropic, Bedrock or Vertex); {body.get('model')!r} is a "
                             f"{resolution.family} model" + (": call it on /v1/chat/completions." if path ==
                                                              "/v1/messages" else ", and it has no token counting."),
                             param="model")
    return target


async def models(headers: dict, raw: bytes, reply: Reply) -> None:
    anthropic_shape = "anthropic-version" in headers
    try:
        entries = await _model_entries(await _principal(headers), anthropic_shape)
    except Exception as exc:  # noqa: BLE001
        await _answer_error(reply, exc, _shape(headers))
        return
    if anthropic_shape:
        await reply.json(200, {"data": entries, "has_more": False, "first_id": entries[0]["id"] if entries else None,
                               "last_id": entries[-1]["id"] if entries else None})
    else:
        await reply.json(200, {"object": "list", "data": entries})


async def model(headers: dict, raw: bytes, reply: Reply, model_id: str) -> None:
    """One model of the listing, by the id the listing gives it."""
    try:
        entries = await _model_entries(await _principal(headers), "anthropic-version" in headers)
        entry = next((e for e in entries if e["id"] == model_id), None)
        if entry is None:
            raise UnknownModel(model_id)
    except Exception as exc:  # noqa: BLE001
        await _answer_error(reply, exc, _shape(headers))
        return
    await reply.json(200, entry)


async def _model_entries(principal: ApiKeyPrincipal, anthropic_shape: bool) -> list[dict]:
    entries = []
    for family in FAMILIES:
        resolution = await cache.resolution_for(principal.user_id, principal.workspace_slug, family,
                                                principal.api_key_id)
        if not _can_serve(resolution):
            continue
        models = family_models(family)
        embedding = [model for model in models if embeds(family, model)]
        tiers = (*TIERS, EMBEDDING_TIER) if embedding else TIERS
        tier_models = {resolution.model_for(tier): tier for tier in tiers}
        for model in models:
            served = next((m for m in tier_models if m.endswith(model)), model)
            aliases = [f"{family}/{tier_models[served]}"] if served in tier_models else []
            if served in tier_models and family in ("bedrock", "anthropic"):
                aliases += [a for a, tier in ALIASES.items() if tier == tier_models[served]]
            known = catalog_model(family, model)
            entries.append(_model_entry(served, resolution_for_model(resolution, served), aliases, anthropic_shape,
                                        embedding=model in embedding,
                                        lifecycle=known.lifecycle() if known else None))
    return entries


def _can_serve(resolution: Resolution) -> bool:
    if resolution.source == Source.BYOK:
        return True
    if resolution.byok_allowed and is_exclusive(resolution.key):
        return False  # an exclusive key that cannot serve now: nothing serves this family
    return platform_provider(resolution.family).platform_credentials(settings.BYOK_PLATFORM_ENV).configured


def _model_entry(model: str, resolution: Resolution, aliases: list[str], anthropic_shape: bool, *, embedding: bool,
                 lifecycle: dict | None) -> dict:
    byok = {"source": resolution.source, "provider": resolution.provider, "family": resolution.family,
            "kind": "embedding" if embedding else "chat",
            "key_hint": resolution.key_hint if resolution.source == Source.BYOK else None,
            "reason": resolution.reason, "aliases": aliases, "lifecycle": lifecycle}
    if anthropic_shape:
        return {"id": model, "type": "model", "display_name": model, "created_at": "2025-01-01T00:00:00Z",
                "byok": byok}
    return {"id": model, "object": "model", "created": 0, "owned_by": PROVIDERS[resolution.provider].name,
            "byok": byok}


async def describe(headers: dict, raw: bytes, reply: Reply) -> None:
    """The data plane's OpenAPI description: public, like the API's own schema."""
    await reply.json(200, openapi.description())


ROUTES = {("POST", "/v1/chat/completions"): chat_completions, ("POST", "/v1/messages"): messages,
          ("POST", "/v1/messages/count_tokens"): count_tokens, ("POST", "/v1/responses"): responses,
          ("POST", "/v1/embeddings"): embeddings, ("GET", "/v1/models"): models, ("GET", "/v1/openapi.json"): describe}
PATHS = {path for _, path in ROUTES}
MODEL_PATH = "/v1/models/"


def _shape(headers: dict, path: str = ""):
    """The calling SDK's error shape: Anthropic's on its endpoint or when its version header is sent."""
    return anthropic_error if path.startswith("/v1/messages") or "anthropic-version" in headers else openai_error


# --- CORS, for browser apps from BYOK_CORS_ORIGINS ------------------------------------------------------------------

_CORS_HEADERS = ("authorization", "x-api-key", "content-type", "anthropic-version", "anthropic-beta",
                 "anthropic-dangerous-direct-browser-access", "openai-organization", "openai-project",
                 "x-request-id")
_CORS_HEADER_PREFIXES = ("x-byok-", "x-stainless-")
_CORS_EXPOSED = ", ".join(("x-request-id", "request-id", "x-byok-source", "x-byok-fallback-reason", "x-byok-key-hint",
                           "x-byok-adjusted", "x-byok-provider", "x-byok-model", "retry-after"))


def _cors(headers: dict) -> dict:
    """CORS headers for an allowed Origin (none otherwise: the browser refuses the answer)."""
    origin = headers.get("origin", "")
    if not origin or origin not in settings.BYOK_CORS_ORIGINS:
        return {}
    return {"access-control-allow-origin": origin, "vary": "Origin", "access-control-expose-headers": _CORS_EXPOSED}


async def _preflight(headers: dict, reply: Reply, path: str) -> None:
    requested = [h.strip().lower() for h in headers.get("access-control-request-headers", "").split(",") if h.strip()]
    refused = [h for h in requested if h not in _CORS_HEADERS and not h.startswith(_CORS_HEADER_PREFIXES)]
    if "access-control-allow-origin" not in reply.headers or refused:
        why = f"headers not allowed: {', '.join(refused)}" if refused else "origin not in BYOK_CORS_ORIGINS"
        await reply.json(403, _shape(headers, path)(403, "cors_refused", f"Cross-origin request refused ({why})."))
        return
    await reply.json(204, None, {"access-control-allow-methods": "GET, POST, OPTIONS",
                                 "access-control-allow-headers": ", ".join(requested),
                                 "access-control-max-age": "600"})


# --- the ASGI application ----------------------------------------------------------------------------------------

class DataPlane:
    """ASGI: the data-plane paths here, everything else to Django's ASGI application; the lifespan starts the
    generation watcher and the usage flusher, and flushes usage on shutdown."""

    def __init__(self, django_app) -> None:
        self.django_app = django_app
        self._stop: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self.started = threading.Event()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        else:
            await self.django_app(scope, receive, send)

    async def startup(self) -> None:
        # Django, the SDKs and every module are loaded by now and live as long as the process: taken out of the
        # garbage collector's reach, a full collection no longer walks them (each walk stalled every call in flight).
        gc.collect()
        gc.freeze()
        self._stop = asyncio.Event()
        self._tasks = await bridge.core_start(self._stop)
        bridge.attach(asyncio.get_running_loop())  # sync callers in this process (REST, tasks) call on this loop
        self.started.set()

    async def shutdown(self) -> None:
        bridge.detach()
        if self._stop is not None:
            await bridge.core_stop(self._stop, self._tasks)
        await transport.close()

    async def lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.startup()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope, receive, send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = request_id_from(headers.get("x-request-id"))
        reply = Reply(send, request_id)
        client = scope.get("client")
        context = enter_request_context(RequestContext(request_id=request_id, ip=client_address(
            client[0] if client else None, headers.get("x-forwarded-for", ""))))
        try:
            await self._handle(scope, receive, headers, reply)
        finally:
            leave_request_context(context)

    async def _handle(self, scope, receive, headers: dict, reply: Reply) -> None:
        reply.headers.update(_cors(headers))
        path, method = scope["path"], scope["method"]
        if method == "OPTIONS":
            await _preflight(headers, reply, path)
            return
        handler = ROUTES.get((method, path))
        if handler is None and method == "GET" and path.startswith(MODEL_PATH) and len(path) > len(MODEL_PATH):
            handler = partial(model, model_id=unquote(path[len(MODEL_PATH):]))
        if handler is None:
            shape = _shape(headers, path)
            if path in PATHS:
                await reply.json(405, shape(405, "method_not_allowed", f"{method} is not allowed on {path}."))
            else:
                endpoints = ", ".join(f"{m} {p}" for m, p in ROUTES)
                await reply.json(404, shape(404, "not_found", f"{method} {path} is not an endpoint byok serves. It "
                                            f"serves {endpoints} and GET /v1/models/{{id}}."))
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                shape = _shape(headers, path)
                await reply.json(413, shape(413, "request_too_large", "The request body is too large."))
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            await cache.catalog_ready()
        except Exception as exc:  # noqa: BLE001 -- a process started during an outage answers 503 until it ends
            await _answer_error(reply, exc, _shape(headers, path))
            return
        await handler(headers, b"".join(chunks), reply)


__all__ = ["DataPlane", "Served", "Category"]
