"""Brute-force protection for every password sign-in: the API token endpoint, the owner console, the staff admin.

The data plane applies the same rules to unknown API keys on `/v1`, per client address (`address_seconds_locked`,
`address_failure_register`; byok.gateway.auth).

Failures are counted per account (the username typed, whether or not it exists) and per client address, in the
shared cache (Redis, or the database cache), so every process sees the same numbers. After
BYOK_LOGIN_FAILURE_LIMIT failures an account or an address is locked for BYOK_LOGIN_LOCKOUT_SECONDS; each further
lockout of the same account or address within a day doubles the cool-off, up to BYOK_LOGIN_LOCKOUT_MAX_SECONDS.
While locked, even the right password is refused. A lockout is audited (LOGIN_LOCKED_OUT: the username, the address,
the surface, never a password).

Enforcement sits in an authentication backend placed first (`LockoutBackend`): it refuses before any password is
checked, so no surface can forget it. Each surface turns the refusal into its own message: the API a 429
`locked_out` with Retry-After, the console and the staff admin a form error that says nothing of which of username
and password was wrong. Failures are counted from Django's `user_login_failed` signal; a successful sign-in clears
the account's count (not the address's: one good account must not unlock an address guessing others).

The cache being unreachable fails open (logged): sign-in keeps working, unprotected, rather than stopping for all.
"""

import hashlib
import logging
import math
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver

from core.errors import DomainError
from core.request_context import client_ip

logger = logging.getLogger(__name__)

_FAILURES = "byok:login:failures:{}"
_LOCKED_UNTIL = "byok:login:locked:{}"
_STRIKES = "byok:login:strikes:{}"
STRIKE_MEMORY_SECONDS = 86400  # lockouts within this long of each other back off
REQUEST_FLAG = "byok_login_locked_for"  # set on the request by the backend: seconds left


class LoginLockedOut(DomainError):
    code = "locked_out"
    status = 429

    def __init__(self, retry_after: int):
        super().__init__(locked_out_message(retry_after), details={"retry_after": retry_after})


