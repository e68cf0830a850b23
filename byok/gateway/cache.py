"""In-process caches of the data plane, dropped when the "gateway" generation moves (core.invalidation).

Every write that changes what a member's call would resolve to (keys, plans, memberships, breakers, sessions,
expiry) calls `generation_bump("gateway")`: this process drops its caches at commit; every other process notices
within WATCH_INTERVAL (a background task reads the shared number in a thread) and drops its own. A cached
resolution also expires by itself at the first moment it could change on its own (a key's expiry, a breaker's
cool-down), and after MAX_AGE at the latest.
"""

import asyncio
import logging
import threading
import time

from django.db import connection
from django.utils import timezone

from core.invalidation import generation_changed, on_invalidate

from ..catalog.selectors import TOPIC as CATALOG_TOPIC
from ..catalog.selectors import catalog_loaded, catalog_snapshot
from .dbthread import db_once
from .resolve import NotAMemberOfWorkspace, Resolution, credentials_resolve

TOPIC = "gateway"
WATCH_INTERVAL = 0.25  # seconds between reads of the shared generation number
MAX_AGE = 60.0  # seconds: a safety net, never the mechanism
MAX_ENTRIES = 50_000
logger = logging.getLogger(__name__)

_resolutions: dict[tuple, tuple[float, Resolution | None]] = {}  # None: not a member
_lock = threading.Lock()
_epoch = [0]  # moves with every drop: an answer read before a drop is never stored after it


def drop_all() -> None:
    with _lock:
        _epoch[0] += 1
        _resolutions.clear()


on_invalidate(TOPIC, drop_all)


class _UserRef:
    """credentials_resolve needs only the user's pk."""

    __slots__ = ("pk",)

    def __init__(self, pk: int) -> None:
        self.pk = pk


def _valid_until(resolution: Resolution) -> float:
    deadline = time.monotonic() + MAX_AGE
    if resolution.changes_at is not None:
        deadline = min(deadline, time.monotonic() + (resolution.changes_at - timezone.now()).total_seconds())
    return deadline


async def catalog_ready() -> None:
    """Model names and tiers are read from the catalog snapshot in memory: load it (in a thread) when it is missing,
    at start-up and after every catalog change."""
    if not catalog_loaded():
        await db_once(("catalog",), catalog_snapshot)


async def resolution_for(user_id: int, slug: str, family: str | None, api_key_id: int | None = None) -> Resolution:
    """The cached resolution, or one query in a worker thread (connection closed after) on a miss. Cached per calling
    API key too: a provider key scoped to API keys serves only calls made with them."""
    cache_key = (user_id, slug, family, api_key_id)
    entry = _resolutions.get(cache_key)
    if entry is not None and entry[0] > time.monotonic():
        if entry[1] is None:
            raise NotAMemberOfWorkspace(slug)
        return entry[1]
    return await db_once(("resolution", *cache_key), _resolve, cache_key, _epoch[0])


def _resolve(cache_key: tuple, epoch: int) -> Resolution:
    """One query for a cache miss (in a worker thread), stored unless the caches were dropped meanwhile."""
    user_id, slug, family, api_key_id = cache_key
    try:
        resolution = credentials_resolve(user=_UserRef(user_id), workspace_slug=slug, family=family,
                                         api_key_id=api_key_id)
    except NotAMemberOfWorkspace:
        _store(cache_key, time.monotonic() + MAX_AGE, None, epoch)
        raise
    _store(cache_key, _valid_until(resolution), resolution, epoch)
    return resolution


def _store(cache_key, until: float, value, epoch: int) -> None:
    with _lock:
        if epoch != _epoch[0]:
            return
        if len(_resolutions) >= MAX_ENTRIES:
            _resolutions.clear()
        _resolutions[cache_key] = (until, value)


_unreadable = [False]


def _read_generation() -> bool:
    # The watcher's own thread keeps its connection between reads (closed when the process stops).
    try:
        changed = generation_changed(TOPIC)
        generation_changed(CATALOG_TOPIC)  # drops the catalog snapshot; the next resolution reloads it
    except Exception:  # noqa: BLE001 -- the cache or database is away: drop everything rather than serve stale
        if not _unreadable[0]:  # once per outage, not every 250 ms
            logger.warning("gateway generation unreadable; caches are dropped until it is back", exc_info=True)
        _unreadable[0] = True
        connection.close()
        drop_all()
        return True
    if _unreadable[0]:
        logger.info("gateway generation readable again")
        _unreadable[0] = False
    return changed


async def watch_generation(stop: asyncio.Event) -> None:
    """Poll the shared generation number every WATCH_INTERVAL in a dedicated thread until `stop` is set."""
    loop = asyncio.get_running_loop()
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="byok-generation")
    try:
        while not stop.is_set():
            await loop.run_in_executor(executor, _read_generation)
            try:
                await asyncio.wait_for(stop.wait(), WATCH_INTERVAL)
            except TimeoutError:
                pass
    finally:
        await loop.run_in_executor(executor, connection.close)
        executor.shutdown(wait=False)
