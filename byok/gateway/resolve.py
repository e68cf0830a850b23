"""Credential resolution: which credentials serve a member's next call, and why. One query, no plaintext."""

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User

from ..catalog.selectors import tier_model
from ..models import ProviderKey, UsageRecord
from ..providers.base import TIERS, Provider
from ..providers.registry import FAMILIES, PROVIDERS, platform_provider

Source = UsageRecord.Source
CLAUDE_FAMILIES = ("bedrock", "anthropic", "vertex")  # Vertex: Claude on Vertex AI (its tiers are Claude)


@dataclass(frozen=True)
class KeyState:
    """The non-secret state of one candidate key, plus its ciphertexts (decrypted only to build a client)."""

    id: int
    provider: str
    family: str
    credential_type: str
    enabled: bool
    expires_at: datetime | None
    failing_since: datetime | None
    failure_reason: str
    breaker_open_until: datetime | None
    scope: str
    inference_profile: str
    regions: tuple[str, ...]
    fallback_mode: str
    key_hint: str
    region_hints: dict
    session_token_expires_at: datetime | None
    last_used_at: datetime | None
    model_breakers: dict
    unreachable_since: datetime | None
    priority: int
    weight: int
    secret: str = field(repr=False)
    session_secret: str | None = field(repr=False)

    @property
    def pk(self) -> int:
        return self.id

    @property
    def refreshes_session(self) -> bool:
        return PROVIDERS[self.provider].refreshes_session(self.credential_type)

    def hint_for(self, region: str) -> str:
        """The hint of the credential set that serves `region`: a regional set's where it has one, else the key's."""
        return self.region_hints.get(region) or self.key_hint


@dataclass(frozen=True)
class Resolution:
    """Which credentials serve a call, and why. Holds no plaintext.

    `reason` is a stable code: owner_key, workspace_key, api_key_scoped (BYOK); no_key, plan_inactive, key_disabled,
    key_expired, or the failure category of a failing key such as invalid_credentials (platform).
    """

    source: str
    family: str
    provider: str
    reason: str
    owner_id: int
    owner_username: str
    workspace_id: int
    role: str
    plan: str
    byok_allowed: bool
    platform_credits: int
    key: KeyState | None = None
    fallback_mode: str = ProviderKey.FallbackMode.PLATFORM
    inference_profile: str = ""
    region: str = ""
    # Where the owner's key keeps its calls (eu, us, apac, one region; "" anywhere): platform credentials serve its
    # fallback only in that geography (byok.providers.base.Provider.platform_credentials_in).
    geography: str = ""
    # BYOK: the owner's usable keys that may serve the call, in rank order (scope, then priority), each as its own
    # resolution; `key` is the first. A key-level failure moves the call to the next (byok.gateway.routing.pool_order).
    pool: tuple["Resolution", ...] = ()
    # A call naming no family, when the owner holds usable keys of several Claude families: all of them in the
    # owner's order across families (each its own family's resolution), for a Claude tier (`claude_tier_order`).
    claude_pool: tuple["Resolution", ...] = ()
    # The first moment this answer may change by itself (a key's expiry, a breaker's cool-down), for the cache.
    changes_at: datetime | None = None

    @property
    def key_id(self) -> int | None:
        return self.key.id if self.key else None

    @property
    def key_hint(self) -> str:
        """The hint of the credentials serving: on the key, its set for the resolution's region (the key itself
        when the platform serves: it names the key that could not)."""
        if self.key is None:
            return ""
        return self.key.hint_for(self.region) if self.source == Source.BYOK else self.key.key_hint

    @property
    def provider_spec(self) -> Provider:
        return PROVIDERS[self.provider]

    def model_for(self, tier: str) -> str:
        """The model for the tier, under the inference profile: the catalog's current one (byok.catalog), else the
        provider's code default (Sonnet for standard, Opus for complex)."""
        return self.provider_spec.model_for(tier, inference_profile=self.inference_profile,
                                            base=tier_model(self.family, tier))

    def describe(self) -> dict:
        return {
            "source": self.source, "family": self.family, "provider": self.provider, "reason": self.reason,
            "key_id": self.key_id, "key_hint": self.key_hint, "inference_profile": self.inference_profile,
            "region": self.region, "geography": self.geography, "fallback_mode": self.fallback_mode,
            "models": {tier: self.model_for(tier) for tier in TIERS},
        }


