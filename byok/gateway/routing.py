"""The routing rules of every LLM call (the call itself is byok.gateway.dataplane's, the one call path):

- Eligible failures (credentials, expiry, permission, model access, throttling, provider errors, timeouts) fall back
  once to platform credentials when the key's fallback mode allows; a bad request never does.
- A failure that will repeat opens the key's circuit breaker: BYOK is skipped for BYOK_BREAKER_COOLDOWN_SECONDS,
  then one call (claimed atomically, so one process probes) decides. Opening and recovering are audited once per
  incident; the audit trail's owner-notification sink emails the owner.
- A network failure opens no breaker (the next call tries the key again) but is an incident of the owner's all the
  same: audited once, when it starts, and when the key serves again.
- The breaker (byok.gateway.breaker) is per key and model and lives on the key's row, so every web process and
  worker sees the same state.
- Key pools: an owner's usable keys of the family are tried in rank order (`pool_order`: scope, then priority, by
  weight among equals) and a key-level failure moves the call to the next key, within the same deadline, before any
  platform fallback. A pool holding an exclusive key never falls back to platform credentials. A Claude tier called
  without a family orders the owner's Claude keys across families (`claude_tier_order`).
"""

import random
from dataclasses import replace

from ..errors import ByokKeyUnavailable, ProviderCallFailed
from ..models.keys import is_exclusive
from ..providers.outcomes import Category, Failure
from ..services.expiry import provider_key_mark_expired
from .breaker import (
    breaker_open,
    key_probe_claimed,
    model_blocked,
    model_breaker,
    model_probe_claimed,
    unreachable_open,
)
from .resolve import KeyState, Resolution, Source, key_rank, platform_resolution


def byok_gate_needs_db(resolution: Resolution, model: str) -> bool:
    """Whether deciding to call the key needs a database write (a breaker probe to claim): rarely."""
    return bool(resolution.key.failing_since or model_breaker(resolution.key, model))


def byok_gate(resolution: Resolution, model: str) -> str:
    """"" to call the owner's key for `model`, else why not (an open breaker's reason): the fallback reason.
    After a cool-down one caller in any process claims the probe; the others keep falling back."""
    key = resolution.key
    if key.failing_since and not key_probe_claimed(key):
        return key.failure_reason or "key_failing"
    reason, cooling = model_blocked(key, model)
    if reason and (cooling or not model_probe_claimed(key, model)):
        return reason
    return ""


def pool_order(resolution: Resolution) -> list[Resolution]:
    """The owner's keys in the order this call tries them: by rank; among keys of equal rank, a weighted draw
    without replacement (weights 3 and 1: the first key leads three calls in four)."""
    pool = resolution.pool or (resolution,)
    if len(pool) == 1:
        return list(pool)
    order: list[Resolution] = []
    start = 0
    while start < len(pool):
        end = start
        while end < len(pool) and _group(pool[end]) == _group(pool[start]):
            end += 1
        group = list(pool[start:end])
        while len(group) > 1:
            chosen = random.choices(range(len(group)), weights=[member.key.weight for member in group])[0]
            order.append(group.pop(chosen))
        order += group
        start = end
    return order


def _group(member: Resolution) -> tuple:
    """Keys of one rank share calls by weight within a family; families of equal rank follow each other."""
    return *key_rank(member.key), member.family


def claude_tier_order(resolution: Resolution) -> Resolution:
    """A Claude tier's call on a name without a family: the owner's Claude keys across families, in their order."""
    if not resolution.claude_pool:
        return resolution
    return replace(resolution.claude_pool[0], pool=resolution.claude_pool, claude_pool=())


def pool_exclusive(resolution: Resolution) -> bool:
    """Whether the call may not leave the owner's keys: one of them is exclusive."""
    return any(is_exclusive(member.key) for member in resolution.pool) or is_exclusive(resolution.key)


def byok_failed_needs_db(resolution: Resolution, failure: Failure) -> bool:
    """Whether `byok_failed` writes (a breaker to open, an expiry to mark, a network incident to start)."""
    return failure.persistent or failure.category == Category.EXPIRED or (
        failure.category == Category.NETWORK and not resolution.key.unreachable_since)


def byok_failed(resolution: Resolution, failure: Failure, *, model: str, next_key: KeyState | None = None,
                exclusive: bool = False) -> str:
    """The owner's key failed (before any output): mark, open the breaker, and return the fallback reason, or raise
    when there is no fallback (a bad request is the caller's own; the last key of an `exclusive` pool never falls
    back). `next_key`: the owner's key the call moves to, if any."""
    last = next_key is None
    key = resolution.key
    if failure.category == Category.EXPIRED:
        provider_key_mark_expired(key_id=key.id, provider_code=failure.code)  # temporary keys only
    if failure.persistent:
        breaker_open(resolution, failure, model=model, next_key=next_key, exclusive=exclusive)
    elif failure.category == Category.NETWORK and not key.unreachable_since:
        unreachable_open(resolution, failure, next_key=next_key, exclusive=exclusive)
    if not failure.fallback_eligible or (last and (exclusive or is_exclusive(key))):
        raise ProviderCallFailed(failure, source=Source.BYOK, provider=resolution.provider,
                                 key_hint=resolution.key_hint) from None
    return failure.category


def to_platform(resolution: Resolution, fallback_reason: str) -> Resolution:
    """Platform credentials after the owner's keys could not serve, unless one of them is exclusive."""
    key = resolution.key
    if pool_exclusive(resolution):
        raise ByokKeyUnavailable(f"The owner's key {key.key_hint} is failing and is exclusive (no fallback).",
                                 details={"key_hint": key.key_hint, "reason": fallback_reason})
    return platform_resolution(resolution, reason=fallback_reason, key=key)


def platform_reason(resolution: Resolution) -> str:
    """The fallback reason of a call resolved to platform credentials; an exclusive key that cannot serve raises."""
    if resolution.key is None:
        return ""
    if resolution.byok_allowed and is_exclusive(resolution.key):
        raise ByokKeyUnavailable(
            f"The owner's key {resolution.key.key_hint} cannot serve ({resolution.reason}) and is exclusive.",
            details={"key_hint": resolution.key.key_hint, "reason": resolution.reason})
    return resolution.reason
