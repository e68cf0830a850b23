"""Cross-process invalidation for in-process caches (the data plane's): one generation number per topic.

A write that changes what a cache holds calls `generation_bump(topic)`; this process's caches for the topic are
dropped at once and again after the transaction commits, when the number in the shared cache (Redis, or the
database cache) moves on. Other processes watch the number (`generation_changed`, polled by the data plane a few
times a second) and drop theirs when it moves. A number that is missing (evicted, or a new cache) counts as a
change: at worst a spurious reload, never a stale read.

The "number" is a fresh random token on every bump, not a counter: a counter can repeat a value a process has
already seen (the key is evicted and restarts at 1; the database cache's incr is a non-atomic get-then-set, so two
concurrent bumps can both write N+1, and it re-sets the key with the default 5-minute timeout). A token written by a
bump has never been seen by anyone, so every bump is a change for every watcher.

Callers that keep a cache must also guard its fills (see byok.gateway.auth): a lookup that read the database before
a commit may try to store its answer after the drop; it must not.
"""

import logging
import secrets
import threading
import time
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

from .metrics import INVALIDATIONS

logger = logging.getLogger(__name__)

_KEY = "byok:generation:{}"
_seen: dict[str, str | None] = {}
_checked_at: dict[str, float] = {}
_unreadable: set[str] = set()  # topics whose number could not be read at the last try (logged once per outage)
_listeners: dict[str, list[Callable[[], None]]] = {}
_lock = threading.Lock()


def on_invalidate(topic: str, listener: Callable[[], None]) -> None:
    """Call `listener` (which drops a cache) whenever the topic's generation moves, here or in another process."""
    _listeners.setdefault(topic, []).append(listener)


def generation_bump(topic: str) -> None:
    """Something the topic's caches hold changed: every process drops them.

    This process drops them now (so a read later in this transaction cannot be served from the cache) and again at
    commit (a concurrent request may have re-cached the old, still committed, state in between); the shared number
    moves at commit, so other processes reload only once the change is visible to them.
    """
    _notify(topic, None, remember=False)
    transaction.on_commit(lambda: _bump_now(topic))


def _bump_now(topic: str) -> None:
    INVALIDATIONS.labels(topic=topic).inc()  # counted once per committed change, and once per change seen in a poll
    token = secrets.token_hex(8)
    try:
        cache.set(_KEY.format(topic), token, timeout=None)
    except Exception:  # the write is committed: failing the request now would only hide that
        logger.exception("Could not publish the %r generation: other processes keep their caches until the "
                         "shared cache answers again (they treat an unreadable number as a change).", topic)
        _notify(topic, None, remember=False)
        return
    # Dropped after the write, and our own token remembered: our next poll does not drop the caches a second time
    # for our own change. A change another process published before our write committed before it, so whatever
    # this drop lets in already sees it; one published after our write is a new number, seen at the next poll.
    _notify(topic, token)


def generation_changed(topic: str) -> bool:
    """Read the shared number; if it moved since this process last looked, drop the topic's caches and say so."""
    key = _KEY.format(topic)
    try:
        value = cache.get(key)
        if value is None:
            # Missing: a change. Start a new number so that the next poll can tell "unchanged" again.
            cache.add(key, secrets.token_hex(8), timeout=None)
            value = cache.get(key)
    except Exception as exc:  # noqa: BLE001 -- the shared cache is away: drop the caches rather than serve stale
        if topic not in _unreadable:
            _unreadable.add(topic)
            logger.warning("Could not read the %r generation (%s: %s); dropping this process's caches at every poll "
                           "until the shared cache answers again.", topic, type(exc).__name__, exc)
        value = None
    else:
        if topic in _unreadable:
            _unreadable.discard(topic)
            logger.warning("The %r generation is readable again.", topic)
    with _lock:
        _checked_at[topic] = time.monotonic()
        changed = value is None or value != _seen.get(topic)
    if changed:
        INVALIDATIONS.labels(topic=topic).inc()
        _notify(topic, value)
    return changed


def generation_checked_within(topic: str, seconds: float) -> bool:
    """Whether this process read the topic's number in the last `seconds` (a cache may trust itself that long)."""
    checked = _checked_at.get(topic)
    return checked is not None and time.monotonic() - checked < seconds


def _notify(topic: str, value: str | None, *, remember: bool = True) -> None:
    if remember:
        with _lock:
            _seen[topic] = value
    for listener in _listeners.get(topic, ()):
        listener()
