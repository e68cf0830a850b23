"""The provider-key lifecycle: create, update, rotate, enable, disable, delete, revert to platform keys.

Every write validates everything first (nothing is stored when anything is invalid), tests the credentials
before saving unless told not to, and saves with its audit event in one transaction.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import ApiKey, User, Workspace
from audit.models import AuditAction
from audit.services.record import audit_record
from core.invalidation import generation_bump

from ..errors import ConfirmationRequired, ConnectionTestFailed, KeyConflict, KeyInvalid, PlanRequired
from ..models import ProviderKey
from ..providers.base import CleanedKey, Credentials
from ..providers.registry import get_provider
from .connection import ConnectionTestResult, connection_test
from .sessions import session_refresh_soon

_UNSET: Any = object()


def require_byok_plan(owner: User) -> None:
    if not owner.plan.byok_allowed:
        raise PlanRequired(
            f"Your plan ({owner.plan.name}) does not include bring-your-own-key; upgrade to Business or Enterprise.",
            details={"plan": owner.plan.code, "plans_with_byok": ["business", "enterprise"]},
        )


def _owned_workspaces(owner: User, workspaces: Iterable[Workspace]) -> list[Workspace]:
    workspaces = list(workspaces)
    foreign = [w.slug for w in workspaces if w.owner_id != owner.pk]
    if foreign:
        raise KeyInvalid("A key can only serve workspaces its owner owns.",
                         fields={"workspaces": [f"Not your workspace: {', '.join(foreign)}."]})
    return workspaces


def _owned_api_keys(owner: User, api_keys: Iterable[ApiKey]) -> list[ApiKey]:
    api_keys = list(api_keys)
    foreign = [str(a.pk) for a in api_keys if a.workspace_id is None or a.workspace.owner_id != owner.pk]
    if foreign:
        raise KeyInvalid("A key can only serve API keys of workspaces its owner owns.",
                         fields={"api_keys": [f"Not an API key of your workspaces: {', '.join(foreign)}."]})
    return api_keys


def _check_scope(*, scope: str, workspaces: list[Workspace], api_keys: list[ApiKey] = ()) -> None:
    if scope == ProviderKey.Scope.API_KEYS and not api_keys:
        raise KeyInvalid("Choose the API keys this key serves.",
                         fields={"api_keys": ["Select at least one API key, or use another scope."]})
    if scope != ProviderKey.Scope.API_KEYS and api_keys:
        raise KeyInvalid("Only a key scoped to API keys serves selected API keys.",
                         fields={"api_keys": ["Leave empty unless the scope is api_keys."]})
    if scope == ProviderKey.Scope.API_KEYS and workspaces:
        raise KeyInvalid("A key scoped to API keys serves their workspaces through them.",
                         fields={"workspaces": ["Leave empty when the scope is api_keys."]})
    if scope == ProviderKey.Scope.SELECTED and not workspaces:
        raise KeyInvalid("Choose the workspaces this key serves.",
                         fields={"workspaces": ["Select at least one workspace, or use scope all_workspaces."]})
    if scope == ProviderKey.Scope.ALL_WORKSPACES and workspaces:
        raise KeyInvalid("An owner-wide key serves every workspace.",
                         fields={"workspaces": ["Leave empty when the scope is all_workspaces."]})


WEIGHT_MAX = 1000


def _check_pool_place(*, priority: int | None, weight: int) -> None:
    """A key's place in its pool: a priority (lower serves first) and a weight among keys of equal priority."""
    if priority is not None and (not isinstance(priority, int) or not 0 <= priority <= 32767):
        raise KeyInvalid("Bad priority.", fields={"priority": ["A whole number from 0 (first) to 32767."]})
    if not isinstance(weight, int) or not 1 <= weight <= WEIGHT_MAX:
        raise KeyInvalid("Bad weight.", fields={"weight": [f"A whole number from 1 to {WEIGHT_MAX}."]})


