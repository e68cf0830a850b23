"""The one call path of every LLM call, async: resolve (cached), call the owner's key or platform credentials, fall
back only before the first byte, keep the breaker (the rules are routing.py's). `/v1/*` calls it directly; sync
callers (the REST endpoint, byok.llm, tasks, commands) through byok.gateway.bridge.

`open_call` returns once the provider produced its first output item (the whole answer, or the first stream event):
everything that can still fall back has happened by then. What follows is the caller's to relay; a provider error
after that point ends the stream (no fallback: output was already sent), and usage is still recorded.
"""

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from django.conf import settings
from django.utils import timezone
from opentelemetry.trace import Span

from core import wire_json
from core.metrics import record_call
from core.request_context import current_request_context

from ..catalog.pricing import TokenCounts, usage_cost
from ..catalog.selectors import model_limits
from ..errors import ProviderCallFailed
from ..services.sessions import SESSION_REFUSED
from ..providers.base import TIERS, Call, Provider
from ..providers.outcomes import Category, Failure
from ..providers.translate import RequestInvalid
from . import usage
from .clients import client_for, session_renewed
from .breaker import breaker_close
from .cache import resolution_for
from .catalog import MODEL_TASK, Target
from .dbthread import db
from .limits import Quota, admit, limits_for
from .resolve import Resolution, Source
from .routing import (
    byok_failed,
    byok_failed_needs_db,
    byok_gate,
    byok_gate_needs_db,
    claude_tier_order,
    platform_reason,
    pool_exclusive,
    pool_order,
    to_platform,
)
from .spans import as_current, attempt_failed, attempt_span, call_refused, call_served, call_span

logger = logging.getLogger(__name__)


@dataclass
class Served:
    resolution: Resolution
    spec: Provider
    model: str
    fallback_reason: str
    first: dict
    rest: AsyncIterator[dict]
    started: float
    user_id: int
    task: str
    adjusted: str = ""  # what byok changed in the request, e.g. "max_tokens=64000" (the X-BYOK-Adjusted header)
    quota: Quota | None = None  # the limits the call was admitted under (None: the owner set none)
    api_key_id: int | None = None  # the workspace API key that made the call (None: a token, a session, a task)
    span: Span | None = None  # the call's span (spans.py), ended when the call's usage is known

    async def record(self, tokens: TokenCounts) -> usage.UsageEntry:
        """Queue the call's usage (written within a second, off the request path), then `succeeded`."""
        resolution = self.resolution
        key = resolution.key if resolution.source == Source.BYOK else None
        entry = usage.UsageEntry(
            at=timezone.now(), workspace_id=resolution.workspace_id, user_id=self.user_id, owner_id=resolution.owner_id,
            api_key_id=self.api_key_id, provider=resolution.provider, model=self.model, source=resolution.source,
            task=self.task, key_id=key.id if key else None, key_hint=resolution.key_hint if key else "",
            input_tokens=tokens.input, output_tokens=tokens.output,
            latency_ms=round((time.perf_counter() - self.started) * 1000), fallback_reason=self.fallback_reason,
            credits_charged=usage.credits_for(resolution, tokens),
            cache_write_5m_tokens=tokens.cache_write_5m, cache_write_1h_tokens=tokens.cache_write_1h,
            cache_read_tokens=tokens.cache_read, reasoning_tokens=tokens.reasoning)
        usage.batch.add(entry)
        if self.quota is not None:  # counted on the loop's next turn, once the answer is on its way
            asyncio.get_running_loop().call_soon(self._spend, tokens)
        await self.succeeded(tokens)
        return entry

    def _spend(self, tokens: TokenCounts) -> None:
        cost = usage_cost(provider=self.resolution.provider, model=self.model, tokens=tokens) \
            if self.quota.counts_money else None
        self.quota.spend(tokens=tokens.prompt + tokens.output, cost=cost)

    async def succeeded(self, tokens: TokenCounts | None = None) -> None:
        """The call served: close the key's breaker for the model if it was open, end the call's span. `record` does
        this; a call that records no usage (token counting is free) calls it itself. The close is awaited before the
        answer ends (only the first success after an incident waits for it), so that once a client has its answer,
        every page and status says the owner's key serves again; shielded, it completes even if the client left."""
        if self.span is not None:
            call_served(self.span, resolution=self.resolution, model=self.model,
                        fallback_reason=self.fallback_reason, tokens=tokens)
        key = self.resolution.key if self.resolution.source == Source.BYOK else None
        if key is not None and (key.failing_since or key.unreachable_since or key.model_breakers.get(self.model)):
            await asyncio.shield(_background(db(breaker_close, self.resolution, model=self.model)))


