"""The circuit breaker, per key and model, on the database so every process sees it.

- A failure that will repeat for every model of the key (invalid credentials, expiry, permission) opens the key's
  breaker: the key row's failing_since / breaker_open_until, as the console and the session refresher know it.
- A model the key cannot use (model_access) opens a breaker for that model only, in the key's `model_breakers`
  column ({model id: {since, reason, until}}): a missing Opus no longer takes Sonnet offline.

After BYOK_BREAKER_COOLDOWN_SECONDS one call, claimed atomically (so one process probes), decides. Opening and
recovering are audited once per incident; every change bumps the "gateway" generation so cached resolutions drop.

A network failure (the provider could not be reached) opens no breaker: it may pass with the next call, so calls
keep trying the key. It is still the owner's incident: the key row's `unreachable_since`, set by the first such
failure and audited then (FALLBACK_ACTIVATED, category network), cleared by the next call the key serves
(BYOK_RECOVERED), as a breaker's.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User, Workspace
from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..models import ProviderKey
from ..models.keys import is_exclusive
from ..providers.outcomes import Category, Failure
from .resolve import KeyState, Resolution, Source, platform_resolution

MODEL_SCOPED = (Category.MODEL_ACCESS,)  # failures that concern one model, not the key


def cooldown() -> timedelta:
    return timedelta(seconds=settings.BYOK_BREAKER_COOLDOWN_SECONDS)


def model_breaker(key: KeyState, model: str) -> dict | None:
    return (key.model_breakers or {}).get(model)


def model_blocked(key: KeyState, model: str, now: datetime | None = None) -> tuple[str, bool]:
    """(reason, cooling) for an open model breaker: cooling while its cool-down runs, else a probe is due.
    ("", False) when the model's breaker is closed."""
    entry = model_breaker(key, model)
    if entry is None:
        return "", False
    until = parse_datetime(entry.get("until") or "")
    return entry.get("reason") or "model_failing", bool(until and until > (now or timezone.now()))


def resolution_for_model(resolution: Resolution, model: str) -> Resolution:
    """What a call of `model` meets, as listings say it: platform credentials while the key's breaker or the model's
    is open (an exclusive key's calls fail instead: its resolution stays, naming the key)."""
    key = resolution.key
    if resolution.source != Source.BYOK or key.fallback_mode == ProviderKey.FallbackMode.NONE:
        return resolution
    if key.failing_since:
        return platform_resolution(resolution, reason=key.failure_reason or "key_failing", key=key)
    entry = model_breaker(key, model)
    if entry is not None:
        return platform_resolution(resolution, reason=entry.get("reason") or "model_failing", key=key)
    return resolution


def key_probe_claimed(key: KeyState) -> bool:
    """After the key's cool-down exactly one caller (in any process) gets to probe the failing key."""
    now = timezone.now()
    claimed = ProviderKey.objects.filter(
        Q(breaker_open_until__isnull=True) | Q(breaker_open_until__lte=now), pk=key.id, failing_since__isnull=False,
    ).update(breaker_open_until=now + cooldown()) == 1
    if claimed:
        generation_bump("gateway")
    return claimed


def model_probe_claimed(key: KeyState, model: str) -> bool:
    """The same for one model's breaker (the row lock serialises the read-modify-write of the JSON column)."""
    now = timezone.now()
    with transaction.atomic():
        row = ProviderKey.objects.select_for_update().filter(pk=key.id).values("model_breakers").first()
        entry = (row or {}).get("model_breakers", {}).get(model) if row else None
        until = parse_datetime(entry.get("until") or "") if entry else None
        if entry is None or (until and until > now):
            return False
        breakers = {**row["model_breakers"], model: {**entry, "until": (now + cooldown()).isoformat()}}
        ProviderKey.objects.filter(pk=key.id).update(model_breakers=breakers)
        generation_bump("gateway")
    return True


