"""Connection tests: do these credentials work, and can they reach the models byok needs?

The provider plug-in runs its checks concurrently (identity, permissions, each model) through the same
client-building code that real calls use; this module turns them into one result, stores it and audits it.
Every test a person asks for (API, console, test-before-save) is throttled here, for every caller: an open test
is an oracle for stolen keys.
"""

import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import User
from audit.models import AuditAction
from audit.services.record import audit_record
from core.errors import DomainError
from core.invalidation import generation_bump

from ..catalog.selectors import tier_models
from ..models import ProviderKey
from ..providers.base import Credentials
from ..providers.outcomes import Category, CheckResult
from ..providers.registry import get_provider
from .roles import caller_options
from .sessions import SESSION_SAFETY_MARGIN, SessionRefreshOutcome, session_refresh_now


def current_tier_models(spec) -> dict[str, str]:
    """Tier -> base model id the provider serves each tier with now (the catalog's): what a test checks."""
    return tier_models(spec)


class TooManyConnectionTests(DomainError):
    code = "throttled"
    status = 429


@dataclass
class ConnectionTestResult:
    ok: bool
    provider: str
    category: str | None = None
    hint: str = ""
    checks: list[CheckResult] = field(default_factory=list)
    account: str | None = None
    duration_ms: int = 0
    tested_at: datetime = field(default_factory=timezone.now)

    @property
    def models(self) -> list[str] | None:
        """The provider's model list, where the test fetched one."""
        return next((c.detail["models"] for c in self.checks if "models" in c.detail), None)

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "valid": self.ok,
            "provider": self.provider,
            "category": self.category,
            "error": self.category,
            "hint": self.hint,
            "account": self.account,
            "models": self.models,
            "checks": [c.as_dict() for c in self.checks],
            "duration_ms": self.duration_ms,
            "tested_at": self.tested_at.isoformat(),
        }

    def summary(self) -> dict:
        """What is kept on the key: per-check outcome without the (long) model list."""
        data = self.as_dict()
        data["checks"] = [{k: v for k, v in c.as_dict().items() if k != "detail"} for c in self.checks]
        data.pop("models")
        return data


@sensitive_variables("credentials")
def connection_test(*, provider: str, credentials: Credentials, inference_profile: str = "",
                    actor: User | None, owner_id: int) -> ConnectionTestResult:
    """Run every check of `provider` on unsaved or stored credentials; never raises for a provider failure.

    A test asked for by a person (`actor`) counts against their and the owner's rate (TooManyConnectionTests);
    system callers (a staff command) pass actor=None.
    """
    if actor is not None:
        _throttle(user_id=actor.pk, owner_id=owner_id)
    started = time.perf_counter()
    spec = get_provider(provider)
    owner = User.objects.get(pk=owner_id) if spec.assumes_role else None
    checks = spec.check(credentials, inference_profile=inference_profile, models=current_tier_models(spec),
                        **(caller_options(spec, owner) if owner else {}))
    failing = sorted((c for c in checks if not c.ok), key=lambda c: Category.PRIORITY.index(c.category))
    return ConnectionTestResult(
        ok=not failing,
        provider=provider,
        category=failing[0].category if failing else None,
        hint=failing[0].hint if failing else "",
        checks=checks,
        account=next((c.detail["account"] for c in checks if "account" in c.detail), None),
        duration_ms=round((time.perf_counter() - started) * 1000),
    )


def _throttle(*, user_id: int, owner_id: int) -> None:
    """At most BYOK_CONNECTION_TEST_RATE tests per user and per owner."""
    count, _, unit = settings.BYOK_CONNECTION_TEST_RATE.partition("/")
    limit, period = int(count), {"s": 1, "sec": 1, "min": 60, "m": 60, "hour": 3600, "h": 3600, "day": 86400}[unit]
    now = time.time()
    window = int(now // period)
    for scope, pk in (("user", user_id), ("owner", owner_id)):
        key = f"byok:connection-tests:{scope}:{pk}:{window}"
        cache.add(key, 0, timeout=period + 1)
        if cache.incr(key) > limit:
            retry_after = max(1, int(period - now % period))
            raise TooManyConnectionTests(
                f"Too many connection tests; try again in {retry_after} s.", details={"retry_after": retry_after}
            )


def provider_key_test_connection(*, key: ProviderKey, actor: User | None) -> ConnectionTestResult:
    """Test a stored key, keep the result on it, and audit it. A persistent failure marks the key failing.

    A passing test proves the key and each model it called: it closes the key's breaker and those models' breakers
    at once, after giving a key with sessions a new one when its session may be what failed (calls use the session,
    the test the long-term credentials)."""
    result = connection_test(provider=key.provider, credentials=key.get_credentials(),
                             inference_profile=key.inference_profile, actor=actor, owner_id=key.owner_id)
    session = _session_renewed_after_test(key, actor=actor) if result.ok else None
    with transaction.atomic():
        key = ProviderKey.objects.select_for_update().get(pk=key.pk)
        key.last_test_status = ProviderKey.TestStatus.OK if result.ok else ProviderKey.TestStatus.FAILED
        key.last_tested_at = result.tested_at
        key.last_test_summary = result.summary()
        closed = _breakers_closed(key, result) if result.ok and session != SessionRefreshOutcome.FAILED else []
        if not result.ok and result.category in Category.PERSISTENT and not key.failing_since:
            key.failing_since, key.failure_reason = result.tested_at, result.category
        key.save(update_fields=["last_test_status", "last_tested_at", "last_test_summary", "failing_since",
                                "failure_reason", "breaker_open_until", "model_breakers", "updated_at"])
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.CONNECTION_TESTED, actor=actor, system_actor="test_provider_key",
                     owner=key.owner, target=key,
                     details={"ok": result.ok, "category": result.category, "account": result.account,
                              **({"breakers_closed": closed} if closed else {}),
                              **({"session": session} if session else {})})
    return result


def _session_renewed_after_test(key: ProviderKey, *, actor: User | None) -> str | None:
    """A key with sessions that was failing, or has no usable session, gets a new session now (the status of the
    refresh); None when it needs none."""
    if not key.refreshes_session:
        return None
    usable = key.session_token_expires_at and key.session_token_expires_at > timezone.now() + SESSION_SAFETY_MARGIN
    if usable and not key.failing_since:
        return None
    return session_refresh_now(key=key, actor=actor).status


def _breakers_closed(key: ProviderKey, result: ConnectionTestResult) -> list[str]:
    """Close the key's breaker and the breakers of the models the test called successfully: "key" and the model
    ids whose breakers closed."""
    closed = ["key"] if key.failing_since else []
    key.failing_since, key.failure_reason, key.breaker_open_until = None, "", None
    proven = {check.target for check in result.checks if check.ok and check.name.startswith("model:")}
    breakers = key.model_breakers or {}
    closed += sorted(model for model in breakers if model in proven)
    key.model_breakers = {model: entry for model, entry in breakers.items() if model not in proven}
    return closed
