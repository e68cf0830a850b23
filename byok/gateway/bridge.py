"""How sync callers (the REST completion endpoint, `byok.llm`, tasks, commands) reach the data plane's core: one
long-lived event loop per process runs every LLM call.

Under ASGI that loop is the server's: the data plane attaches it at start-up, and a sync view (in a thread of its
own) hands its call over. Elsewhere (WSGI, a Celery worker, a command) the bridge starts a loop of its own in a
daemon thread, with the same lifespan as the data plane (the generation watcher, the usage flusher), stopped and
flushed at exit. There is never a second implementation of a call: `complete` is `open_call` plus the usage record.

A sync caller returns once its usage record is written (a task or a command may end the process right after).
"""

import asyncio
import atexit
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from django.conf import settings

from accounts.models import User
from core.request_context import current_request_context, enter_request_context

from ..providers.registry import get_provider
from . import cache, clients, limits, usage
from .catalog import Target
from .dataplane import open_call

STOP_TIMEOUT = 10.0  # seconds a stopping loop has to flush its usage
logger = logging.getLogger(__name__)


@dataclass
class CallOutcome:
    output: str
    model: str
    provider: str
    source: str
    fallback_reason: str
    input_tokens: int
    output_tokens: int
    credits_charged: int
    key_hint: str
    latency_ms: int

    def as_dict(self) -> dict:
        return {
            "output": self.output, "model": self.model, "provider": self.provider, "source": self.source,
            "fallback_reason": self.fallback_reason or None, "key_hint": self.key_hint or None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": self.output_tokens},
            "credits_charged": self.credits_charged, "latency_ms": self.latency_ms,
        }


# --- the core's lifespan, shared by the ASGI data plane and the bridge's own loop --------------------------------

async def core_start(stop: asyncio.Event) -> list[asyncio.Task]:
    """Fresh caches and usage batch for this loop; the generation watcher and the usage flusher, until `stop`."""
    cache.drop_all()
    clients.drop_all()
    usage.batch = usage.UsageBatch()
    return [asyncio.create_task(cache.watch_generation(stop)), asyncio.create_task(usage.batch.run(stop))]


async def core_stop(stop: asyncio.Event, tasks: list[asyncio.Task]) -> None:
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await limits.flush()
    await usage.batch.close()


class _OwnLoop:
    """The bridge's own loop, in a daemon thread, for processes where no ASGI server runs the data plane."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="byok-dataplane", daemon=True)
        self.thread.start()
        self.ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.stop_event = asyncio.Event()
        self.tasks = self.loop.run_until_complete(core_start(self.stop_event))
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        if self.pid != os.getpid() or not self.thread.is_alive():
            return  # a forked child's copy: its thread never ran here
        from ..providers import transport

        async def finish():
            await core_stop(self.stop_event, self.tasks)
            await transport.close()

        try:
            asyncio.run_coroutine_threadsafe(finish(), self.loop).result(STOP_TIMEOUT)
        except Exception:  # noqa: BLE001 -- stopping (often at exit) must not raise; say what may be unwritten
            logger.exception("the data plane's own loop did not stop cleanly; %d usage records unwritten",
                             len(usage.batch.pending))
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(STOP_TIMEOUT)


_lock = threading.Lock()
_attached: list[asyncio.AbstractEventLoop] = []  # the ASGI server's loop while the data plane runs in this process
_own: list[_OwnLoop] = []


def attach(loop: asyncio.AbstractEventLoop) -> None:
    """The data plane started on `loop`: sync callers use it from now on (the bridge's own loop, if any, stops)."""
    with _lock:
        own = _own.pop() if _own else None
        _attached[:] = [loop]
    if own is not None:
        own.stop()


def detach() -> None:
    with _lock:
        _attached.clear()


def _loop() -> asyncio.AbstractEventLoop:
    with _lock:
        if _attached:
            return _attached[0]
        if _own and _own[0].pid != os.getpid():
            _own.clear()  # forked (a Celery worker child): the parent's thread did not come along
        if not _own:
            _own.append(_OwnLoop())
        return _own[0].loop


def stop_own_loop() -> None:
    """Flush and stop the bridge's own loop (at exit; tests that need a clean start)."""
    with _lock:
        own = _own.pop() if _own else None
    if own is not None:
        own.stop()


atexit.register(stop_own_loop)


def run(make: Callable[[], Awaitable]):
    """Run the coroutine `make()` on the data plane's loop and wait for its answer (from a thread, never the loop)."""
    loop = _loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("bridge.run called from the data plane's own loop: await the coroutine instead")
    context = current_request_context()

    async def in_request_context():  # the caller's request id on the loop too (its log lines carry it)
        if context is not None:
            enter_request_context(context)  # the task's own copy of the context: nothing to undo
        return await make()

    return asyncio.run_coroutine_threadsafe(in_request_context(), loop).result(settings.BYOK_LLM_TIMEOUT + STOP_TIMEOUT)


# --- the sync entry point ------------------------------------------------------------------------------------

def complete(*, user: User, workspace_slug: str, task: str, messages: list[dict], max_tokens: int,
             provider: str | None = None, api_key_id: int | None = None) -> CallOutcome:
    """One Chat Completions call for a member of the workspace on the data plane's core (the owner's key when it can
    serve, else platform credentials), its usage written before it returns."""
    family = get_provider(provider).family if provider else None
    body = {"messages": messages, "max_tokens": max_tokens}
    return run(lambda: _complete(user.pk, workspace_slug, Target(family=family, tier=task), body, api_key_id))


async def _complete(user_id: int, slug: str, target: Target, body: dict, api_key_id: int | None) -> CallOutcome:
    await cache.catalog_ready()  # tiers are read from the catalog snapshot, as for a /v1 call
    served = await open_call(user_id=user_id, slug=slug, target=target, api="chat", body=body, stream=False,
                             api_key_id=api_key_id)
    answer = served.first
    entry = await served.record(usage.chat_tokens(answer.get("usage") or {}))
    await usage.batch.flush()
    resolution = served.resolution
    message = (answer.get("choices") or [{}])[0].get("message") or {}
    return CallOutcome(
        output=message.get("content") or "", model=served.model, provider=resolution.provider,
        source=resolution.source, fallback_reason=served.fallback_reason, input_tokens=entry.input_tokens,
        output_tokens=entry.output_tokens, credits_charged=entry.credits_charged, key_hint=entry.key_hint,
        latency_ms=round((time.perf_counter() - served.started) * 1000))
