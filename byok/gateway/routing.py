"""The path of every LLM call: resolve the credentials, call, fall back to platform credentials, keep score.

- Eligible failures (credentials, expiry, permission, model access, throttling, provider errors, timeouts) fall back
  once to platform credentials when the key's fallback mode allows; a bad request never does.
- A failure that will repeat opens the key's circuit breaker: BYOK is skipped for BYOK_BREAKER_COOLDOWN_SECONDS,
  then one call (claimed atomically, so one process probes) decides. Opening and recovering are audited once per
  incident; the audit trail's owner-notification sink emails the owner.
- The breaker (byok.gateway.breaker) is per key and model and lives on the key's row, so every web process and
  worker sees the same state.
"""

import math
import time
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from core.metrics import record_call

from ..catalog.pricing import TokenCounts, usage_cost
from ..errors import ByokKeyUnavailable, PlatformCreditsExhausted, ProviderCallFailed
from ..models import PlatformCreditUsage, ProviderKey, UsageRecord
from ..providers.outcomes import Category, Completion, Failure
from ..providers.registry import get_provider
from ..selectors import month_start, platform_credits_used
from ..services.expiry import provider_key_mark_expired
from .breaker import breaker_close, breaker_open, key_probe_claimed, model_blocked, model_breaker, model_probe_claimed
from .clients import client_for
from .resolve import KeyState, Resolution, Source, credentials_resolve, platform_resolution

TOKENS_PER_CREDIT = 1000
LAST_USED_GRANULARITY = timedelta(minutes=1)  # last_used_at is written at most this often per key


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


def llm_complete(*, user: User, workspace_slug: str, task: str, messages: list[dict], max_tokens: int,
                 provider: str | None = None, api_key_id: int | None = None) -> CallOutcome:
    """One LLM call for a member of the workspace, on the owner's key when it can serve, else platform credentials.
    `api_key_id`: the workspace API key the call is made with (provider keys scoped to it win), None otherwise."""
    family = get_provider(provider).family if provider else None
    resolution = credentials_resolve(user=user, workspace_slug=workspace_slug, family=family, api_key_id=api_key_id)
    fallback_reason = ""
    if resolution.source == Source.BYOK:
        model = resolution.model_for(task)
        fallback_reason = byok_gate(resolution, model)
        if not fallback_reason:
            try:
                return _attempt(resolution, user=user, task=task, messages=messages, max_tokens=max_tokens)
            except Failure as failure:
                fallback_reason = byok_failed(resolution, failure, model=model)
        resolution = to_platform(resolution, fallback_reason)
    else:
        fallback_reason = platform_reason(resolution)
    _require_platform_credits(resolution)
    try:
        return _attempt(resolution, user=user, task=task, messages=messages, max_tokens=max_tokens,
                        fallback_reason=fallback_reason)
    except Failure as failure:
        raise ProviderCallFailed(failure, source=Source.PLATFORM, provider=resolution.provider) from None


# --- the routing rules, shared by this sync path and the data plane (byok.gateway.dataplane) -------------------

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


def byok_failed(resolution: Resolution, failure: Failure, *, model: str) -> str:
    """The owner's key failed (before any output): mark, open the breaker, and return the fallback reason, or raise
    when there is no fallback (a bad request is the caller's own; an exclusive key never falls back)."""
    key = resolution.key
    if failure.category == Category.EXPIRED:
        provider_key_mark_expired(key_id=key.id, provider_code=failure.code)  # temporary keys only
    if failure.persistent:
        breaker_open(resolution, failure, model=model)
    if not failure.fallback_eligible or key.fallback_mode == ProviderKey.FallbackMode.NONE:
        raise ProviderCallFailed(failure, source=Source.BYOK, provider=resolution.provider,
                                 key_hint=resolution.key_hint) from None
    return failure.category


def to_platform(resolution: Resolution, fallback_reason: str) -> Resolution:
    """Platform credentials after the owner's key could not serve, unless the key is exclusive."""
    key = resolution.key
    if key.fallback_mode == ProviderKey.FallbackMode.NONE:
        raise ByokKeyUnavailable(f"The owner's key {key.key_hint} is failing and is exclusive (no fallback).",
                                 details={"key_hint": key.key_hint, "reason": fallback_reason})
    return platform_resolution(resolution, reason=fallback_reason, key=key)