def _next_priority(*, owner_id: int, family: str, scope: str) -> int:
    """A new key without a priority serves after the owner's keys of its family and scope (a failover key)."""
    last = (ProviderKey.objects.filter(owner_id=owner_id, family=family, scope=scope)
            .order_by("-priority").values_list("priority", flat=True).first())
    return 0 if last is None else min(last + 1, 32767)


def _check_name(*, key: ProviderKey, name: str) -> None:
    if not name.strip():
        raise KeyInvalid("The key needs a name.", fields={"name": ["Give the key a name, e.g. Production key."]})
    if len(name) > 100:
        raise KeyInvalid("Name too long.", fields={"name": ["At most 100 characters."]})
    if ProviderKey.objects.filter(owner_id=key.owner_id, name=name.strip()).exclude(pk=key.pk).exists():
        raise KeyConflict("Name already used.", fields={"name": ["You already have a key with this name."]})


def _test_or_raise(*, provider: str, cleaned: CleanedKey, inference_profile: str, actor: User,
                   owner_id: int) -> ConnectionTestResult:
    """The passing test result of the unsaved credentials; raises ConnectionTestFailed (nothing stored) otherwise."""
    result = connection_test(provider=provider, credentials=cleaned.credentials, inference_profile=inference_profile,
                             actor=actor, owner_id=owner_id)
    if not result.ok:
        raise ConnectionTestFailed(
            f"The connection test failed ({result.category}); nothing was saved. {result.hint}".strip(),
            details={"test": result.as_dict()},
        )
    return result


def _keep_test(key: ProviderKey, result: ConnectionTestResult | None) -> None:
    """The key's "last test" belongs to the credentials stored now: the test just run on them, or none."""
    if result is None:
        key.last_test_status, key.last_tested_at, key.last_test_summary = "", None, {}
    else:
        key.last_test_status = ProviderKey.TestStatus.OK if result.ok else ProviderKey.TestStatus.FAILED
        key.last_tested_at = result.tested_at
        key.last_test_summary = result.summary()


def _apply(key: ProviderKey, cleaned: CleanedKey, test: ConnectionTestResult | None = None) -> None:
    key.set_credentials(cleaned.credentials)
    key.key_hint = cleaned.key_hint
    key.credential_type = cleaned.credential_type
    key.expires_at = cleaned.expires_at
    key.regions = cleaned.regions
    key.region_hints = cleaned.region_hints
    key.failing_since = None
    key.failure_reason = ""
    key.breaker_open_until = None
    _keep_test(key, test)


@sensitive_variables("credentials", "regional_credentials", "cleaned")
def provider_key_create(
    *,
    owner: User,
    provider: str,
    name: str,
    credentials: Mapping[str, Any],
    inference_profile: str = "",
    regional_credentials: list | None = None,
    fallback_mode: str = ProviderKey.FallbackMode.PLATFORM,
    scope: str = ProviderKey.Scope.ALL_WORKSPACES,
    workspaces: Iterable[Workspace] = (),
    api_keys: Iterable[ApiKey] = (),
    priority: int | None = None,
    weight: int = 1,
    skip_test: bool = False,
    actor: User | None = None,
) -> ProviderKey:
    """Store a new key for `owner`, tested first unless `skip_test`. Keys of one family and scope form a pool:
    `priority` orders them (default: after the others), `weight` shares calls among keys of equal priority."""
    require_byok_plan(owner)
    spec = get_provider(provider)
    profile = spec.profile_for(inference_profile)
    cleaned = spec.clean(credentials, inference_profile=profile, regional_credentials=regional_credentials)
    key = ProviderKey(owner=owner, provider=provider, family=spec.family, name=name.strip(),
                      inference_profile=profile, fallback_mode=fallback_mode, scope=scope)
    workspaces = _owned_workspaces(owner, workspaces)
    api_keys = _owned_api_keys(owner, api_keys)
    _check_name(key=key, name=name)
    _check_scope(scope=scope, workspaces=workspaces, api_keys=api_keys)
    _check_pool_place(priority=priority, weight=weight)
    key.priority = _next_priority(owner_id=owner.pk, family=spec.family, scope=scope) if priority is None else priority
    key.weight = weight
    test = None
    if not skip_test:
        test = _test_or_raise(provider=provider, cleaned=cleaned, inference_profile=profile, actor=actor or owner,
                              owner_id=owner.pk)
    _apply(key, cleaned, test)
    key.full_clean(exclude=["secret", "session_secret", "workspaces", "api_keys"])
    with transaction.atomic():
        key.save()
        key.workspaces.set(workspaces)
        key.api_keys.set(api_keys)
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.KEY_CREATED, actor=actor or owner, owner=owner, target=key,
                     details={"provider": provider, "name": key.name, "scope": scope,
                              "inference_profile": profile, "priority": key.priority, "weight": key.weight,
                              "skip_test": skip_test}
                     | ({"api_keys": sorted(a.pk for a in api_keys)} if api_keys else {}))
        session_refresh_soon(key=key)
    return key


