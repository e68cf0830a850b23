"""Sessions for keys whose provider refreshes them (long-term Bedrock keys: STS session tokens; Bedrock role keys:
AssumeRole sessions).

- Such keys call models with a short-lived session the provider obtains (STS `GetSessionToken`, for a Bedrock key
  once per long-term credential set: the main one and each regional one, stored as one session that expires with
  its first part); the long-term secrets only ever talk to STS. A 5-minute cycle refreshes every session that expires within
  BYOK_SESSION_REFRESH_WINDOW, one task per key; a call that finds its session overdue refreshes it inline.
- Each refresh locks the key's row and re-checks that it is still due, so two workers (or a worker and a call)
  make one session call per key. Throttling and network trouble are retried by the task; credentials the provider
  rejects are not: the key becomes failing, which is audited and emailed once per incident.
- A session the provider refuses (it forgot or revoked it: InvalidClientTokenId, ExpiredToken, UnrecognizedClient)
  is replaced at once by `session_renew_refused`, at most once per cool-down per key in all processes; the cycle
  also renews the session of a key whose breaker a refused session opened, and lets the next call probe it.
- Credentials that cannot be refreshed expire instead: see expiry.py.
"""

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from accounts.models import User
from audit.models import AuditAction
from audit.services.record import audit_record
from core.broker import PUBLISH_RETRY_POLICY
from core.invalidation import generation_bump

from ..models import ProviderKey
from ..providers.outcomes import Category, Failure
from .roles import caller_options

logger = logging.getLogger(__name__)

REFRESH_SESSION_TASK = "byok.tasks.refresh_session"
# A session token this close to expiry is not handed out: the call could outlive it.
SESSION_SAFETY_MARGIN = timedelta(minutes=5)
# STS trouble that passes on its own: the task retries these with backoff.
RETRYABLE = (Category.RATE_LIMITED, Category.PROVIDER_UNAVAILABLE, Category.TIMEOUT, Category.NETWORK)
# The categories of a model call's failure when the provider refuses a key's session (InvalidClientTokenId,
# UnrecognizedClient, ExpiredToken: the long-term secret never reaches the model API, so it is the session).
SESSION_REFUSED = (Category.INVALID_CREDENTIALS, Category.EXPIRED)


class SessionRefreshRetryable(Exception):
    """STS is throttling or unreachable; nothing was written. The task retries with backoff and jitter."""

    def __init__(self, failure: Failure):
        super().__init__(str(failure))
        self.failure = failure


@dataclass(frozen=True)
class SessionRefreshOutcome:
    key_id: int
    status: str  # refreshed, skipped or failed
    key_hint: str = ""
    reason: str = ""  # why skipped (fresh, disabled, …) or the failure category
    expires_at: datetime | None = None
    failure: Failure | None = None

    REFRESHED = "refreshed"
    SKIPPED = "skipped"
    FAILED = "failed"
    DUE = "due"  # a dry run's answer

    def as_dict(self) -> dict:
        data = asdict(self)
        data["expires_at"] = self.expires_at.isoformat() if self.expires_at else None
        data["failure"] = {"category": self.failure.category, "code": self.failure.code,
                           "hint": self.failure.hint} if self.failure else None
        return data


# --- Which keys ----------------------------------------------------------------------------------------------


def session_keys_due(*, now: datetime | None = None, owner: User | None = None) -> QuerySet[ProviderKey]:
    """Keys with sessions whose session is missing or expires within the refresh window, and keys failing because
    their session was refused (whatever its expiry: the provider forgot it).

    Keys whose breaker is open wait for the cool-down, and a refused session is renewed once per cool-down
    (`_renewal_claimed`), so a revoked key is tried once per cool-down rather than every cycle.
    """
    now = now or timezone.now()
    expiring = (Q(session_token_expires_at__isnull=True) | Q(session_token_expires_at__lte=now + _window())) & (
        Q(breaker_open_until__isnull=True) | Q(breaker_open_until__lte=now))
    keys = ProviderKey.objects.session_refreshing().filter(
        Q(enabled=True, owner__plan__byok_allowed=True),
        expiring | Q(failing_since__isnull=False, failure_reason__in=SESSION_REFUSED),
    )
    if owner is not None:
        keys = keys.filter(owner=owner)
    return keys.order_by("id")


