"""The one call path of every LLM call, async: resolve (cached), call the owner's key or platform credentials, fall
back only before the first byte, keep the breaker (the rules are routing.py's). `/v1/*` calls it directly; sync
callers (the REST endpoint, byok.llm, tasks, commands) through byok.gateway.bridge.

`open_call` returns once the provider produced its first output item (the whole answer, or the first stream event):
everything that can still fall back has happened by then. What follows is the caller's to relay; a provider error
after that point ends the stream (no fallback: output was already sent), and usage is still recorded.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from django.conf import settings
from django.utils import timezone

from core.metrics import record_call

from ..errors import ProviderCallFailed
from ..providers.base import Call, Provider
from ..providers.outcomes import Category, Failure
from ..providers.translate import RequestInvalid
from . import usage
from .clients import client_for
from .breaker import breaker_close
from .cache import resolution_for
from .catalog import Target
from .dbthread import db
from .resolve import Resolution, Source
from .routing import byok_failed, byok_gate, byok_gate_needs_db, platform_reason, to_platform


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
    breaker_closing: asyncio.Task | None = None  # the success closing the key's breaker, off the request path

    def record(self, input_tokens: int, output_tokens: int) -> usage.UsageEntry:
        """Queue the call's usage (written within a second, off the request path)."""
        resolution = self.resolution
        key = resolution.key if resolution.source == Source.BYOK else None
        entry = usage.UsageEntry(
            at=timezone.now(), workspace_id=resolution.workspace_id, user_id=self.user_id, owner_id=resolution.owner_id,
            provider=resolution.provider, model=self.model, source=resolution.source, task=self.task,
            key_id=key.id if key else None, key_hint=resolution.key_hint if key else "", input_tokens=input_tokens,
            output_tokens=output_tokens, latency_ms=round((time.perf_counter() - self.started) * 1000),
            fallback_reason=self.fallback_reason,
            credits_charged=usage.credits_for(resolution, input_tokens, output_tokens))
        usage.batch.add(entry)
        self.succeeded()
        return entry

    def succeeded(self) -> None:
        """The call served: close the key's breaker for the model if it was open (off the request path). `record`
        does this; a call that records no usage (token counting is free) calls it itself."""
        key = self.resolution.key if self.resolution.source == Source.BYOK else None
        if key is not None and (key.failing_since or key.model_breakers.get(self.model)):
            self.breaker_closing = _background(db(breaker_close, self.resolution, model=self.model))


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
    return resolution


def with_region(resolution: Resolution, region: str) -> Resolution:
    """X-BYOK-Region: one of the key's regional credential sets (or its own region)."""
    if not region or resolution.source != Source.BYOK or region == resolution.region:
        return resolution
    if region not in resolution.key.regions:
        choices = ", ".join(sorted({resolution.region, *resolution.key.regions}))
        raise RequestInvalid(f"The owner's key has no credentials for region {region}; use one of: {choices}.",
                             param="X-BYOK-Region")
    return replace(resolution, region=region)


def check_model_kind(target: Target, api: str, name) -> None:
    """Embedding models answer /v1/embeddings only, and it answers nothing else: a 400 naming the model."""
    if target.embedding and api != "embeddings":
        raise RequestInvalid(f"{name} is an embedding model: call it on /v1/embeddings.", param="model")
    if api == "embeddings" and not target.embedding:
        raise RequestInvalid(f"{name} is not an embedding model: name one (GET /v1/models lists them), the embedding "
                             "tier (`embedding`) or a family's (`<provider>/embedding`).", param="model")


async def open_call(*, user_id: int, slug: str, target: Target, api: str, body: dict, stream: bool,
                    region: str = "", api_key_id: int | None = None) -> Served:
    check_model_kind(target, api, body.get("model"))
    resolution = with_region(await resolve_target(user_id, slug, target, api_key_id), region)
    model = target.model_id(resolution)
    fallback_reason = ""
    if resolution.source == Source.BYOK:
        if byok_gate_needs_db(resolution, model):
            fallback_reason = await db(byok_gate, resolution, model)
        if not fallback_reason:
            try:
                return await _attempt(resolution, model, api, body, stream, user_id=user_id, task=target.task)
            except Failure as failure:
                if failure.persistent or failure.category == Category.EXPIRED:
                    fallback_reason = await db(byok_failed, resolution, failure, model=model)
                else:
                    fallback_reason = byok_failed(resolution, failure, model=model)  # no database work
        resolution = to_platform(resolution, fallback_reason)
        model = target.model_id(resolution)
    else:
        fallback_reason = platform_reason(resolution)
    await usage.batch.require_credits(resolution)
    try:
        return await _attempt(resolution, model, api, body, stream, user_id=user_id, task=target.task,
                              fallback_reason=fallback_reason)
    except Failure as failure:
        raise ProviderCallFailed(failure, source=Source.PLATFORM, provider=resolution.provider) from None


async def _attempt(resolution: Resolution, model: str, api: str, body: dict, stream: bool, *, user_id: int,
                   task: str, fallback_reason: str = "") -> Served:
    """Until the first output item, under one deadline (session refresh, connect, first byte)."""
    spec = resolution.provider_spec
    started = time.perf_counter()
    iterator = None
    try:
        async with asyncio.timeout(settings.BYOK_LLM_TIMEOUT):
            spec, client, resolution = await client_for(resolution)
            iterator = spec.acall(client, Call(api=api, body=body, model=model, stream=stream))
            first = await anext(iterator)
    except (Failure, RequestInvalid):
        await _close(iterator)
        raise
    except TimeoutError:
        await _close(iterator)
        raise Failure(Category.TIMEOUT, f"{spec.name} did not answer within {settings.BYOK_LLM_TIMEOUT:g} s.",
                      code="Deadline") from None
    except StopAsyncIteration:
        raise Failure(Category.PROVIDER_UNAVAILABLE, f"{spec.name} answered with an empty stream.",
                      code="EmptyStream") from None
    except Exception as exc:  # noqa: BLE001 -- classify re-raises anything that is not a provider error
        await _close(iterator)
        failure = spec.classify(exc, model=model)
        record_call(source=resolution.source, provider=resolution.provider, model=model, outcome=failure.category,
                    seconds=time.perf_counter() - started)
        raise failure from None
    record_call(source=resolution.source, provider=resolution.provider, model=model, outcome="ok",
                seconds=time.perf_counter() - started, fallback_reason=fallback_reason)
    return Served(resolution=resolution, spec=spec, model=model, fallback_reason=fallback_reason, first=first,
                  rest=iterator, started=started, user_id=user_id, task=task)


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