@sensitive_variables("credentials", "regional_credentials", "cleaned", "current", "replacement")
def provider_key_update(
    *,
    key: ProviderKey,
    actor: User,
    name: str = _UNSET,
    inference_profile: str = _UNSET,
    fallback_mode: str = _UNSET,
    scope: str = _UNSET,
    priority: int = _UNSET,
    weight: int = _UNSET,
    workspaces: Iterable[Workspace] = _UNSET,
    api_keys: Iterable[ApiKey] = _UNSET,
    credentials: Mapping[str, Any] | None = None,
    regional_credentials: list | None = None,
    skip_test: bool = False,
) -> ProviderKey:
    """Change settings; credential fields left blank keep the stored secret."""
    requested = {"name": name, "inference_profile": inference_profile, "fallback_mode": fallback_mode, "scope": scope,
                 "priority": priority, "weight": weight}
    changes = {f: v for f, v in requested.items() if v is not _UNSET and v != getattr(key, f)}
    if "priority" in changes or "weight" in changes:
        _check_pool_place(priority=changes.get("priority", key.priority), weight=changes.get("weight", key.weight))
    if "name" in changes:
        _check_name(key=key, name=changes["name"])
        changes["name"] = changes["name"].strip()
    if "inference_profile" in changes:
        changes["inference_profile"] = key.provider_spec.profile_for(changes["inference_profile"])
    new_scope = changes.get("scope", key.scope)
    current_workspaces = list(key.workspaces.all())
    new_workspaces = _owned_workspaces(key.owner, current_workspaces if workspaces is _UNSET else workspaces)
    if new_scope != ProviderKey.Scope.SELECTED and workspaces is _UNSET:
        new_workspaces = []
    current_api_keys = list(key.api_keys.all())
    new_api_keys = _owned_api_keys(key.owner, current_api_keys if api_keys is _UNSET else api_keys)
    if new_scope != ProviderKey.Scope.API_KEYS and api_keys is _UNSET:
        new_api_keys = []
    _check_scope(scope=new_scope, workspaces=new_workspaces, api_keys=new_api_keys)

    secrets_given = any(str(v).strip() for v in (credentials or {}).values()) or regional_credentials is not None
    profile = changes.get("inference_profile", key.inference_profile)
    replacement = test = None
    if secrets_given or "inference_profile" in changes:
        # A new profile re-validates regions, and both re-run the test: the models differ per profile.
        current = key.get_credentials()
        cleaned = key.provider_spec.clean(credentials or {}, keep=current, inference_profile=profile,
                                          regional_credentials=regional_credentials)
        if cleaned.credentials.to_json() != current.to_json():
            replacement = cleaned
        if not skip_test and (replacement or "inference_profile" in changes):
            test = _test_or_raise(provider=key.provider, cleaned=cleaned, inference_profile=profile, actor=actor,
                                  owner_id=key.owner_id)
    details = {f: {"from": getattr(key, f), "to": v} for f, v in changes.items()}
    previous_slugs = sorted(w.slug for w in current_workspaces)
    new_slugs = sorted(w.slug for w in new_workspaces)
    if new_slugs != previous_slugs:
        details["workspaces"] = {"from": previous_slugs, "to": new_slugs}
    previous_ids, new_ids = sorted(a.pk for a in current_api_keys), sorted(a.pk for a in new_api_keys)
    if new_ids != previous_ids:
        details["api_keys"] = {"from": previous_ids, "to": new_ids}
    if replacement is not None:
        details["credentials"] = "credentials changed"
    if not details:
        return key
    with transaction.atomic():
        for field_name, value in changes.items():
            setattr(key, field_name, value)
        if replacement is not None:
            _apply(key, replacement, test)
            key.set_session(None, None)
        elif "inference_profile" in changes:
            _keep_test(key, test)  # other models and regions: the old result no longer says anything
        key.save()
        key.workspaces.set(new_workspaces)
        key.api_keys.set(new_api_keys)
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.KEY_UPDATED, actor=actor, owner=key.owner, target=key, details=details)
        if replacement is not None:
            session_refresh_soon(key=key)
    return key


