from core.errors import DomainError


class PlanRequired(DomainError):
    """The owner's plan does not allow BYOK."""

    code = "plan_required"
    status = 403


class KeyInvalid(DomainError):
    """A non-credential field of a key is wrong (name taken, workspace not the owner's, …)."""

    code = "invalid"
    status = 400


class LimitAboveCeiling(DomainError):
    """An owner's limit above the ceiling staff set for their plan."""

    code = "limit_above_plan_ceiling"
    status = 400


class KeyConflict(KeyInvalid):
    """The key clashes with another of the owner's keys (name, owner-wide scope, workspaces already served)."""

    code = "key_conflict"
    status = 409


class ConfirmationRequired(DomainError):
    code = "confirmation_required"
    status = 400


class ConnectionTestFailed(DomainError):
    """Test-before-save failed: nothing was stored. `details["test"]` carries the result."""

    code = "connection_test_failed"
    status = 400


class ByokKeyUnavailable(DomainError):
    """Exclusive mode (fallback_mode=none) and the owner's key cannot serve: never fall back to platform."""

    code = "byok_key_unavailable"
    status = 424


class PlatformCreditsExhausted(DomainError):
    code = "platform_credits_exhausted"
    status = 402


class ProviderCallFailed(DomainError):
    """The provider refused or failed the call. Not the member's auth failure: 424 for the owner's credentials,
    429/502/504 for provider trouble, 400 when the request itself was bad."""

    STATUS = {"invalid_credentials": 424, "expired": 424, "permission_denied": 424, "model_access": 424,
              "rate_limited": 429, "provider_unavailable": 502, "network": 502, "timeout": 504, "bad_request": 400}

    def __init__(self, failure, *, source: str, provider: str, key_hint: str = ""):
        super().__init__(
            f"The {provider} call on {'the owner' if source == 'byok' else 'platform'} credentials failed "
            f"({failure.category}): {failure.hint}",
            details={"category": failure.category, "source": source, "provider": provider, "key_hint": key_hint,
                     "provider_code": failure.code},
        )
        self.code = f"provider_{failure.category}"
        self.status = self.STATUS[failure.category]
