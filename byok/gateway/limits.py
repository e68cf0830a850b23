"""Limits on the call path: requests and tokens per minute, and money per UTC day or month (at the catalog's
prices), on the owner, a workspace, a member or a workspace API key (byok.models.UsageLimit), counted per period in
the shared cache (`django.core.cache`: Redis with
CACHE_URL, whose INCR is atomic across processes; the embedded database cache otherwise, for one process).

Requests are leased: a process takes a slice of the window's remaining allowance with one atomic increment of the
shared counter and spends it locally, so the common call costs a dict lookup. Slices shrink as the window fills (one
unit near the end), so across processes no more than the limit is accepted; units a process leased and did not spend
before the minute ends are the only loss. Tokens and money are known after the call: they are added to the shared
counters off the request path (one sender per process, every SEND_EVERY while calls end, every counter in one trip,
the rest at shutdown), and a call is refused once the period's count (as last read, plus this process's not yet
added) reaches the limit: the overshoot is what calls admitted before the count caught up spent (within one call in
one process). The increment that carries a counter across one of the owner's thresholds (e.g. 80 %) records one
notice, in whichever process made it.

Staff set ceilings per plan (byok.models.PlanCeiling): an owner without a limit of that metric on their whole account
is held to the ceiling, counted per owner; an owner's account-wide limit above it (staff lowered the ceiling after) is
held to the ceiling.

When the shared cache cannot be reached, each limit does what its owner chose: serve (`open`) or refuse (`closed`);
a plan's ceiling serves. Limits and ceilings are read once per owner and kept in memory until the "gateway"
generation moves (a limit or a ceiling was set or removed, the owner's plan changed).
"""

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.core.cache import cache

from core.errors import DomainError
from core.invalidation import on_invalidate

from ..models import PlanCeiling, UsageLimit
from ..models.limits import limit_words
from .dbthread import counters, db, db_once

logger = logging.getLogger(__name__)
WINDOW = 60  # seconds: limits are per minute
LEASE_SHARE = 8  # a lease is at most this fraction of what is left in the window
LEASE_MAX = 1000
TOKENS_REFRESH = 1.0  # seconds between reads of a tokens counter this process has not written to
Metric = UsageLimit.Metric
MONEY = (Metric.MONEY_PER_DAY, Metric.MONEY_PER_MONTH)
MICRO_USD_PER_CENT = 10_000


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
    id: int  # the owner's UsageLimit, or the plan's PlanCeiling
    subject: str
    metric: str
    value: int  # requests, tokens, or US cents
    fail_open: bool
    thresholds: tuple[int, ...] = ()  # percentages the owner hears about once per period
    owner_id: int = 0
    to_platform: bool = False  # past the limit, serve on platform credits instead of refusing
    plan: str = ""  # the plan whose ceiling holds the limit (its name), "" when the owner's own value does
    counter: str = ""  # the shared counter's name: the owner's limit's id unless given

    @property
    def units(self) -> int:
        """The limit in counter units: money is counted in millionths of a dollar."""
        return self.value * MICRO_USD_PER_CENT if self.metric in MONEY else self.value

    @property
    def counter_name(self) -> str:
        return self.counter or str(self.id)


def ceiling_counter(ceiling_id: int, owner_id: int) -> str:
    """A plan ceiling counts each owner on the plan apart."""
    return f"plan{ceiling_id}o{owner_id}"


def _stored_counter(limit: UsageLimit | PlanCeiling, owner_id: int | None) -> str:
    """The counter of an owner's stored limit, or of the plan's ceiling for the owner `owner_id`."""
    return str(limit.pk) if isinstance(limit, UsageLimit) else ceiling_counter(limit.pk, owner_id)


@dataclass
class _Window:
    """This process's view of one limit's counter in one minute."""

    total: int = 0  # the shared counter as last seen
    leased: int = 0  # request units leased and not yet spent here
    unsent: int = 0  # tokens spent here and not yet added to the shared counter
    read_at: float = 0.0  # when `total` of a tokens counter was last read
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_rows: dict[int, tuple[list, list]] = {}  # owner id -> their limits' rows, their plan's ceilings' rows
_limits: dict[tuple, list["Limit"]] = {}  # (owner, workspace, user, API key) -> the limits that count their calls
_windows: dict[tuple[str, str], _Window] = {}
_tasks: set = set()