def regional_sets(key: ProviderKey) -> list[dict]:
    """The key's regional credential sets as hints only: [{"regions": [...], "hint": "AKIA…MYN3"}], by first region."""
    by_hint: dict[str, list[str]] = {}
    for region, region_hint in sorted(key.region_hints.items()):
        by_hint.setdefault(region_hint, []).append(region)
    return sorted(({"regions": regions, "hint": h} for h, regions in by_hint.items()), key=lambda s: s["regions"])


def regional_set_text(entry: Mapping[str, Any]) -> str:
    return f"{', '.join(entry['regions'])} ({entry['hint']})"


@sensitive_variables("current", "regional_credentials")
def _regional_after_rotation(*, key: ProviderKey, regional_credentials: list | None,
                             remove_regional_sets: Iterable[str]) -> tuple[list | None, dict]:
    """The regional sets a rotation stores (the stored ones not removed, then the new ones) and, as hints, what it
    keeps, removes and adds. A stored set is removed only when one of its regions is named in
    `remove_regional_sets`."""
    removing = set(remove_regional_sets)
    stored = key.get_credentials().get("regional", []) if key.region_hints or removing else []
    unknown = sorted(removing - {region for entry in stored for region in entry["regions"]})
    if unknown:
        raise KeyInvalid("No regional credential set serves these regions.", fields={
            "remove_regional_sets": [f"No regional set of this key serves {', '.join(unknown)}."]})
    kept = [entry for entry in stored if not removing & set(entry["regions"])]
    kept_regions = {region: key.region_hints.get(region, "") for entry in kept for region in entry["regions"]}
    new = list(regional_credentials or [])
    for index, entry in enumerate(new):
        taken = [r for r in (entry.get("regions") or []) if isinstance(r, str) and r in kept_regions]
        if taken:
            raise KeyInvalid("A new regional set overlaps a kept one.", fields={
                f"regional_credentials.{index}.regions": [
                    f"{', '.join(taken)} already has a kept credential set ({kept_regions[taken[0]]}): "
                    f"remove that set to replace it."]})
    plan = {
        "kept": [regional_set_text(e) for e in regional_sets(key) if not removing & set(e["regions"])],
        "removed": [regional_set_text(e) for e in regional_sets(key) if removing & set(e["regions"])],
    }
    combined = new + kept
    return (combined if combined or stored else None), plan


