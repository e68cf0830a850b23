"""Cross-process invalidation for in-process caches (the data plane's): one generation number per topic.

A write that changes what a cache holds calls `generation_bump(topic)`; after its transaction commits, the number in
the shared cache (Redis, or the database cache) moves on and this process's caches for the topic are dropped at
once. Other processes watch the number (`generation_changed`, polled by the data plane a few times a second) and drop
theirs when it moves. A number that is missing (evicted, or a new cache) counts as a change: at worst a spurious
reload, never a stale read.
"""

import threading
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction

from .metrics import INVALIDATIONS

_KEY = "byok:generation:{}"
_seen: dict[str, int | None] = {}
_listeners: dict[str, list[Callable[[], None]]] = {}
_lock = threading.Lock()


def on_invalidate(topic: str, listener: Callable[[], None]) -> None:
    """Call `listener` (which drops a cache) whenever the topic's generation moves, here or in another process."""
    _listeners.setdefault(topic, []).append(listener)


def generation_bump(topic: str) -> None:
    """Something the topic's caches hold changed: every process drops them (this one at commit)."""
    transaction.on_commit(lambda: _bump_now(topic))


def _bump_now(topic: str) -> None:
    key = _KEY.format(topic)
    try:
        value = cache.incr(key)
    except ValueError:  # missing: start it (readers already treat a missing number as a change)
        cache.add(key, 1, timeout=None)
        value = cache.get(key)
    _notify(topic, value)


def generation_changed(topic: str) -> bool:
    """Read the shared number; if it moved since this process last looked, drop the topic's caches and say so."""
    value = cache.get(_KEY.format(topic))
    with _lock:
        changed = value is None or value != _seen.get(topic)
    if changed:
        _notify(topic, value)
    return changed


def _notify(topic: str, value: int | None) -> None:
    INVALIDATIONS.labels(topic=topic).inc()
    with _lock:
        _seen[topic] = value
    for listener in _listeners.get(topic, ()):
        listener()