def drop_all() -> None:
    _rows.clear()
    _limits.clear()


on_invalidate("gateway", drop_all)


def _owner_limits(owner_id: int) -> tuple[list, list]:
    limits = list(UsageLimit.objects.filter(owner_id=owner_id).values_list(
        "id", "subject", "workspace_id", "member_id", "api_key_id", "metric", "value", "fail_mode", "thresholds", "on_exceed"))
    ceilings = list(PlanCeiling.objects.filter(plan__users__id=owner_id).values_list("id", "metric", "value",
                                                                                     "plan__name"))
    return limits, ceilings


async def limits_for(*, owner_id: int, workspace_id: int, user_id: int, api_key_id: int | None) -> list[Limit]:
    """The limits that count a call of `user_id` in the workspace, made with `api_key_id` (or without one): the
    owner's, and their plan's ceilings where the owner set no lower limit on their whole account."""
    caller = (owner_id, workspace_id, user_id, api_key_id)
    limits = _limits.get(caller)
    if limits is None:
        cached = _rows.get(owner_id)
        if cached is None:
            cached = _rows[owner_id] = await db_once(("limits", owner_id), _owner_limits, owner_id)
        if len(_limits) > 10_000:
            _limits.clear()  # callers seen a while ago; their owner's rows stay
        limits = _limits[caller] = _applicable(*cached, *caller)
    return limits


def _applicable(rows: list, ceilings: list, owner_id: int, workspace_id: int, user_id: int,
                api_key_id: int | None) -> list[Limit]:
    limits = [Limit(id=row[0], subject=row[1], metric=row[5], value=row[6], fail_open=row[7] == "open",
                    thresholds=tuple(row[8] or ()), owner_id=owner_id, to_platform=row[9] == "platform")
              for row in rows if _applies(row, workspace_id, user_id, api_key_id)]
    for ceiling_id, metric, value, plan in ceilings:
        position = next((i for i, limit in enumerate(limits)
                         if limit.subject == UsageLimit.Subject.OWNER and limit.metric == metric), None)
        if position is None:
            limits.append(Limit(id=ceiling_id, subject=UsageLimit.Subject.OWNER, metric=metric, value=value,
                                fail_open=True, owner_id=owner_id, plan=plan,
                                counter=ceiling_counter(ceiling_id, owner_id)))
        elif limits[position].value > value:
            limits[position] = replace(limits[position], value=value, plan=plan)
    return limits


def _applies(row, workspace_id: int, user_id: int, api_key_id: int | None) -> bool:
    _, subject, workspace, member, api_key = row[:5]
    if subject == UsageLimit.Subject.OWNER:
        return True
    if subject == UsageLimit.Subject.WORKSPACE:
        return workspace == workspace_id
    if subject == UsageLimit.Subject.MEMBER:
        return workspace == workspace_id and member == user_id
    return api_key is not None and api_key == api_key_id