def _window() -> timedelta:
    return settings.BYOK_SESSION_REFRESH_WINDOW


def _why_not_refreshable(key: ProviderKey) -> str | None:
    if not key.refreshes_session:
        return "not_long_term"
    if not key.enabled:
        return "key_disabled"
    if not key.owner.plan.byok_allowed:
        return "plan_inactive"
    return None


def _session_valid_beyond(key: ProviderKey, moment: datetime) -> bool:
    return bool(key.session_secret and key.session_token_expires_at and key.session_token_expires_at > moment)


def _scheduled_skip(key: ProviderKey, now: datetime) -> str | None:
    if key.failing_since and key.failure_reason in SESSION_REFUSED and _renewal_claimed(key.pk):
        return None
    if key.breaker_open_until and key.breaker_open_until > now:
        return "cooling_down"
    return "fresh" if _session_valid_beyond(key, now + _window()) else None


def _renewal_skip(key: ProviderKey, now: datetime, *, refused: str | None) -> str | None:
    # Another caller has already stored a new session: that is the answer, without asking STS again.
    if key.session_secret != refused and _session_valid_beyond(key, now + SESSION_SAFETY_MARGIN):
        return "fresh"
    return None if _renewal_claimed(key.pk) else "renewed_recently"


def _renewal_claimed(key_id: int) -> bool:
    """One renewal of a refused session per key per cool-down, in all processes (an atomic add in the shared
    cache). With the cache unreachable nobody claims it: the breaker's own probe still runs once per cool-down."""
    try:
        return cache.add(_renewal_name(key_id), 1, timeout=settings.BYOK_BREAKER_COOLDOWN_SECONDS)
    except Exception:  # noqa: BLE001 -- any cache backend's connection error
        logger.warning("Shared cache unavailable: the refused session of key %s is not renewed now.", key_id)
        return False


def _renewal_spent(key_id: int) -> None:
    """STS refused the key itself: the next renewal waits a cool-down, like the breaker."""
    try:
        cache.set(_renewal_name(key_id), 1, timeout=settings.BYOK_BREAKER_COOLDOWN_SECONDS)
    except Exception:  # noqa: BLE001 -- any cache backend's connection error; the breaker still holds
        pass


def _renewal_name(key_id: int) -> str:
    return f"byok:session-renewal:{key_id}"


def _call_time_skip(key: ProviderKey, now: datetime, *, replacing: str | None = None) -> str | None:
    # A waiting caller finds the session another caller (or process) has just stored; one that replaces a session
    # it found incomplete refreshes unless that session is gone.
    if replacing is not None and key.session_secret == replacing:
        return None
    return "fresh" if _session_valid_beyond(key, now + SESSION_SAFETY_MARGIN) else None


def _no_skip(key: ProviderKey, now: datetime) -> str | None:
    return None


# --- Refreshing ----------------------------------------------------------------------------------------------


def session_refresh(*, key_id: int, force: bool = False) -> SessionRefreshOutcome:
    """Refresh one key's session if it is (still) due. Raises SessionRefreshRetryable on throttling or network
    trouble; rejected credentials come back as a failed outcome (the key is then failing)."""
    return _refresh(key_id=key_id, skip=_no_skip if force else _scheduled_skip, wait=False, actor=None)


def session_refresh_now(*, key: ProviderKey, actor: User | None) -> SessionRefreshOutcome:
    """The owner's "Refresh session now" (and a passing connection test's): a forced refresh, audited with the
    person as actor."""
    try:
        return _refresh(key_id=key.pk, skip=_no_skip, wait=True, actor=actor)
    except SessionRefreshRetryable as exc:
        return SessionRefreshOutcome(key_id=key.pk, status=SessionRefreshOutcome.FAILED, key_hint=key.key_hint,
                                     reason=exc.failure.category, failure=exc.failure)


_flight_locks: dict[int, threading.Lock] = {}
_flight_locks_guard = threading.Lock()