_BASE_FIELDS = ("family", "owner_id", "owner_username", "workspace_id", "role", "plan", "byok_allowed",
                "platform_credits")


class NotAMemberOfWorkspace(Exception):
    """The user has no membership in the workspace (or it does not exist): callers answer 404."""


# Columns read by the one query below, in order: the membership and plan part, then the key part (NULL without keys).
_MEMBERSHIP_COLUMNS = ("m.role", "w.id", "o.id", "o.username", "p.code", "p.byok_allowed", "p.monthly_platform_credits")
_KEY_COLUMNS = ("id", "provider", "family", "credential_type", "enabled", "expires_at", "failing_since", "failure_reason",
                "breaker_open_until", "scope", "inference_profile", "regions", "fallback_mode", "key_hint",
                "region_hints", "session_token_expires_at", "last_used_at", "model_breakers", "unreachable_since",
                "priority", "weight", "secret", "session_secret")
_DATETIME_COLUMNS = ("expires_at", "failing_since", "breaker_open_until", "session_token_expires_at", "last_used_at",
                     "unreachable_since")

# One round trip: membership, the owner's plan, and the owner's keys that serve this workspace (keys scoped to API keys
# only for a call made with one of those keys: the first parameter is the calling API key's id, or NULL).
_RESOLVE_SQL = f"""
SELECT {", ".join(_MEMBERSHIP_COLUMNS)}, {", ".join("k." + c for c in _KEY_COLUMNS)}
FROM accounts_membership m
JOIN accounts_workspace w ON w.id = m.workspace_id
JOIN accounts_user o ON o.id = w.owner_id
JOIN accounts_plan p ON p.code = o.plan_id
LEFT JOIN byok_providerkey k ON k.owner_id = o.id AND (
    k.scope = 'all_workspaces'
    OR (k.scope = 'selected' AND EXISTS (
        SELECT 1 FROM byok_providerkey_workspaces kw WHERE kw.providerkey_id = k.id AND kw.workspace_id = w.id))
    OR (k.scope = 'api_keys' AND EXISTS (
        SELECT 1 FROM byok_providerkey_api_keys ka JOIN accounts_apikey a ON a.id = ka.apikey_id
        WHERE ka.providerkey_id = k.id AND ka.apikey_id = %s AND a.workspace_id = w.id))
)
WHERE m.user_id = %s AND w.slug = %s
"""


def _datetime(value) -> datetime | None:
    # Raw queries get naive UTC datetimes (or text) from SQLite and aware ones from PostgreSQL.
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _key_state(row) -> KeyState:
    values = dict(zip(_KEY_COLUMNS, row[len(_MEMBERSHIP_COLUMNS):]))
    for name in _DATETIME_COLUMNS:
        values[name] = _datetime(values[name])
    regions, breakers, region_hints = values["regions"], values["model_breakers"], values["region_hints"]
    values.update(
        model_breakers=(json.loads(breakers) if isinstance(breakers, str) else breakers) or {},
        region_hints=(json.loads(region_hints) if isinstance(region_hints, str) else region_hints) or {},
        enabled=bool(values["enabled"]),
        failure_reason=values["failure_reason"] or "",
        regions=tuple(json.loads(regions) if isinstance(regions, str) else regions or ()),
    )
    return KeyState(**values)


def unusable_reason(key: "KeyState | ProviderKey", now: datetime) -> str | None:
    """Why the key cannot serve now, as a stable code (a failing key gives its failure category)."""
    if not key.enabled:
        return "key_disabled"
    if key.expires_at and key.expires_at <= now:
        return "key_expired"
    if key.failing_since and key.breaker_open_until and key.breaker_open_until > now:
        return key.failure_reason or "key_failing"
    return None