def _window_now(now: float | None = None) -> tuple[int, float]:
    """(the clock minute's number, seconds until it ends) at `now` (epoch seconds; the present by default)."""
    now = time.time() if now is None else now
    return int(now // WINDOW), WINDOW - now % WINDOW


def _period(metric: str, minute: int) -> tuple[str, float]:
    """(the counter's period, when it ends in epoch seconds, 0 for the minute): the clock minute, the UTC day or the
    UTC month; worked out once a minute per metric."""
    known = _periods.get((metric, minute))
    if known is None:
        if len(_periods) > 64:
            _periods.clear()
        known = _periods[metric, minute] = _period_at(metric, minute)
    return known


def _period_at(metric: str, minute: int) -> tuple[str, float]:
    if metric not in MONEY:
        return str(minute), 0.0
    now = datetime.fromtimestamp(minute * WINDOW, UTC)
    if metric == Metric.MONEY_PER_DAY:
        end = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
        return f"d{now:%Y%m%d}", end.timestamp()
    end = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    return f"m{now:%Y%m}", end.timestamp()


_periods: dict[tuple[str, int], tuple[str, float]] = {}


def _counter_key(counter: str, period: str) -> str:
    return f"byok:limit:{counter}:{period}"


def _add(key: str, amount: int) -> int:
    """Add to the shared counter (kept for two of its periods), atomically on Redis; the new total."""
    try:
        return cache.incr(key, amount)
    except ValueError:  # the period's first count here (or the counter expired): create it, then add
        cache.add(key, 0, timeout=_KEEP[key.rsplit(":", 1)[1][0]])
        return cache.incr(key, amount)


def _add_all(amounts: list[tuple[str, int]]) -> list[int]:
    return [_add(key, amount) for key, amount in amounts]


_KEEP = {"d": 2 * 86_400, "m": 63 * 86_400, "r": 32 * 86_400, **{str(digit): 2 * WINDOW for digit in range(10)}}


def _read(key: str) -> int:
    return cache.get(key) or 0


def used_now(limit: UsageLimit | PlanCeiling, owner_id: int | None = None) -> int:
    """The shared counter of the owner's limit (or of the plan's ceiling for the owner `owner_id`) in its current
    period, in the limit's unit (for the console and the API; sync)."""
    used = cache.get(_counter_key(_stored_counter(limit, owner_id), _period(limit.metric, _window_now()[0])[0])) or 0
    return used // MICRO_USD_PER_CENT if limit.metric in MONEY else used


def _state(limit: Limit, period: str) -> _Window:
    state = _windows.get((limit.counter_name, period))
    if state is None:
        if len(_windows) > 10_000:
            _windows.clear()  # old periods' states; the counters themselves are in the shared cache
        state = _windows[limit.counter_name, period] = _Window()
    return state


@dataclass
class Quota:
    """What a call was admitted under: the headers it answers with, and where its tokens and cost are counted."""

    headers: dict[str, str]
    spent_limits: list[tuple[Limit, str]]  # (tokens or money limit, its period)
    over_limit: bool = False  # a limit is reached whose owner chose platform credits past it

    @property
    def counts_money(self) -> bool:
        return any(limit.metric in MONEY for limit, _ in self.spent_limits)

    def spend(self, *, tokens: int, cost: Decimal | None) -> None:
        """Count the call's tokens and cost (added to the shared counters off the request path)."""
        global _sender
        for limit, period in self.spent_limits:
            amount = int(cost * 1_000_000) if limit.metric in MONEY and cost else tokens if limit.metric not in MONEY \
                else 0
            if amount:
                _state(limit, period).unsent += amount
                _to_send[limit.counter_name, period] = limit, period
        if _to_send and not _sending():
            _sender = _background(_send_soon())


SEND_EVERY = 0.1  # seconds: a process adds its calls' tokens and cost to the shared counters at most this often
_to_send: dict[tuple[str, str], tuple[Limit, str]] = {}  # counters with amounts not yet added to the shared ones
_sender: asyncio.Task | None = None  # one per process: its rounds, one after another, send what calls counted meanwhile
_wake: asyncio.Future | None = None  # what the sender waits on between rounds


def _sending() -> bool:
    return _sender is not None and not _sender.done() and not _sender.get_loop().is_closed()


async def _send_soon() -> None:
    """Add what this process counted to the shared counters every SEND_EVERY seconds while there is some: calls that
    end close together cost one trip to the cache thread (one per call cost ~0.2 ms of every call's time). A process
    adds its own unsent amounts to what it admits against, so only other processes see them late (by at most this
    delay; they re-read a counter once a second)."""
    global _wake
    loop = asyncio.get_running_loop()
    while _to_send:
        _wake = loop.create_future()
        timer = loop.call_later(SEND_EVERY, _wake_sender)
        await _wake
        timer.cancel()
        if not await _send_round():
            return


def _wake_sender() -> None:
    if _wake is not None and not _wake.done():
        _wake.set_result(None)


async def flush() -> None:
    """Send what is unsent (the process is stopping): the sender's round at once, or one now."""
    if _sending() and _sender.get_loop() is asyncio.get_running_loop():
        _wake_sender()
        await _sender
    if _to_send:
        await _send_round()


async def _send_round() -> bool:
    """Every counter with an unsent amount in one trip to the cache thread; False when the cache is away (the amounts
    stay unsent, counted locally, for the next call's round)."""
    batch = [(limit, period, _state(limit, period).unsent) for limit, period in _to_send.values()]
    _to_send.clear()
    try:
        totals = await counters(_add_all, [(_counter_key(limit.counter_name, period), amount)
                                           for limit, period, amount in batch])
    except Exception:  # noqa: BLE001
        logger.warning("limit counter unreachable; %d amounts kept for later", len(batch), exc_info=True)
        _to_send.update({(limit.counter_name, period): (limit, period) for limit, period, _ in batch})
        return False
    for (limit, period, amount), total in zip(batch, totals):
        state = _state(limit, period)
        state.unsent -= amount
        state.total = max(state.total, total)
        _notice_crossed(limit, period, before=total - amount, after=total)
    return True


def _notice_crossed(limit: Limit, period: str, *, before: int, after: int) -> None:
    """The increment that carries the shared counter across a threshold is one in all processes: its process
    records the notice (the audit trail e-mails the owner and ships it to the webhook sink)."""
    for percent in limit.thresholds:
        mark = limit.units * percent / 100
        if before < mark <= after:
            _background(db(_record_notice, limit, period, percent))


def _record_notice(limit: Limit, period: str, percent: int) -> None:
    from accounts.models import User
    from audit.models import AuditAction
    from audit.services.record import audit_record

    audit_record(action=AuditAction.USAGE_LIMIT_THRESHOLD, actor=None, system_actor="limits",
                 owner=User.objects.get(pk=limit.owner_id),
                 details={"limit_id": limit.id, "subject": limit.subject, "metric": limit.metric,
                          "value": limit.value, "percent": percent, "period": period,
                          "past_limit": "platform" if limit.to_platform else "refuse"})


def _background(coroutine) -> asyncio.Task:
    task = asyncio.get_running_loop().create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task


async def admit(limits: list[Limit], *, byok: bool = True) -> Quota | None:
    """Admit a call under `limits` (None without limits), or raise RateLimitExceeded with the 429's headers. A call
    on the owner's keys (`byok`) past a limit whose owner chose platform credits is admitted `over_limit`: routing
    serves it on platform credentials."""
    if not limits:
        return None
    now = time.time()
    minute, reset = _window_now(now)
    tightest: dict[str, tuple[int, Limit]] = {}  # kind -> (the least remaining, its limit), for the headers
    spent_limits = []
    refused: tuple[Limit, str, float] | None = None
    for limit in limits:
        period, ends = _period(limit.metric, minute)
        state = _state(limit, period)
        if limit.metric == Metric.REQUESTS_PER_MINUTE:
            admitted = await _take_request(limit, state, period)
            remaining, kind = max(0, limit.units - state.total + state.leased), "requests"
        else:
            admitted = await _spent_below(limit, state, period)
            remaining = max(0, limit.units - state.total - state.unsent)
            kind = "tokens" if limit.metric == Metric.TOKENS_PER_MINUTE else "money"
            spent_limits.append((limit, period))
        if kind != "money" and (kind not in tightest or remaining < tightest[kind][0]):
            tightest[kind] = remaining, limit
        if not admitted and refused is None:
            refused = limit, kind, ends - now if ends else reset
    headers: dict[str, str] = {}
    for kind, (remaining, limit) in tightest.items():
        headers.update({f"x-ratelimit-limit-{kind}": str(limit.value), f"x-ratelimit-remaining-{kind}": str(remaining),
                        f"x-ratelimit-reset-{kind}": f"{math.ceil(reset)}s"})
    if refused is not None:
        _past_limit(refused[0])
    if refused is not None and byok and refused[0].to_platform:
        return Quota(headers=headers, spent_limits=[], over_limit=True)
    if refused is not None:
        limit, kind, wait = refused
        headers["retry-after"] = str(math.ceil(wait))
        kind_words = "budget" if limit.metric in MONEY else "limit"
        set_by = f"the {limit.plan} plan" if limit.plan else "the workspace owner"
        raise RateLimitExceeded(f"The {kind_words} of {limit_words(limit.metric, limit.value)} on this "
                                f"{_SUBJECT_WORDS[limit.subject]}, set by {set_by}, is reached. Retry after "
                                f"{math.ceil(wait)} s.", headers=headers)
    return Quota(headers=headers, spent_limits=spent_limits)


PAST_LIMIT_SEND = 1.0  # seconds: a process adds its calls past a limit to the shared count at most this often
_past: dict[str, int] = {}  # counter key -> calls past the limit here, not yet added to the shared count


def _past_limit(limit: Limit) -> None:
    """Count a call past the limit (refused, or served on platform credits) in the limit's history, per UTC day:
    one shared increment per second per limit and process, however many calls are refused."""
    key = _counter_key(limit.counter_name, f"r{datetime.now(UTC):%Y%m%d}")
    pending = _past.get(key)
    _past[key] = (pending or 0) + 1
    if pending is None:
        _background(_send_past(key))


async def _send_past(key: str) -> None:
    await asyncio.sleep(PAST_LIMIT_SEND)
    amount = _past.pop(key, 0)
    try:
        await counters(_add, key, amount)
    except Exception:  # noqa: BLE001 -- the history loses these; the limit itself held
        logger.warning("limit counter unreachable; %d calls past a limit not counted in its history", amount,
                       exc_info=True)


def past_limit_by_day(limit: UsageLimit | PlanCeiling, days: list, owner_id: int | None = None) -> dict:
    """{UTC day: calls past the limit that day} for the console and the API (sync)."""
    keys = {_counter_key(_stored_counter(limit, owner_id), f"r{day:%Y%m%d}"): day for day in days}
    return {keys[key]: count for key, count in cache.get_many(list(keys)).items()}


_SUBJECT_WORDS = {"owner": "account", "workspace": "workspace", "member": "member", "api_key": "API key"}


def _unreachable(limit: Limit) -> bool:
    """Serve (the owner chose `open`), or refuse with a 503 that says why."""
    if limit.fail_open:
        return True
    raise LimitCounterUnavailable("The rate-limit counter cannot be reached and the workspace owner chose to refuse "
                                  "calls it cannot count; retry shortly.")


async def _take_request(limit: Limit, state: _Window, period: str) -> bool:
    if state.leased > 0:
        state.leased -= 1
        return True
    async with state.lock:
        if state.leased > 0:
            state.leased -= 1
            return True
        if state.total >= limit.units:
            return False  # this process saw the window full: no shared round trip until the next minute
        lease = max(1, min(LEASE_MAX, (limit.units - state.total) // LEASE_SHARE))
        try:
            state.total = await counters(_add, _counter_key(limit.counter_name, period), lease)
        except Exception:  # noqa: BLE001 -- the counter is away: the owner's choice decides
            logger.warning("rate-limit counter unreachable (limit %s)", limit.counter_name, exc_info=True)
            return _unreachable(limit)
        granted = min(lease, max(0, limit.units - (state.total - lease)))
        _notice_crossed(limit, period, before=state.total - lease, after=state.total - lease + granted)
        if granted == 0:
            return False
        state.leased = granted - 1
        return True


async def _spent_below(limit: Limit, state: _Window, period: str) -> bool:
    now = time.monotonic()
    if now - state.read_at > TOKENS_REFRESH and not state.lock.locked():
        async with state.lock:
            try:
                state.total = max(state.total, await counters(_read, _counter_key(limit.counter_name, period)))
            except Exception:  # noqa: BLE001 -- the counter is away: the owner's choice decides
                logger.warning("rate-limit counter unreachable (limit %s)", limit.counter_name, exc_info=True)
                return _unreachable(limit)
            state.read_at = now
    return state.total + state.unsent < limit.units