def session_ensure_fresh(*, key_id: int, replacing: str | None = None) -> None:
    """At call time, when the key's session is missing or inside the safety margin, or is the stored session
    `replacing` that the provider found incomplete (providers.outcomes.SessionIncomplete): refresh it once.

    Concurrent callers in this process queue on a per-key lock and find the session the first one stored; other
    processes wait on the row lock and find the same. Raises the categorised `Failure` when STS refuses, so the
    call falls back (and a persistent failure opens the breaker) like any provider failure.
    """
    with _flight_locks_guard:
        flight = _flight_locks.setdefault(key_id, threading.Lock())
    with flight:
        try:
            outcome = _refresh(key_id=key_id, skip=partial(_call_time_skip, replacing=replacing), wait=True,
                               actor=None)
        except SessionRefreshRetryable as exc:
            raise exc.failure from None
    if outcome.failure is not None:
        raise outcome.failure


def session_renew_refused(*, key_id: int, refused: str | None) -> SessionRefreshOutcome:
    """A call on the key's session `refused` (its stored session_secret) was refused by the provider (a failure
    whose category is in SESSION_REFUSED): get a new session at once, at most once per cool-down per key.

    REFRESHED, or SKIPPED "fresh" when another caller has just stored one: retry the call on the stored session.
    SKIPPED "renewed_recently": this cool-down's renewal is spent; FAILED: STS refused the long-term key (the key
    is now failing, audited once) or is unreachable. Either way the call falls back as usual. Never raises for a
    provider failure. Concurrent callers in this process queue on the key's lock and find the first one's session.
    """
    with _flight_locks_guard:
        flight = _flight_locks.setdefault(key_id, threading.Lock())
    with flight:
        try:
            outcome = _refresh(key_id=key_id, skip=partial(_renewal_skip, refused=refused), wait=True, actor=None)
        except SessionRefreshRetryable as exc:
            return SessionRefreshOutcome(key_id=key_id, status=SessionRefreshOutcome.FAILED,
                                         reason=exc.failure.category, failure=exc.failure)
    return outcome


def lock_key(key_id: int, *, wait: bool) -> ProviderKey | None:
    """The key's row, locked until the transaction ends. The scheduled path skips a row another worker holds
    (it is being refreshed); the call path waits for it. SQLite ignores both: it serialises writers itself."""
    rows = ProviderKey.objects.select_related("owner__plan").filter(pk=key_id)
    return rows.select_for_update(skip_locked=not wait, of=("self",)).first()


def _refresh(*, key_id: int, skip, wait: bool, actor: User | None) -> SessionRefreshOutcome:
    with transaction.atomic():
        key = lock_key(key_id, wait=wait)
        if key is None:
            return SessionRefreshOutcome(key_id=key_id, status=SessionRefreshOutcome.SKIPPED, reason="locked_or_gone")
        now = timezone.now()
        reason = _why_not_refreshable(key) or skip(key, now)
        if reason:
            return SessionRefreshOutcome(key_id=key_id, status=SessionRefreshOutcome.SKIPPED, key_hint=key.key_hint,
                                         reason=reason, expires_at=key.session_token_expires_at)
        try:
            session, expires_at = _get_session_token(key)
        except Failure as failure:
            if failure.category in RETRYABLE:
                raise SessionRefreshRetryable(failure) from None
            _mark_failing(key, failure, now=now)
            _renewal_spent(key.pk)
            return SessionRefreshOutcome(key_id=key_id, status=SessionRefreshOutcome.FAILED, key_hint=key.key_hint,
                                         reason=failure.category, failure=failure)
        key.set_session(session, expires_at)
        if key.failing_since and key.failure_reason in SESSION_REFUSED:
            key.breaker_open_until = now  # the next call probes the key on its new session
        key.save(update_fields=["session_secret", "session_token_expires_at", "breaker_open_until", "updated_at"])
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.SESSION_REFRESHED, actor=actor, system_actor="session_refresh",
                     owner=key.owner, target=key, details={"expires_at": expires_at.isoformat()})
    return SessionRefreshOutcome(key_id=key_id, status=SessionRefreshOutcome.REFRESHED, key_hint=key.key_hint,
                                 expires_at=expires_at)


