"""What a workspace's next call would use, and the health of that key: the status members and owners read."""

from ..models import ProviderKey
from ..models.keys import key_status
from ..providers.base import TIERS
from ..selectors import platform_credits_remaining
from .resolve import Resolution, Source


def byok_status(*, resolution: Resolution) -> dict:
    """What the next standard call uses, as the console's home page says it (`gateway.serving`): an open breaker on
    the key, or on the standard model, sends it to platform credentials until a probe succeeds."""
    key = resolution.key
    stored = ProviderKey.objects.filter(pk=key.id).values("last_tested_at", "last_test_status").first() if key else None
    model_breakers = (key.model_breakers or {}) if key else {}
    standard_model = resolution.model_for("standard")
    falling_back = resolution.source == Source.BYOK and bool(key.failing_since or standard_model in model_breakers)
    reason = resolution.reason
    if falling_back:
        reason = key.failure_reason or "key_failing" if key.failing_since else model_breakers[standard_model]["reason"]
    return {
        "mode": Source.PLATFORM if falling_back else resolution.source,
        "reason": reason,
        "provider": resolution.provider,
        "key_hint": resolution.key_hint or None,
        "key_status": key_status(key, byok_allowed=resolution.byok_allowed) if key else None,
        "owner": resolution.owner_username,
        "plan": resolution.plan,
        "byok_allowed": resolution.byok_allowed,
        "inference_profile": resolution.inference_profile,
        "region": resolution.region,
        "models": {tier: resolution.model_for(tier) for tier in TIERS},
        "fallback_mode": resolution.fallback_mode,
        "session_expires_at": key.session_token_expires_at if key else None,
        "last_test": {"status": stored["last_test_status"], "tested_at": stored["last_tested_at"]}
        if stored and stored["last_tested_at"] else None,
        "breaker": {
            "state": "open" if key and key.failing_since else "closed",
            "failing_since": key.failing_since if key else None,
            "reason": key.failure_reason if key else "",
            "next_probe_at": key.breaker_open_until if key and key.failing_since else None,
            "models": {model: {"since": entry.get("since"), "reason": entry.get("reason"),
                               "next_probe_at": entry.get("until")} for model, entry in model_breakers.items()},
        },
        "cost_tracking": "billed to your provider account" if resolution.source == Source.BYOK and not falling_back
        else "platform credits",
        "platform_credits_remaining": platform_credits_remaining(owner_id=resolution.owner_id,
                                                                 allowance=resolution.platform_credits),
    }
