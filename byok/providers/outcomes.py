"""What provider calls produce: failures with a category and an actionable hint, check results, completions.

Messages here are written by us from the error class and code, never copied from the provider's text or
from the request, so no secret can travel through them.
"""

import concurrent.futures
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from django.conf import settings


class Category:
    INVALID_CREDENTIALS = "invalid_credentials"
    EXPIRED = "expired"
    PERMISSION_DENIED = "permission_denied"
    MODEL_ACCESS = "model_access"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    TIMEOUT = "timeout"
    NETWORK = "network"
    BAD_REQUEST = "bad_request"

    # Ordered by what an owner must fix first when several checks fail.
    PRIORITY = (INVALID_CREDENTIALS, EXPIRED, PERMISSION_DENIED, MODEL_ACCESS, RATE_LIMITED,
                PROVIDER_UNAVAILABLE, TIMEOUT, NETWORK, BAD_REQUEST)
    # Failures that will repeat on every call until the owner acts: the circuit breaker opens on these.
    PERSISTENT = (INVALID_CREDENTIALS, EXPIRED, PERMISSION_DENIED, MODEL_ACCESS)


@dataclass(eq=False)
class Failure(Exception):
    category: str
    hint: str
    code: str = ""  # the provider's error code or class, for support (never a secret)
    status: int | None = None

    def __str__(self) -> str:
        return f"{self.category}: {self.hint}"

    @property
    def fallback_eligible(self) -> bool:
        """A bad request is the caller's fault: the platform would fail the same way."""
        return self.category != Category.BAD_REQUEST

    @property
    def persistent(self) -> bool:
        return self.category in Category.PERSISTENT


class SessionIncomplete(Failure):
    """A stored session lacks a part the credentials need (one stored before regional credential sets had sessions
    of their own): the caller refreshes it rather than sign with a long-term secret. A `Failure` (provider
    unavailable: not the owner's doing, not persistent), so a call that still finds it incomplete falls back."""

    def __init__(self, hint: str) -> None:
        super().__init__(Category.PROVIDER_UNAVAILABLE, hint, code="SessionIncomplete")


@dataclass
class CheckResult:
    """One check of a connection test: a model call, an identity or a permission probe."""

    name: str  # e.g. "model:standard", "sts:GetCallerIdentity"
    ok: bool
    target: str = ""  # the model id or API called
    region: str = ""
    category: str | None = None
    hint: str = ""
    code: str = ""
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_call(cls, name: str, call: Callable[[], dict | None], *, target: str = "", region: str = "",
                  classify: Callable[[BaseException], Failure]) -> "CheckResult":
        try:
            detail = call() or {}
        except Exception as exc:  # every provider error becomes a categorised result, never an escape
            failure = exc if isinstance(exc, Failure) else classify(exc)
            return cls(name=name, ok=False, target=target, region=region, category=failure.category,
                       hint=failure.hint, code=failure.code)
        return cls(name=name, ok=True, target=target, region=region, detail=detail)


def run_concurrently(checks: list[Callable[[], CheckResult]]) -> list[CheckResult]:
    """Run the checks of one test in parallel: the test takes as long as its slowest call, not their sum."""
    if len(checks) == 1:
        return [checks[0]()]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(checks), 8)) as pool:
        return list(pool.map(lambda check: check(), checks))


def check_timeout() -> float:
    return settings.BYOK_CONNECTION_TEST_TIMEOUT
