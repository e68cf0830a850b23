"""Rate limits on the call path: requests and tokens per minute on the owner, a workspace, a member or a workspace
API key (byok.models.UsageLimit), counted per fixed minute in the shared cache (`django.core.cache`: Redis with
CACHE_URL, whose INCR is atomic across processes; the embedded database cache otherwise, for one process).

Requests are leased: a process takes a slice of the window's remaining allowance with one atomic increment of the
shared counter and spends it locally, so the common call costs a dict lookup. Slices shrink as the window fills (one
unit near the end), so across processes no more than the limit is accepted; units a process leased and did not spend
before the minute ends are the only loss. Tokens are known after the call: they are added to the shared counter off
the request path, and a call is refused once the window's tokens (as last read, plus this process's not yet added)
reach the limit: the overshoot is the tokens of calls admitted before the count caught up.

When the shared cache cannot be reached, each limit does what its owner chose: serve (`open`) or refuse (`closed`).
Limits are read once per owner and kept in memory until the "gateway" generation moves (a limit was set or removed).
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

from django.core.cache import cache

from core.errors import DomainError
from core.invalidation import on_invalidate

from ..models import UsageLimit
from .dbthread import db, db_once

logger = logging.getLogger(__name__)
WINDOW = 60  # seconds: limits are per minute
LEASE_SHARE = 8  # a lease is at most this fraction of what is left in the window
LEASE_MAX = 1000
TOKENS_REFRESH = 1.0  # seconds between reads of a tokens counter this process has not written to
Metric = UsageLimit.Metric


class LimitCounterUnavailable(DomainError):
    """The shared counter of a limit whose owner chose to refuse calls it cannot count."""

    code = "rate_limit_counter_unavailable"
    status = 503


class RateLimitExceeded(DomainError):
    code = "rate_limit_exceeded"
    status = 429

    def __init__(self, message: str, *, headers: dict[str, str]) -> None:
        super().__init__(message, details={"retry_after": int(headers["retry-after"])})  # the REST API's Retry-After
        self.headers = headers  # /v1's


@dataclass(frozen=True)
class Limit:
    id: int
    subject: str
    metric: str
    value: int
    fail_open: bool


@dataclass
class _Window:
    """This process's view of one limit's counter in one minute."""

    total: int = 0  # the shared counter as last seen
    leased: int = 0  # request units leased and not yet spent here
    unsent: int = 0  # tokens spent here and not yet added to the shared counter
    read_at: float = 0.0  # when `total` of a tokens counter was last read
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_rows: dict[int, list] = {}  # owner id -> their limits' rows
_windows: dict[tuple[int, int], _Window] = {}
_tasks: set = set()


def drop_all() -> None:
    _rows.clear()


on_invalidate("gateway", drop_all)


def _owner_limits(owner_id: int) -> list[tuple]:
    return list(UsageLimit.objects.filter(owner_id=owner_id).values_list(
        "id", "subject", "workspace_id", "member_id", "api_key_id", "metric", "value", "fail_mode"))


async def limits_for(*, owner_id: int, workspace_id: int, user_id: int, api_key_id: int | None) -> list[Limit]:
    """The limits that count a call of `user_id` in the workspace, made with `api_key_id` (or without one)."""
    rows = _rows.get(owner_id)
    if rows is None:
        rows = await db_once(("limits", owner_id), _owner_limits, owner_id)
        _rows[owner_id] = rows
    return [Limit(id=row[0], subject=row[1], metric=row[5], value=row[6], fail_open=row[7] == "open")
            for row in rows if _applies(row, workspace_id, user_id, api_key_id)]


def _applies(row, workspace_id: int, user_id: int, api_key_id: int | None) -> bool:
    _, subject, workspace, member, api_key = row[:5]
    if subject == UsageLimit.Subject.OWNER:
        return True
    if subject == UsageLimit.Subject.WORKSPACE:
        return workspace == workspace_id
    if subject == UsageLimit.Subject.MEMBER:
        return workspace == workspace_id and member == user_id
    return api_key is not None and api_key == api_key_id


def _window_now() -> tuple[int, float]:
    now = time.time()
    return int(now // WINDOW), WINDOW - now % WINDOW


def _counter_key(limit: Limit, window: int) -> str:
    return f"byok:limit:{limit.id}:{window}"  # used_now reads the same


def _add(key: str, amount: int) -> int:
    """Add to the shared counter (created for two windows' time), atomically on Redis; the new total."""
    cache.add(key, 0, timeout=2 * WINDOW)
    return cache.incr(key, amount)


def _read(key: str) -> int:
    return cache.get(key) or 0


def used_now(limit_id: int) -> int:
    """The limit's shared counter in the current minute (for the console and the API; sync)."""
    return cache.get(f"byok:limit:{limit_id}:{_window_now()[0]}") or 0


def _state(limit: Limit, window: int) -> _Window:
    state = _windows.get((limit.id, window))
    if state is None:
        if len(_windows) > 10_000:
            current = window
            for stale in [k for k in _windows if k[1] < current]:
                del _windows[stale]
        state = _windows[limit.id, window] = _Window()
    return state


@dataclass
class Quota:
    """What a call was admitted under: the headers it answers with, and where its tokens are counted."""

    headers: dict[str, str]
    token_limits: list[Limit]
    window: int

    def spend_tokens(self, tokens: int) -> None:
        """Count the call's tokens (added to the shared counter off the request path)."""
        for limit in self.token_limits:
            state = _state(limit, self.window)
            state.unsent += tokens
            _background(_send_tokens(limit, self.window))


async def _send_tokens(limit: Limit, window: int) -> None:
    state = _state(limit, window)
    async with state.lock:
        amount = state.unsent  # still counted locally until the shared counter has it
        if not amount:
            return
        try:
            total = await db(_add, _counter_key(limit, window), amount)
        except Exception:  # noqa: BLE001 -- the counter is away: the tokens stay unsent for the next send
            logger.warning("rate-limit counter unreachable; %d tokens kept for later", amount, exc_info=True)
            return
        state.unsent -= amount
        state.total = max(state.total, total)


def _background(coroutine) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def admit(limits: list[Limit]) -> Quota | None:
    """Admit a call under `limits` (None without limits), or raise RateLimitExceeded with the 429's headers."""
    if not limits:
        return None
    window, reset = _window_now()
    reset_text = f"{math.ceil(reset)}s"
    headers: dict[str, str] = {}
    token_limits = []
    refused: tuple[Limit, str] | None = None
    for limit in limits:
        state = _state(limit, window)
        if limit.metric == Metric.REQUESTS_PER_MINUTE:
            admitted = await _take_request(limit, state, _counter_key(limit, window))
            remaining = max(0, limit.value - state.total + state.leased)
            kind = "requests"
        else:
            admitted = await _tokens_left(limit, state, _counter_key(limit, window))
            remaining = max(0, limit.value - state.total - state.unsent)
            kind = "tokens"
            token_limits.append(limit)
        if kind not in _seen(headers) or remaining < int(headers[f"x-ratelimit-remaining-{kind}"]):
            headers.update({f"x-ratelimit-limit-{kind}": str(limit.value),
                            f"x-ratelimit-remaining-{kind}": str(remaining),
                            f"x-ratelimit-reset-{kind}": reset_text})
        if not admitted and refused is None:
            refused = limit, kind
    if refused is not None:
        limit, kind = refused
        headers["retry-after"] = str(math.ceil(reset))
        raise RateLimitExceeded(
            f"Rate limit reached: {limit.value} {kind} per minute on this {_SUBJECT_WORDS[limit.subject]}, set by the "
            f"workspace owner. Retry after {math.ceil(reset)} s.", headers=headers)
    return Quota(headers=headers, token_limits=token_limits, window=window)


_SUBJECT_WORDS = {"owner": "account", "workspace": "workspace", "member": "member", "api_key": "API key"}


def _seen(headers: dict) -> set[str]:
    return {kind for kind in ("requests", "tokens") if f"x-ratelimit-limit-{kind}" in headers}


def _unreachable(limit: Limit) -> bool:
    """Serve (the owner chose `open`), or refuse with a 503 that says why."""
    if limit.fail_open:
        return True
    raise LimitCounterUnavailable("The rate-limit counter cannot be reached and the workspace owner chose to refuse "
                                  "calls it cannot count; retry shortly.")


async def _take_request(limit: Limit, state: _Window, key: str) -> bool:
    if state.leased > 0:
        state.leased -= 1
        return True
    async with state.lock:
        if state.leased > 0:
            state.leased -= 1
            return True
        if state.total >= limit.value:
            return False  # this process saw the window full: no shared round trip until the next minute
        lease = max(1, min(LEASE_MAX, (limit.value - state.total) // LEASE_SHARE))
        try:
            state.total = await db(_add, key, lease)
        except Exception:  # noqa: BLE001 -- the counter is away: the owner's choice decides
            logger.warning("rate-limit counter unreachable (limit %s)", limit.id, exc_info=True)
            return _unreachable(limit)
        granted = min(lease, max(0, limit.value - (state.total - lease)))
        if granted == 0:
            return False
        state.leased = granted - 1
        return True


async def _tokens_left(limit: Limit, state: _Window, key: str) -> bool:
    now = time.monotonic()
    if now - state.read_at > TOKENS_REFRESH and not state.lock.locked():
        async with state.lock:
            try:
                state.total = max(state.total, await db(_read, key))
            except Exception:  # noqa: BLE001 -- the counter is away: the owner's choice decides
                logger.warning("rate-limit counter unreachable (limit %s)", limit.id, exc_info=True)
                return _unreachable(limit)
            state.read_at = now
    return state.total + state.unsent < limit.value