def _get_session_token(key: ProviderKey) -> tuple[dict, datetime]:
    spec = key.provider_spec
    # A role key's session comes from AssumeRole with the platform's credentials and the owner's external ID.
    return spec.session_refresh(key.get_credentials(), inference_profile=key.inference_profile,
                                duration_seconds=settings.BYOK_SESSION_DURATION,
                                timeout=settings.BYOK_SESSION_STS_TIMEOUT, **caller_options(spec, key.owner))


def _mark_failing(key: ProviderKey, failure: Failure, *, now: datetime) -> None:
    """The key stops serving calls until the cool-down has passed; audited (and so emailed) once per incident."""
    cooldown_until = now + timedelta(seconds=settings.BYOK_BREAKER_COOLDOWN_SECONDS)
    started = ProviderKey.objects.filter(pk=key.pk, failing_since__isnull=True).update(
        failing_since=now, failure_reason=failure.category, breaker_open_until=cooldown_until)
    if not started:
        # Same incident: only push the next attempt one cool-down further.
        ProviderKey.objects.filter(pk=key.pk).update(breaker_open_until=cooldown_until)
        return
    generation_bump("gateway")  # cached resolutions in every data-plane process drop
    audit_record(action=AuditAction.SESSION_REFRESH_FAILED, actor=None, system_actor="session_refresh",
                 owner=key.owner, target=key,
                 details={"category": failure.category, "hint": failure.hint, "provider_code": failure.code})


# --- The cycle -----------------------------------------------------------------------------------------------


@dataclass
class RefreshFanOut:
    due: int
    queued: int = 0
    broker_unavailable: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def session_refresh_fan_out(*, now: datetime | None = None) -> RefreshFanOut:
    """Queue one refresh task per due key (after commit when inside a transaction).

    When the broker is down the rest are not queued and nothing is written: the keys stay due and the next cycle
    queues them.
    """
    key_ids = list(session_keys_due(now=now).values_list("id", flat=True))
    fan_out = RefreshFanOut(due=len(key_ids))
    transaction.on_commit(partial(_queue_refreshes, key_ids=key_ids, fan_out=fan_out))
    return fan_out


def session_refresh_soon(*, key: ProviderKey) -> None:
    """A key with sessions was saved with new credentials: get its first session in the background.

    Queued after commit; if the broker is down, the next cycle (or the first call) refreshes it.
    """
    if key.refreshes_session:
        transaction.on_commit(partial(_queue_refreshes, key_ids=[key.pk], fan_out=RefreshFanOut(due=1)))


def _queue_refreshes(*, key_ids: list[int], fan_out: RefreshFanOut) -> None:
    # The task by name: byok.tasks imports this module to run the refresh.
    refresh_session = current_app.signature(REFRESH_SESSION_TASK)
    for key_id in key_ids:
        try:
            refresh_session.apply_async(args=(key_id,), retry=True, retry_policy=PUBLISH_RETRY_POLICY)
        except (BrokerUnavailable, OSError) as exc:
            fan_out.broker_unavailable = True
            # The exception text can carry the broker address; its class is enough to diagnose.
            logger.warning("Broker unavailable (%s): %d of %d session refreshes not queued; the next cycle will.",
                           type(exc).__name__, len(key_ids) - fan_out.queued, len(key_ids))
            return
        fan_out.queued += 1


def session_refresh_cycle(*, owner: User | None = None, dry_run: bool = False) -> list[SessionRefreshOutcome]:
    """One cycle, synchronously in this process (the staff command): every due key, each outcome reported."""
    outcomes = []
    for key in session_keys_due(owner=owner).only("id", "key_hint", "session_token_expires_at"):
        if dry_run:
            outcomes.append(SessionRefreshOutcome(key_id=key.pk, status=SessionRefreshOutcome.DUE, key_hint=key.key_hint,
                                                  expires_at=key.session_token_expires_at))
            continue
        try:
            outcomes.append(session_refresh(key_id=key.pk))
        except SessionRefreshRetryable as exc:
            outcomes.append(SessionRefreshOutcome(key_id=key.pk, status=SessionRefreshOutcome.FAILED,
                                                  key_hint=key.key_hint, reason=exc.failure.category,
                                                  failure=exc.failure))
    return outcomes