def breaker_open(resolution: Resolution, failure: Failure, *, model: str, next_key: KeyState | None = None,
                 exclusive: bool = False) -> None:
    """A persistent failure: open the key's breaker, or the model's for a model-access failure. `next_key`: the
    owner's key the call moves to (its pool's next), if any; `exclusive`: the pool never falls back."""
    now = timezone.now()
    key = resolution.key
    with transaction.atomic():
        if failure.category in MODEL_SCOPED:
            row = ProviderKey.objects.select_for_update().filter(pk=key.id).values("model_breakers").first()
            if row is None or model in (row["model_breakers"] or {}):
                return
            entry = {"since": now.isoformat(), "reason": failure.category, "until": (now + cooldown()).isoformat()}
            opened = ProviderKey.objects.filter(pk=key.id).update(
                model_breakers={**(row["model_breakers"] or {}), model: entry})
        else:
            opened = ProviderKey.objects.filter(pk=key.id, failing_since__isnull=True).update(
                failing_since=now, failure_reason=failure.category, breaker_open_until=now + cooldown())
        if opened:
            generation_bump("gateway")
            audit_record(action=AuditAction.FALLBACK_ACTIVATED, actor=None, system_actor="routing",
                         target=key, **_audit_refs(resolution),
                         details={"category": failure.category, "hint": failure.hint, "provider_code": failure.code,
                                  "model": model if failure.category in MODEL_SCOPED else "",
                                  "scope": "model" if failure.category in MODEL_SCOPED else "key",
                                  "now_serving": _now_serving(key, next_key, exclusive),
                                  "retry_after_seconds": settings.BYOK_BREAKER_COOLDOWN_SECONDS})


def unreachable_open(resolution: Resolution, failure: Failure, *, next_key: KeyState | None = None,
                     exclusive: bool = False) -> None:
    """A network failure on the owner's key: the first of an incident marks the key and is audited (the owner's
    console and email); the next ones, in any process, find it marked. No breaker: the next call tries the key."""
    key = resolution.key
    with transaction.atomic():
        if ProviderKey.objects.filter(pk=key.id, unreachable_since__isnull=True).update(
                unreachable_since=timezone.now()):
            generation_bump("gateway")
            audit_record(action=AuditAction.FALLBACK_ACTIVATED, actor=None, system_actor="routing",
                         target=key, **_audit_refs(resolution),
                         details={"category": failure.category, "hint": failure.hint, "provider_code": failure.code,
                                  "model": "", "scope": "key", "now_serving": _now_serving(key, next_key, exclusive),
                                  "calls_try_key": True, "retry_after_seconds": 0})


def _now_serving(key: KeyState, next_key: KeyState | None, exclusive: bool) -> str:
    if next_key is not None:
        return f"your next key {next_key.key_hint}"
    if exclusive or is_exclusive(key):
        return "nothing (exclusive key)"
    return "platform credentials"


def breaker_close(resolution: Resolution, *, model: str) -> None:
    """A call on the key succeeded: close the key's breaker and the model's, if open, and its network incident — one
    recovery, one audit event (scope "key", "model" or "key and model")."""
    key = resolution.key
    recovered: dict = {}
    with transaction.atomic():
        if (key.failing_since or key.unreachable_since) and ProviderKey.objects.filter(
                Q(failing_since__isnull=False) | Q(unreachable_since__isnull=False), pk=key.id).update(
                failing_since=None, failure_reason="", breaker_open_until=None, unreachable_since=None):
            recovered["key"] = min(since for since in (key.failing_since, key.unreachable_since) if since).isoformat()
        if model_breaker(key, model) is not None:
            row = ProviderKey.objects.select_for_update().filter(pk=key.id).values("model_breakers").first()
            if row is not None and model in (row["model_breakers"] or {}):
                recovered["model"] = row["model_breakers"][model].get("since")
                ProviderKey.objects.filter(pk=key.id).update(
                    model_breakers={m: e for m, e in row["model_breakers"].items() if m != model})
        if not recovered:
            return
        generation_bump("gateway")
        since = min((v for v in recovered.values() if v), default=None)
        audit_record(action=AuditAction.BYOK_RECOVERED, actor=None, system_actor="routing",
                     target=key, **_audit_refs(resolution),
                     details={"failing_since": since, "scope": " and ".join(recovered),
                              "model": model if "model" in recovered else ""})


def _audit_refs(resolution: Resolution) -> dict:
    """Owner and workspace references for an audit event, by id: no query on the call path."""
    return {"owner": User(pk=resolution.owner_id, username=resolution.owner_username),
            "workspace": Workspace(pk=resolution.workspace_id)}