def credentials_resolve(*, user: User, workspace_slug: str, family: str | None = None,
                        api_key_id: int | None = None) -> Resolution:
    """Which credentials serve `user`'s next call in the workspace, for a provider family (or the default one).

    Members inherit the owner's keys. BYOK needs the owner's plan to allow it and a key that is enabled,
    unexpired, not cooling down after failures, and in scope; a key scoped to the calling workspace API key
    (`api_key_id`; None for session and token calls, which never use such keys) wins over a key scoped to selected
    workspaces, which wins over an owner-wide key; within a scope, by the owner's priority (the resolution's `pool`
    holds them all, in that order). Otherwise: platform credentials. Asked for no family, when the default one is
    Claude, the owner's Claude keys of every family are ordered too (`claude_pool`). One database query, no cache: a
    change takes effect on the very next call in every process.
    """
    with connection.cursor() as cursor:
        cursor.execute(_RESOLVE_SQL, [api_key_id, user.pk, workspace_slug])
        rows = cursor.fetchall()
    if not rows:
        raise NotAMemberOfWorkspace(workspace_slug)
    role, workspace_id, owner_id, owner_username, plan, byok_allowed, platform_credits = \
        rows[0][:len(_MEMBERSHIP_COLUMNS)]
    keys = [_key_state(row) for row in rows if row[len(_MEMBERSHIP_COLUMNS)] is not None]
    across_claude = family is None
    if family is None:
        family = _default_family(keys)
    across_claude = across_claude and family in CLAUDE_FAMILIES
    base = dict(family=family, owner_id=owner_id, owner_username=owner_username, workspace_id=workspace_id,
                role=role, plan=plan, byok_allowed=bool(byok_allowed), platform_credits=platform_credits)
    family_keys, now = [k for k in keys if k.family == family], timezone.now()
    claude_keys = [k for k in keys if k.family in CLAUDE_FAMILIES] if across_claude else []
    pool = key_pool(family_keys, byok_allowed=bool(byok_allowed), now=now)
    claude_pool = claude_order(key_pool(claude_keys, byok_allowed=bool(byok_allowed), now=now, family=family))
    if len({k.family for k in claude_pool}) < 2:
        claude_pool = []  # one family: its own pool says it all
    changes_at = _changes_at(claude_keys or family_keys, now)
    across = tuple(byok_resolution({**base, "family": key.family}, key) for key in claude_pool)
    if not pool:
        _, reason, key = key_choice(family_keys, byok_allowed=bool(byok_allowed), now=now)
        return replace(platform_resolution(base, reason=reason, key=key), changes_at=changes_at, claude_pool=across)
    members = tuple(byok_resolution(base, key) for key in pool)
    return replace(members[0], pool=members, changes_at=changes_at, claude_pool=across)


def claude_order(pool: list) -> list:
    """The owner's Claude keys across families, kept where the first one keeps its calls: a key of another family
    joins only in the first key's geography (or anywhere, when the first has none)."""
    if not pool:
        return pool
    first, geography = pool[0], key_geography(pool[0])
    return [k for k in pool if k.family == first.family or not geography or key_geography(k) == geography]


def _changes_at(keys: list[KeyState], now: datetime) -> datetime | None:
    """The first future expiry or breaker cool-down among the family's keys (a cooling key rejoins its pool then)."""
    moments = []
    for key in keys:
        moments += [key.expires_at, key.breaker_open_until]
        moments += [parse_datetime(entry["until"]) for entry in key.model_breakers.values() if entry.get("until")]
    return min((m for m in moments if m and m > now), default=None)