def platform_reason(resolution: Resolution) -> str:
    """The fallback reason of a call resolved to platform credentials; an exclusive key that cannot serve raises."""
    if resolution.key is None:
        return ""
    if resolution.byok_allowed and resolution.key.fallback_mode == ProviderKey.FallbackMode.NONE:
        raise ByokKeyUnavailable(
            f"The owner's key {resolution.key.key_hint} cannot serve ({resolution.reason}) and is exclusive.",
            details={"key_hint": resolution.key.key_hint, "reason": resolution.reason})
    return resolution.reason


def _attempt(resolution: Resolution, *, user: User, task: str, messages: list[dict], max_tokens: int,
             fallback_reason: str = "") -> CallOutcome:
    """One call on the resolved credentials; a provider error comes back as a categorised `Failure`."""
    spec, client = client_for(resolution)
    model = resolution.model_for(task)
    started = time.perf_counter()
    try:
        completion = spec.complete(client, model=model, messages=messages, max_tokens=max_tokens)
    except Exception as exc:
        failure = spec.classify(exc, model=model)
        record_call(source=resolution.source, provider=resolution.provider, model=model, outcome=failure.category,
                    seconds=time.perf_counter() - started, fallback_reason=fallback_reason)
        raise failure from None
    record_call(source=resolution.source, provider=resolution.provider, model=model, outcome="ok",
                seconds=time.perf_counter() - started, fallback_reason=fallback_reason)
    latency_ms = round((time.perf_counter() - started) * 1000)
    return _record(resolution, user=user, task=task, completion=completion, latency_ms=latency_ms,
                   fallback_reason=fallback_reason, called_model=model)


def _record(resolution: Resolution, *, user: User, task: str, completion: Completion, latency_ms: int,
            fallback_reason: str, called_model: str) -> CallOutcome:
    byok = resolution.source == Source.BYOK
    tokens = completion.input_tokens + completion.output_tokens
    credits = 0 if byok else math.ceil(tokens / TOKENS_PER_CREDIT)
    key = resolution.key if byok else None
    if key is not None and (key.failing_since or model_breaker(key, called_model)):
        breaker_close(resolution, model=called_model)  # its own transaction: audited transitions are durable
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        UsageRecord.objects.create(
            workspace_id=resolution.workspace_id, user=user, owner_id=resolution.owner_id,
            provider=resolution.provider, model=completion.model, source=resolution.source, task=task,
            key_id=key.id if key else None, key_hint=resolution.key_hint if key else "",
            input_tokens=completion.input_tokens, output_tokens=completion.output_tokens, latency_ms=latency_ms,
            fallback_reason=fallback_reason, credits_charged=credits,
            estimated_cost=usage_cost(provider=resolution.provider, model=completion.model, tokens=TokenCounts(
                input=completion.input_tokens, output=completion.output_tokens)),
        )
        if credits:
            _debit_platform_credits(owner_id=resolution.owner_id, credits=credits)
        if key is not None:
            _mark_used(key)
    return CallOutcome(
        output=completion.output, model=completion.model, provider=resolution.provider, source=resolution.source,
        fallback_reason=fallback_reason, input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens, credits_charged=credits,
        key_hint=resolution.key_hint if key else "", latency_ms=latency_ms,
    )


def _commit_without_waiting_for_disk() -> None:
    """Usage counters are written on every call; waiting for PostgreSQL's fsync at commit doubled the gateway's
    added latency. An asynchronous commit is never corrupt or partial; a database crash may lose the last fraction
    of a second of usage, which is acceptable for usage and credit counters (never used for audit events)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _mark_used(key: KeyState) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_GRANULARITY:
        ProviderKey.objects.filter(pk=key.id).update(last_used_at=now)


def _require_platform_credits(resolution: Resolution) -> None:
    used = platform_credits_used(owner_id=resolution.owner_id)
    if used >= resolution.platform_credits:
        raise PlatformCreditsExhausted(
            f"The workspace owner's platform credits for this month are used up ({used} of "
            f"{resolution.platform_credits}). Calls on the owner's own key are not affected.",
            details={"used": used, "allowance": resolution.platform_credits})


def _debit_platform_credits(*, owner_id: int, credits: int) -> None:
    month = month_start()
    if not PlatformCreditUsage.objects.filter(owner_id=owner_id, month=month).update(used=F("used") + credits):
        usage, created = PlatformCreditUsage.objects.get_or_create(owner_id=owner_id, month=month,
                                                                  defaults={"used": credits})
        if not created:
            PlatformCreditUsage.objects.filter(pk=usage.pk).update(used=F("used") + credits)