@sensitive_variables("credentials", "regional_credentials", "cleaned", "regional")
def provider_key_rotate(
    *, key: ProviderKey, credentials: Mapping[str, Any], actor: User,
    regional_credentials: list | None = None, remove_regional_sets: Iterable[str] = (), skip_test: bool = False,
) -> ProviderKey:
    """Replace the stored secret after testing the new one; the old secret is gone when this returns.

    The regional credential sets stay unless one of their regions is in `remove_regional_sets`;
    `regional_credentials` adds new sets. The audit event names the sets kept, removed and added (hints only)."""
    # What a rotation must name: the new secret, or for keys without one (a role) the new required values.
    spec = key.provider_spec
    secret_names = spec.secret_field_names or {f.name for f in spec.credential_fields if f.required}
    if not any(str(credentials.get(n) or "").strip() for n in secret_names):
        raise KeyInvalid("Rotation needs the new secret.", fields={
            "credentials": [f"Enter the new {' / '.join(sorted(secret_names))}."]})
    regional, plan = _regional_after_rotation(key=key, regional_credentials=regional_credentials,
                                              remove_regional_sets=remove_regional_sets)
    cleaned = key.provider_spec.clean(credentials, keep=_non_secret(key), inference_profile=key.inference_profile,
                                      regional_credentials=regional)
    test = None
    if not skip_test:
        test = _test_or_raise(provider=key.provider, cleaned=cleaned, inference_profile=key.inference_profile,
                              actor=actor, owner_id=key.owner_id)
    previous_hint = key.key_hint
    kept = set(plan["kept"])
    with transaction.atomic():
        _apply(key, cleaned, test)
        key.set_session(None, None)
        key.rotated_at = timezone.now()
        key.save()
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        details = {"credentials": "credentials changed", "hint": {"from": previous_hint, "to": key.key_hint},
                   "skip_test": skip_test}
        if plan["kept"] or plan["removed"] or key.region_hints:
            details["regional_sets"] = {**plan, "added": [regional_set_text(e) for e in regional_sets(key)
                                                          if regional_set_text(e) not in kept]}
        audit_record(action=AuditAction.KEY_ROTATED, actor=actor, owner=key.owner, target=key, details=details)
        session_refresh_soon(key=key)
    return key


def _non_secret(key: ProviderKey) -> Credentials:
    spec = key.provider_spec
    return spec.credentials(spec.values_kept_on_rotation(key.get_credentials()))


def _set_enabled(*, key: ProviderKey, enabled: bool, actor: User) -> ProviderKey:
    if key.enabled == enabled:
        return key
    with transaction.atomic():
        key.enabled = enabled
        key.save(update_fields=["enabled", "updated_at"])
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.KEY_ENABLED if enabled else AuditAction.KEY_DISABLED,
                     actor=actor, owner=key.owner, target=key)
    return key


def provider_key_enable(*, key: ProviderKey, actor: User) -> ProviderKey:
    return _set_enabled(key=key, enabled=True, actor=actor)


def provider_key_disable(*, key: ProviderKey, actor: User) -> ProviderKey:
    """Stop using the key at once; the secret is kept for re-enabling."""
    return _set_enabled(key=key, enabled=False, actor=actor)


def provider_key_delete(*, key: ProviderKey, actor: User) -> None:
    with transaction.atomic():
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.KEY_DELETED, actor=actor, owner=key.owner, target=key,
                     details={"provider": key.provider, "name": key.name})
        key.delete()


def byok_revert_to_platform(*, owner: User, actor: User, confirm: bool) -> int:
    """Destroy all of the owner's credential material; every workspace goes back to platform keys."""
    if confirm is not True:
        raise ConfirmationRequired(
            "Reverting deletes all your stored credentials; confirm to proceed.",
            fields={"confirm": ["Set to true to confirm: this deletes your stored credentials."]},
        )
    with transaction.atomic():
        keys = list(ProviderKey.objects.select_for_update().filter(owner=owner))
        generation_bump("gateway")  # cached resolutions in every data-plane process drop
        audit_record(action=AuditAction.BYOK_REVERTED, actor=actor, owner=owner,
                     details={"deleted_keys": [{"id": k.pk, "hint": k.key_hint, "provider": k.provider} for k in keys]})
        ProviderKey.objects.filter(pk__in=[k.pk for k in keys]).delete()
    return len(keys)