def byok_resolution(base: dict, key: KeyState) -> Resolution:
    """The owner's `key` serving a call (alone: the pool is the caller's to attach)."""
    provider = PROVIDERS[key.provider]
    profile = provider.profile_for(key.inference_profile)
    return Resolution(source=Source.BYOK, provider=key.provider, key=key, fallback_mode=key.fallback_mode,
                      reason=_SCOPE_REASON.get(key.scope, "owner_key"), inference_profile=profile,
                      region=provider.region_for(inference_profile=profile, regions=key.regions),
                      geography=key_geography(key), **base)


def key_geography(key: "KeyState | ProviderKey") -> str:
    """Where the key keeps its calls ("" anywhere): its inference profile's geography, or its region's."""
    return PROVIDERS[key.provider].geography(inference_profile=key.inference_profile, regions=key.regions)


_SCOPE_RANK = {ProviderKey.Scope.API_KEYS: 0, ProviderKey.Scope.SELECTED: 1, ProviderKey.Scope.ALL_WORKSPACES: 2}
_SCOPE_REASON = {ProviderKey.Scope.API_KEYS: "api_key_scoped", ProviderKey.Scope.SELECTED: "workspace_key"}


def key_rank(key) -> tuple[int, int]:
    """Keys of equal rank share calls by weight; a lower rank serves first."""
    return _SCOPE_RANK.get(key.scope, len(_SCOPE_RANK)), key.priority


def key_pool(keys: list, *, byok_allowed: bool, now: datetime, family: str = "") -> list:
    """The usable keys among the owner's keys (of one family, or of the Claude families) that serve the workspace,
    in rank order: a key scoped to the calling API key before one scoped to selected workspaces before an owner-wide
    one, then by priority; among keys of several families of equal rank, `family`'s first, then by family."""
    if not byok_allowed:
        return []
    return [k for k in sorted(keys, key=lambda k: (*key_rank(k), k.family != family, FAMILIES.index(k.family), k.pk))
            if unusable_reason(k, now) is None]


def key_choice(keys: list, *, byok_allowed: bool, now: datetime) -> tuple[str, str, "KeyState | ProviderKey | None"]:
    """(source, reason, key) among the owner's keys of one family that serve the workspace (KeyStates or stored keys):
    the rule every answer about "what serves" follows. The first of the pool (`key_pool`); without a usable key, the
    platform, with the first key that cannot serve (so answers can name it)."""
    pool = key_pool(keys, byok_allowed=byok_allowed, now=now)
    if pool:
        return Source.BYOK, _SCOPE_REASON.get(pool[0].scope, "owner_key"), pool[0]
    candidates = sorted(keys, key=lambda k: (*key_rank(k), k.pk))
    if not byok_allowed:  # the plan's rule comes first: a free owner is told about the plan, key or no key
        return Source.PLATFORM, "plan_inactive", candidates[0] if candidates else None
    if not candidates:
        return Source.PLATFORM, "no_key", None
    return Source.PLATFORM, unusable_reason(candidates[0], now), candidates[0]


def _default_family(keys: list[KeyState]) -> str:
    families = {k.family for k in keys}
    return next((f for f in FAMILIES if f in families), settings.BYOK_DEFAULT_FAMILY)


def platform_resolution(base: "dict | Resolution", *, reason: str, key: KeyState | None = None) -> Resolution:
    """Platform credentials for the family, in the geography of the owner's key that cannot serve (if any: kept so
    the answer can name it, and so its calls stay where the owner put them)."""
    base = {name: getattr(base, name) if isinstance(base, Resolution) else base[name] for name in _BASE_FIELDS}
    provider = platform_provider(base["family"])
    geography = key_geography(key) if key is not None else ""
    platform = provider.platform_credentials_in(settings.BYOK_PLATFORM_ENV, geography)
    fallback_mode = key.fallback_mode if key else ProviderKey.FallbackMode.PLATFORM
    return Resolution(source=Source.PLATFORM, provider=provider.id, reason=reason, key=key, fallback_mode=fallback_mode,
                      inference_profile=platform.inference_profile, region=platform.region, geography=geography,
                      **base)
