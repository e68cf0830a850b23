"""byok keys (workspace API keys and control-plane API tokens, both `accounts.ApiKey` rows): who a key speaks for,
from an in-process cache in front of one query. Used by the data plane and by the REST API's authentication.

`authenticate_api_key(raw_key)` answers an `ApiKeyPrincipal`, or None for a key that must be refused. Answers,
good and bad, are cached in this process (bounded LRUs keyed by the key's SHA-256, never the key): a hit costs
no query. The caches are dropped whenever the "gateway" generation moves (core.invalidation): at once in the
process that revoked a key or removed a member, and in every other process on its next poll of
`generation_changed("gateway")`. The data plane polls every 100 ms; code that does not poll (the REST API's
authentication) is covered because `authenticate_api_key` polls itself when the last poll is older than
POLL_INTERVAL. A cached principal is never served past its key's `expires_at`.

Async code calls `cached_principal(raw_key)` first: it never touches the database (nor the shared cache) and
answers NOT_CACHED when it cannot answer from memory, or when this process has not polled for FRESH_FOR seconds
(its cache might then be stale); then it calls `authenticate_api_key` in a thread.

Guessing is throttled: a key that is not a cached good one is looked up by `authenticate_api_key_from`, which
refuses every lookup from an address the lockout rules have locked (accounts.lockout: the sign-in limit and
back-off, in the shared cache) and counts each refused key against the address. A good key in memory costs nothing
more; a locked address gets no answer about any other key.

Fills are guarded: a lookup notes the cache's epoch before its query and stores its answer only if no drop
happened meanwhile, so an answer read before a revocation committed is never stored after the drop.
"""

import threading
import time
from collections import OrderedDict
from typing import Final

from django.utils import timezone

from accounts.lockout import address_failure_register, address_seconds_locked
from accounts.models import ApiKey
from accounts.selectors import ApiKeyPrincipal, api_key_principal
from core.errors import DomainError
from core.invalidation import generation_changed, generation_checked_within, on_invalidate

TOPIC = "gateway"
POLL_INTERVAL = 0.1  # seconds between polls of the generation when nothing else polls
FRESH_FOR = 0.5  # cached_principal answers from memory only if this process polled this recently
MAX_VALID = 10_000
MAX_INVALID = 10_000  # kept apart: a flood of made-up keys must not evict the good ones
MARK_USED_EVERY = 60.0


class _NotCached:
    def __repr__(self) -> str:
        return "NOT_CACHED"


NOT_CACHED: Final = _NotCached()


class PrincipalCache:
    """Two bounded LRUs (valid keys, refused keys), keyed by the key's SHA-256, with an epoch for guarded fills."""

    def __init__(self, max_valid: int = MAX_VALID, max_invalid: int = MAX_INVALID):
        self._valid: OrderedDict[str, ApiKeyPrincipal] = OrderedDict()
        self._invalid: OrderedDict[str, None] = OrderedDict()
        self._max = {"valid": max_valid, "invalid": max_invalid}
        self._lock = threading.Lock()
        self.epoch = 0

    def get(self, digest: str, now) -> ApiKeyPrincipal | None | _NotCached:
        with self._lock:
            principal = self._valid.get(digest)
            if principal is not None:
                if not principal.valid_at(now):
                    del self._valid[digest]  # expired since it was cached: ask the database (which says None)
                    return NOT_CACHED
                self._valid.move_to_end(digest)
                return principal
            if digest in self._invalid:
                self._invalid.move_to_end(digest)
                return None
        return NOT_CACHED

    def put(self, digest: str, principal: ApiKeyPrincipal | None, epoch: int) -> None:
        with self._lock:
            if epoch != self.epoch:  # dropped since the lookup started: its answer may be stale
                return
            table, limit = (self._valid, self._max["valid"]) if principal else (self._invalid, self._max["invalid"])
            table[digest] = principal
            table.move_to_end(digest)
            while len(table) > limit:
                table.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.epoch += 1
            self._valid.clear()
            self._invalid.clear()

    def __len__(self) -> int:
        return len(self._valid) + len(self._invalid)


principals = PrincipalCache()
on_invalidate(TOPIC, principals.clear)


def cached_principal(raw_key: str) -> ApiKeyPrincipal | None | _NotCached:
    """The cached answer for a key, without any I/O; NOT_CACHED when the caller must call `authenticate_api_key`."""
    if not generation_checked_within(TOPIC, FRESH_FOR):
        return NOT_CACHED
    return principals.get(ApiKey.hash_of(raw_key), timezone.now())


def _poll_if_due() -> None:
    if not generation_checked_within(TOPIC, POLL_INTERVAL):
        generation_changed(TOPIC)


def authenticate_api_key(raw_key: str) -> ApiKeyPrincipal | None:
    """Who the key speaks for, or None to refuse it: from the cache, else one query (and cached)."""
    _poll_if_due()
    digest = ApiKey.hash_of(raw_key)
    now = timezone.now()
    cached = principals.get(digest, now)
    if cached is not NOT_CACHED:
        return cached
    epoch = principals.epoch
    principal = api_key_principal(raw_key, now=now)
    principals.put(digest, principal, epoch)
    return principal


class ApiKeyGuessingLocked(DomainError):
    """Too many unknown API keys from one address: its lookups are refused until `retry_after` seconds pass."""

    code = "too_many_invalid_keys"
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(f"Too many invalid API keys from this address; try again in {retry_after} s.",
                         details={"retry_after": retry_after})
        self.retry_after = retry_after


def authenticate_api_key_from(raw_key: str, address: str | None) -> ApiKeyPrincipal | None:
    """`authenticate_api_key` for a caller at `address` whose key is not a cached good one: refused without a lookup
    (ApiKeyGuessingLocked) while the address is locked; a refused key counts against the address, and the attempt
    that reaches the limit is refused as locked. A good key this process still holds (after polling the generation,
    so a revoked one is not) is answered first: a locked address does not lock out the keys it already proved."""
    _poll_if_due()
    known = principals.get(ApiKey.hash_of(raw_key), timezone.now())
    if isinstance(known, ApiKeyPrincipal):
        return known
    locked = address_seconds_locked(address)
    if locked:
        raise ApiKeyGuessingLocked(locked)
    principal = authenticate_api_key(raw_key)
    if principal is None:
        locked = address_failure_register(address, surface="v1")
        if locked:
            raise ApiKeyGuessingLocked(locked)
    return principal


_marked: dict[int, float] = {}
_marked_lock = threading.Lock()


def mark_used_due(api_key_id: int) -> bool:
    """True at most once a minute per key in this process: when a caller should record the key's use
    (`accounts.services.api_key_mark_used`, which also writes at most once a minute per key across processes)."""
    now = time.monotonic()
    with _marked_lock:
        last = _marked.get(api_key_id)
        if last is not None and now - last < MARK_USED_EVERY:
            return False
        if len(_marked) > MAX_VALID:
            _marked.clear()
        _marked[api_key_id] = now
        return True