_tasks: set = set()


def _background(coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


async def resolve_target(user_id: int, slug: str, target: Target, api_key_id: int | None = None) -> Resolution:
    """The resolution for the target's family (the workspace's default family first, when the name gives none), for
    a call made with the API key `api_key_id` (keys scoped to it win)."""
    resolution = await resolution_for(user_id, slug, target.family, api_key_id)
    family = target.family_for(resolution.family)
    if family != resolution.family:
        resolution = await resolution_for(user_id, slug, family, api_key_id)
    return claude_tier_order(resolution) if target.tier in TIERS else resolution


def with_region(resolution: Resolution, region: str) -> Resolution:
    """X-BYOK-Region: one of the key's regional credential sets (or its own region); in a pool, the keys that have
    one for that region."""
    if not region or resolution.source != Source.BYOK:
        return resolution
    pool = tuple(replace(member, region=region) for member in resolution.pool or (resolution,)
                 if region == member.region or region in member.key.regions)
    if not pool:
        choices = ", ".join(sorted({resolution.region, *resolution.key.regions}))
        raise RequestInvalid(f"The owner's key has no credentials for region {region}; use one of: {choices}.",
                             param="X-BYOK-Region")
    return replace(pool[0], pool=pool)


def check_model_kind(target: Target, api: str, name) -> None:
    """Embedding models answer /v1/embeddings only, and it answers nothing else: a 400 naming the model."""
    if target.embedding and api != "embeddings":
        raise RequestInvalid(f"{name} is an embedding model: call it on /v1/embeddings.", param="model")
    if api == "embeddings" and not target.embedding:
        raise RequestInvalid(f"{name} is not an embedding model: name one (GET /v1/models lists them), the embedding "
                             "tier (`embedding`) or a family's (`<provider>/embedding`).", param="model")


async def open_call(*, user_id: int, slug: str, target: Target, api: str, body: dict, stream: bool,
                    region: str = "", api_key_id: int | None = None, betas: tuple[str, ...] = ()) -> Served:
    span = call_span(api, body, target)
    try:
        # The call's span is current: its attempts, and any task queued meanwhile (Celery), are its children.
        with as_current(span):
            check_model_kind(target, api, body.get("model"))
            resolution = with_region(await resolve_target(user_id, slug, target, api_key_id), region)
            quota = await admit(await limits_for(owner_id=resolution.owner_id, workspace_id=resolution.workspace_id,
                                                 user_id=user_id, api_key_id=api_key_id),
                                byok=resolution.source == Source.BYOK)
            if quota is not None and quota.over_limit:  # the owner chose platform credits past their limit
                resolution = to_platform(resolution, "limit_exceeded")
            served = await _serve(resolution, target, api, body, stream, user_id=user_id, betas=betas)
    except BaseException as error:
        call_refused(span, error)
        raise
    served.quota, served.api_key_id, served.span = quota, api_key_id, span
    return served


async def _serve(resolution: Resolution, target: Target, api: str, body: dict, stream: bool, *,
                 user_id: int, betas: tuple[str, ...] = ()) -> Served:
    """The owner's keys in the pool's order, then platform credentials (the routing rules decide)."""
    model = target.model_id(resolution)
    fallback_reason = ""
    if resolution.source == Source.BYOK:
        deadline = asyncio.get_running_loop().time() + settings.BYOK_LLM_TIMEOUT  # one for all the owner's keys
        order, exclusive = pool_order(resolution), pool_exclusive(resolution)
        for position, candidate in enumerate(order):
            last = position == len(order) - 1
            model = target.model_id(candidate)
            reason = await db(byok_gate, candidate, model) if byok_gate_needs_db(candidate, model) else ""
            if not reason:
                try:
                    return await _attempt(candidate, model, api, body, stream, user_id=user_id, task=target.task,
                                          deadline=deadline, betas=betas)
                except Failure as refused:
                    failure = refused
                    healed = await _session_renewed(candidate, failure)
                    if healed is not None:  # the key heals itself: the call is made again on its new session
                        try:
                            return await _attempt(healed, model, api, body, stream, user_id=user_id,
                                                  task=target.task, deadline=deadline, betas=betas)
                        except Failure as again:
                            failure = again
                    last = last or failure.category == Category.TIMEOUT  # the deadline is spent
                    next_key = None if last else order[position + 1].key
                    if byok_failed_needs_db(candidate, failure):
                        reason = await db(byok_failed, candidate, failure, model=model, next_key=next_key,
                                          exclusive=exclusive)
                    else:  # no database work
                        reason = byok_failed(candidate, failure, model=model, next_key=next_key, exclusive=exclusive)
            fallback_reason = fallback_reason or reason  # the first key's: why the owner's first choice did not serve
            if last:
                break
        resolution = to_platform(resolution, fallback_reason)
        model = target.model_id(resolution)
    else:
        fallback_reason = platform_reason(resolution)
    await usage.batch.require_credits(resolution)
    try:
        return await _attempt(resolution, model, api, body, stream, user_id=user_id, task=target.task,
                              fallback_reason=fallback_reason, betas=betas)
    except Failure as failure:
        raise ProviderCallFailed(failure, source=Source.PLATFORM, provider=resolution.provider) from None


async def _session_renewed(resolution: Resolution, failure: Failure) -> Resolution | None:
    """A long-term key whose session the provider refused gets a new one (once per cool-down), or None."""
    if not resolution.key.refreshes_session or failure.category not in SESSION_REFUSED:
        return None
    return await db(session_renewed, resolution)


async def _attempt(resolution: Resolution, model: str, api: str, body: dict, stream: bool, *, user_id: int,
                   task: str, fallback_reason: str = "", deadline: float | None = None,
                   betas: tuple[str, ...] = ()) -> Served:
    """Until the first output item, under one deadline (session refresh, connect, first byte): `deadline` (the event
    loop's clock) when the owner's keys share one, else BYOK_LLM_TIMEOUT from now."""
    body, adjusted = within_model_limits(api, body, task=task, family=resolution.family, model=model)
    spec = resolution.provider_spec
    started = time.perf_counter()
    iterator = None
    span = attempt_span(resolution, model=model, api=api, fallback_reason=fallback_reason)
    if deadline is None:
        deadline = asyncio.get_running_loop().time() + settings.BYOK_LLM_TIMEOUT
    try:
        async with asyncio.timeout_at(deadline):
            spec, client, resolution = await client_for(resolution)
            iterator = spec.acall(client, Call(api=api, body=body, model=model, stream=stream, betas=betas))
            first = await anext(iterator)
    except RequestInvalid:
        await _close(iterator)
        span.end()
        raise
    except Exception as exc:  # noqa: BLE001 -- classify re-raises anything that is not a provider error
        await _close(iterator)
        if isinstance(exc, Failure):
            failure = exc
        elif isinstance(exc, TimeoutError):
            failure = Failure(Category.TIMEOUT, f"{spec.name} did not answer within {settings.BYOK_LLM_TIMEOUT:g} s.",
                              code="Deadline")
        elif isinstance(exc, StopAsyncIteration):
            failure = Failure(Category.PROVIDER_UNAVAILABLE, f"{spec.name} answered with an empty stream.",
                              code="EmptyStream")
        else:
            failure = spec.classify(exc, model=model)
        _attempt_failed(resolution, model, failure, seconds=time.perf_counter() - started)
        attempt_failed(span, failure)
        raise failure from None
    span.end()
    record_call(source=resolution.source, provider=resolution.provider, model=model, outcome="ok",
                seconds=time.perf_counter() - started, fallback_reason=fallback_reason)
    return Served(resolution=resolution, spec=spec, model=model, fallback_reason=fallback_reason, first=first,
                  rest=iterator, started=started, user_id=user_id, task=task, adjusted=adjusted)


OUTPUT_LIMIT_FIELDS = {"chat": ("max_completion_tokens", "max_tokens"), "messages": ("max_tokens",)}
PROMPT_FIELDS = {"chat": ("messages", "tools"), "messages": ("system", "messages", "tools"),
                 "responses": ("instructions", "input", "tools")}
# Values that are not prompt text, or that the provider does not count again (earlier turns' thinking).
NOT_PROMPT_TEXT = frozenset({"type", "id", "call_id", "tool_call_id", "tool_use_id", "signature", "thinking",
                             "encrypted_content", "cache_control", "data"})


def within_model_limits(api: str, body: dict, *, task: str, family: str, model: str) -> tuple[dict, str]:
    """The request within the model's limits (the catalog's), and what was changed, before any provider call (so a
    request over them never counts against the owner's key).

    Output: called by a tier or an alias, whose model the client cannot know, a limit above the model's is lowered to
    it; called by a model id, it is the caller's mistake: a 400 naming the limit.
    Context window: a prompt that certainly exceeds it is a 400 naming it. "Certainly": every whitespace-separated
    word is at least one token in every family's tokenizer (they split on whitespace before merging), so the word
    count is a lower bound, never a guess; a prompt nearer the limit reaches the provider, whose 400 is passed on."""
    limits = model_limits(family, model)
    if limits is None:
        return body, ""
    if limits.context_window:
        _within_context_window(api, body, model=model, window=limits.context_window)
    ceiling = limits.max_output_tokens
    if not ceiling:
        return body, ""
    for name in OUTPUT_LIMIT_FIELDS.get(api, ()):
        asked = body.get(name)
        if isinstance(asked, int) and not isinstance(asked, bool) and asked > ceiling:
            if task == MODEL_TASK:
                raise RequestInvalid(f"{name} {asked} is above {model}'s limit of {ceiling} output tokens.",
                                     param=name)
            return {**body, name: ceiling}, f"{name}={ceiling}"
    return body, ""


def _within_context_window(api: str, body: dict, *, model: str, window: int) -> None:
    if api == "embeddings":  # each input is embedded on its own
        inputs = body.get("input")
        for position, text in enumerate(inputs if isinstance(inputs, list) else [inputs]):
            if isinstance(text, str) and _more_words_than([text], window):
                raise RequestInvalid(f"input[{position}] has more than {window} tokens, {model}'s context window.",
                                     param="input")
        return
    fields = [body.get(name) for name in PROMPT_FIELDS.get(api, ())]
    # Their JSON is longer than their strings' characters: within twice the window (nearly every prompt), they cannot
    # hold more words than it (see _more_words_than), and are not gone through (0.1 ms for a coding agent's prompt).
    if len(wire_json.dumps(fields)) > 2 * window and _more_words_than(_prompt_texts(fields), window):
        raise RequestInvalid(f"The prompt has more than {window} tokens, {model}'s context window; shorten it.",
                             param="input" if api == "responses" else "messages")


def _prompt_texts(value) -> list[str]:
    """The strings of a request's prompt fields."""
    texts, pending = [], [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            pending.extend(v for k, v in item.items() if k not in NOT_PROMPT_TEXT)
        elif isinstance(item, list):
            pending.extend(item)
    return texts


def _more_words_than(texts: list[str], window: int) -> bool:
    """Whether `texts` hold more than `window` words. n words take at least 2n - 1 characters, so texts of up to
    about twice the window in characters (nearly every prompt) are never split: splitting a coding agent's 115 KB
    prompt cost 0.46 ms of the call's time before the provider was asked."""
    if sum(map(len, texts)) + len(texts) <= 2 * window:
        return False
    words = 0
    for text in texts:
        words += len(text.split(maxsplit=window - words + 1))  # a huge string is not split further than it matters
        if words > window:
            return True
    return False


def _attempt_failed(resolution: Resolution, model: str, failure: Failure, *, seconds: float) -> None:
    """Every failed attempt is seen: a WARNING with the request id (the call falls back or is refused next) and a
    count by provider and category."""
    context = current_request_context()
    logger.warning("%s call on %s credentials failed (%s, code %s) after %.0f ms, model %s; request %s",
                   resolution.provider, resolution.source, failure.category, failure.code or "-", seconds * 1000,
                   model, context.request_id if context else "-")
    record_call(source=resolution.source, provider=resolution.provider, model=model, outcome=failure.category,
                seconds=seconds)


async def _close(iterator) -> None:
    if iterator is not None:
        try:
            await iterator.aclose()
        except Exception:  # noqa: BLE001
            pass


async def relay(served: Served) -> AsyncIterator[dict]:
    """The whole output, the first item included; a provider error mid-stream comes out as a categorised Failure."""
    yield served.first
    try:
        async for item in served.rest:
            yield item
    except (Failure, asyncio.CancelledError):
        raise
    except Exception as exc:  # noqa: BLE001
        raise served.spec.classify(exc, model=served.model) from None
    finally:
        await _close(served.rest)