def locked_out_message(retry_after: int) -> str:
    minutes = max(1, -(-retry_after // 60))
    return (f"Too many failed sign-in attempts. Sign-in is paused for this account or from this network; "
            f"try again in about {minutes} minute{'s' if minutes != 1 else ''}.")


def _now() -> float:
    return time.time()


def _subjects(request, username: str | None) -> list[tuple[str, str]]:
    """(kind, value) pairs a sign-in attempt counts against."""
    subjects = []
    if username:
        subjects.append(("account", username.strip().casefold()[:254]))
    ip = client_ip(request)
    if ip:
        subjects.append(("address", ip))
    return subjects


def _key(template: str, kind: str, value: str) -> str:
    return template.format(f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}")


def seconds_locked(request, username: str | None) -> int:
    """Seconds until this account and this address may both sign in again; 0 when neither is locked."""
    try:
        return _seconds_locked(_subjects(request, username))
    except Exception:
        logger.exception("login lockout state unreadable (cache down?): sign-in allowed")
        return 0


def address_seconds_locked(ip: str | None) -> int:
    """Seconds until this address may try again; 0 when it is not locked (the data plane's API-key guard)."""
    if not ip:
        return 0
    try:
        locked = _seconds_locked([("address", ip)])
    except Exception as exc:
        _cache_unreachable(exc)
        return 0
    _cache_reachable()
    return locked


def _seconds_locked(subjects: list[tuple[str, str]]) -> int:
    now = _now()
    until = cache.get_many([_key(_LOCKED_UNTIL, kind, value) for kind, value in subjects]).values()
    left = max([u - now for u in until] or [0])
    return math.ceil(left) if left > 0 else 0


_cache_down = False


def _cache_unreachable(exc: Exception) -> None:
    """Logged once per outage, not per request: the data plane asks on every refused key."""
    global _cache_down
    if not _cache_down:
        _cache_down = True
        logger.warning("lockout state unreachable (%s): API keys are not throttled until the cache answers",
                       type(exc).__name__)


def _cache_reachable() -> None:
    global _cache_down
    if _cache_down:
        _cache_down = False
        logger.warning("lockout state reachable again: API-key throttling resumed")


def surface_of(request) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/manage/"):
        return "console"
    if path.startswith("/admin/"):
        return "admin"
    return "other"


def register_failure(request, username: str | None) -> None:
    try:
        _register_failure(_subjects(request, username), username=username, ip=client_ip(request),
                          surface=surface_of(request))
    except Exception:
        logger.exception("login failure not counted (cache down?)")


def address_failure_register(ip: str | None, *, surface: str) -> int:
    """A refused credential from this address (an unknown API key on the data plane), counted by the same rules as
    a failed sign-in; the seconds the address is now locked for (0: not locked)."""
    if not ip:
        return 0
    try:
        _register_failure([("address", ip)], username=None, ip=ip, surface=surface)
    except Exception as exc:
        _cache_unreachable(exc)
        return 0
    return address_seconds_locked(ip)


def _register_failure(subjects: list[tuple[str, str]], *, username: str | None, ip: str | None,
                      surface: str) -> None:
    limit = settings.BYOK_LOGIN_FAILURE_LIMIT
    now = _now()
    for kind, value in subjects:
        if (cache.get(_key(_LOCKED_UNTIL, kind, value)) or 0) > now:
            continue  # already locked (a concurrent attempt): nothing more to count
        failures_key = _key(_FAILURES, kind, value)
        failures = (cache.get(failures_key) or 0) + 1
        if failures < limit:
            cache.set(failures_key, failures, timeout=STRIKE_MEMORY_SECONDS)
            continue
        strikes_key = _key(_STRIKES, kind, value)
        strikes = (cache.get(strikes_key) or 0) + 1
        cooloff = min(settings.BYOK_LOGIN_LOCKOUT_SECONDS * 2 ** (strikes - 1), settings.BYOK_LOGIN_LOCKOUT_MAX_SECONDS)
        cache.set(strikes_key, strikes, timeout=STRIKE_MEMORY_SECONDS + int(cooloff))
        cache.set(_key(_LOCKED_UNTIL, kind, value), now + cooloff, timeout=int(cooloff) + 60)
        cache.delete(failures_key)  # the next lockout takes a full count again, and lasts longer
        logger.warning("sign-in locked for %s after %s failures (%s s)", kind, failures, int(cooloff))
        _audit_lockout(kind=kind, username=username, ip=ip, surface=surface, failures=failures, cooloff=cooloff,
                       strikes=strikes)


def _audit_lockout(*, kind, username, ip, surface, failures, cooloff, strikes) -> None:
    from audit.models import AuditAction
    from audit.services.record import audit_record

    audit_record(action=AuditAction.LOGIN_LOCKED_OUT, actor=None, system_actor="login-guard", details={
        "locked": kind,
        "username": (username or "")[:150],
        "ip": ip,
        "surface": surface,
        "failures": failures,
        "lockout_seconds": int(cooloff),
        "lockout_number": strikes,
    })


def register_success(request, username: str | None) -> None:
    if not username:
        return
    try:
        cache.delete(_key(_FAILURES, "account", username.strip().casefold()[:254]))
    except Exception:
        logger.exception("login failure count not cleared (cache down?)")


class LockoutBackend:
    """First in AUTHENTICATION_BACKENDS: refuses a locked account or address before any password is checked.

    Raising PermissionDenied stops `authenticate()` at once (no other backend runs) and sends `user_login_failed`;
    the flag on the request tells the surface why and keeps the refused attempt out of the count.
    Calls without a request (management commands, the test client's login) are not throttled. It has no
    `get_user` nor permission methods on purpose: it never signs anyone in, and is never a session's backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        username = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        left = seconds_locked(request, username)
        if left:
            setattr(request, REQUEST_FLAG, left)
            raise PermissionDenied("locked out")
        return None


def locked_for(request) -> int:
    """Seconds left of the lockout that refused this request's sign-in, or 0."""
    return getattr(request, REQUEST_FLAG, 0)


@receiver(user_login_failed, dispatch_uid="byok-login-failure-count")
def _count_failure(sender, credentials, request=None, **kwargs):
    if request is None or locked_for(request):
        return
    register_failure(request, credentials.get(get_user_model().USERNAME_FIELD))


@receiver(user_logged_in, dispatch_uid="byok-login-success")
def _clear_failures(sender, request, user, **kwargs):
    if request is not None:
        register_success(request, user.get_username())
