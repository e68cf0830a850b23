"""What serves a workspace's calls for a provider family, said in words: the one answer every message, e-mail and
the console's home page give ("calls use “EU key” (AKIA…7XQ2)", "calls use platform credentials", "calls fail: no
platform credentials are configured for Anthropic").

It applies the rules of `gateway.resolve.credentials_resolve`, of routing (an exclusive key never falls back;
platform credentials must be configured) and of the circuit breaker (`gateway.breaker`: an open breaker on the key,
or on the model a standard call uses, sends calls to the platform until a probe succeeds) to keys already read, so a
page can answer for many workspaces and families from one read of the keys, and a message can answer right after a
change.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User, Workspace

from ..catalog.selectors import tier_model
from ..models import ProviderKey
from ..models.keys import is_exclusive
from ..providers.outcomes import Category
from ..providers.registry import FAMILIES, platform_provider
from .resolve import key_choice, key_geography, key_pool, key_rank

BYOK, PLATFORM, NOTHING = "byok", "platform", "nothing"


def family_name(family: str) -> str:
    """"AWS Bedrock", "Anthropic", … (the platform provider's name without its credential kind)."""
    return platform_provider(family).name.split(" (")[0]


def platform_configured(family: str, geography: str = "") -> bool:
    """Whether platform credentials may serve the family's calls in `geography` ("": anywhere)."""
    return platform_provider(family).platform_credentials_in(settings.BYOK_PLATFORM_ENV, geography).configured


def geography_words(geography: str) -> str:
    return {"eu": "the EU", "us": "the US", "apac": "Asia Pacific"}.get(geography, geography)


def residency(key: ProviderKey) -> dict:
    """Where the key's calls run and where its fallback runs, in words, as routing does it: the fallback stays in the
    key's geography, or does not happen."""
    spec, geography = key.provider_spec, key_geography(key)
    if key.profile is not None:
        traffic = f"{key.profile.name} inference profile — {key.profile.purpose[0].lower()}{key.profile.purpose[1:]}"
    elif key.regions:
        traffic = f"{', '.join(key.regions)}" + (f" ({geography_words(geography)})" if geography else "")
    else:
        traffic = f"wherever {spec.name} runs it (the provider offers no region choice)"
    platform = platform_provider(key.family).platform_credentials_in(settings.BYOK_PLATFORM_ENV, geography)
    if is_exclusive(key):
        fallback = "none: the key is exclusive"
    elif not platform.configured:
        fallback = (f"none: no platform credentials are configured in {geography_words(geography)}, so when your keys "
                    f"cannot serve, calls fail (503) rather than leave it") if geography else \
            "none: no platform credentials are configured, so when your keys cannot serve, calls fail (503)"
    else:
        where = ", ".join(filter(None, [platform.region, platform.inference_profile and
                                        f"{platform.inference_profile} profile"]))
        fallback = (f"platform credentials in {geography_words(geography)}" if geography else
                    "platform credentials") + (f" ({where})" if where else "")
    return {"traffic": traffic, "fallback": fallback}


def _when(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M %Z}" if moment else ""


FAILURE_WORDS = {
    Category.INVALID_CREDENTIALS: "the provider refused your key's credentials",
    Category.EXPIRED: "your key's credentials expired",
    Category.PERMISSION_DENIED: "your key lacks a permission the call needs",
    Category.MODEL_ACCESS: "your key lost access to the model",
    Category.NETWORK: "byok could not reach the provider",
    "key_failing": "your key is failing",
}


def failure_words(category: str) -> str:
    """"your key lost access to the model" for model_access, …; an unknown category as itself."""
    return FAILURE_WORDS.get(category, category.replace("_", " "))


@dataclass(frozen=True)
class Outage:
    """An open circuit breaker on the key that would serve: the whole key's, or the standard tier model's."""

    since: datetime
    reason: str  # the failure category
    retry_at: datetime | None  # when byok retries the key; None or past: with the next call
    model: str = ""  # the model whose breaker is open; "" for the whole key
    now: datetime | None = None

    @property
    def retry_text(self) -> str:
        if self.retry_at and self.now and self.retry_at > self.now:
            return f"byok retries your key at {_when(self.retry_at)}"
        return "byok retries your key with the next call"


def _tier_model(key: ProviderKey, tier: str) -> str:
    """The model id a call of `tier` sends on this key (as `Resolution.model_for` names it)."""
    spec = key.provider_spec
    return spec.model_for(tier, inference_profile=spec.profile_for(key.inference_profile),
                          base=tier_model(key.family, tier))


def key_outage(key: ProviderKey, *, now: datetime, tier: str = "standard") -> Outage | None:
    """The open breaker that keeps `key` from serving a `tier` call (the key's own first, then the model's)."""
    if key.failing_since:
        return Outage(key.failing_since, key.failure_reason or "key_failing", key.breaker_open_until, now=now)
    if not key.model_breakers:
        return None  # the common case, without reading the catalog
    model = _tier_model(key, tier)
    entry = key.model_breakers.get(model)
    if entry is None:
        return None
    return Outage(parse_datetime(entry.get("since") or "") or now, entry.get("reason") or "model_failing",
                  parse_datetime(entry.get("until") or ""), model=model, now=now)


def key_traffic(key: ProviderKey) -> dict | None:
    """The latest outcome of real calls on the key, dated: {"ok", "at", "text"} — an open breaker (the key's or any
    model's) when it opened after the last successful call, else that call; None before any call."""
    failures = [(key.failing_since, key.failure_reason or "key_failing", "")] if key.failing_since else []
    failures += [(key.unreachable_since, Category.NETWORK, "")] if key.unreachable_since else []
    failures += [(parse_datetime(entry.get("since") or ""), entry.get("reason") or "model_failing", model)
                 for model, entry in (key.model_breakers or {}).items()]
    failures = [f for f in failures if f[0] is not None]
    latest_failure = max(failures, key=lambda f: f[0], default=None)
    if latest_failure and (key.last_used_at is None or latest_failure[0] >= key.last_used_at):
        since, reason, model = latest_failure
        return {"ok": False, "at": since,
                "text": f"calls failing since {_when(since)}: {failure_words(reason)}" + (f" ({model})" if model else "")}
    if key.last_used_at:
        return {"ok": True, "at": key.last_used_at, "text": f"calls served at {_when(key.last_used_at)}"}
    return None


def reason_text(reason: str, key: ProviderKey | None) -> str:
    """Why a key does not serve (or why none does), in words."""
    if reason == "no_key":
        return "no key for this provider"
    if reason == "plan_inactive":
        return "the owner's plan does not include bring-your-own-key"
    if reason == "key_disabled":
        return f"“{key.name}” is disabled"
    if reason == "key_expired":
        return f"“{key.name}” expired {_when(key.expires_at)}"
    return failure_words(reason)


def pool_words(pool: Iterable[ProviderKey]) -> str:
    """“A” (hint), then “B” (hint) when A cannot serve; keys of equal rank share calls by weight."""
    groups: list[list[ProviderKey]] = []
    for key in pool:
        if groups and key_rank(groups[-1][0]) == key_rank(key):
            groups[-1].append(key)
        else:
            groups.append([key])
    words = ""
    for index, group in enumerate(groups):
        if index:
            words += f", then, if {'they' if len(groups[index - 1]) > 1 else 'it'} cannot serve, "
        words += " and ".join(f"“{k.name}” ({k.key_hint})" for k in group)
        if len(group) > 1:
            words += f" (sharing calls {':'.join(str(k.weight) for k in group)})"
    return words


@dataclass(frozen=True)
class Serving:
    """What serves `workspace`'s calls for `family` now."""

    workspace: Workspace
    family: str
    source: str  # byok, platform or nothing (calls fail)
    reason: str  # owner_key, workspace_key (never api_key_scoped: see serving_for), or why not BYOK (no_key, plan_inactive, key_disabled, …)
    key: ProviderKey | None  # the key that serves, or the one that cannot
    platform_configured: bool
    outage: Outage | None = None  # the open breaker that keeps `key` from serving, when one is
    pool: tuple[ProviderKey, ...] = ()  # BYOK: the owner's usable keys in the order calls try them (`key` first)

    @property
    def family_name(self) -> str:
        return family_name(self.family)

    @property
    def residency(self) -> dict | None:
        """Where the key's calls and its fallback run (None without a key)."""
        return residency(self.key) if self.key is not None else None

    @property
    def why(self) -> str:
        """Why BYOK does not serve; empty when it does. During an outage: since when, why, and when byok retries
        ("since 2026-12-07 04:27 UTC because your key lost access to the model; byok retries your key at 04:32")."""
        if self.source == BYOK:
            return ""
        if self.outage is not None:
            what = f" ({self.outage.model})" if self.outage.model else ""
            return (f"since {_when(self.outage.since)} because {failure_words(self.outage.reason)}{what}; "
                    f"{self.outage.retry_text}")
        return reason_text(self.reason, self.key)

    @property
    def outcome(self) -> str:
        """What calls do, as the end of a sentence: "use “EU key” (AKIA…7XQ2)"."""
        if self.source == BYOK:
            return f"use {pool_words(self.pool or (self.key,))}"
        if self.source == PLATFORM:
            during = f" {self.why}" if self.outage is not None else ""
            return f"use platform credentials (counted against platform credits){during}"
        if is_exclusive(self.key) and self.reason != "plan_inactive":
            return f"fail: “{self.key.name}” ({self.key.key_hint}) is exclusive (never falls back) and cannot serve"
        geography = key_geography(self.key) if self.key is not None else ""
        if geography:
            return (f"fail: no platform credentials are configured for {self.family_name} in "
                    f"{geography_words(geography)}, where “{self.key.name}” keeps its calls")
        return f"fail: no platform credentials are configured for {self.family_name}"


def serving_for(*, workspace: Workspace, family: str, keys: Iterable[ProviderKey], byok_allowed: bool,
                now: datetime | None = None, platform: dict | None = None) -> Serving:
    """The rules of `credentials_resolve` and routing, on the owner's keys (any order; this filters by family and
    scope). `keys` need `workspaces` prefetched for selected-scope keys; `platform` caches platform_configured.

    Keys scoped to selected API keys (scope api_keys) are left out: they serve only calls made with those API keys,
    never the workspace in general, so this answers for session, token and other API keys' calls."""
    now = now or timezone.now()
    platform = {} if platform is None else platform
    serving_keys = [k for k in keys if k.family == family and k.owner_id == workspace.owner_id and (
        k.scope == ProviderKey.Scope.ALL_WORKSPACES or any(w.pk == workspace.pk for w in k.workspaces.all()))]
    source, reason, key = key_choice(serving_keys, byok_allowed=byok_allowed, now=now)
    geography = key_geography(key) if key is not None else ""  # routing's rule: fallback stays in the geography
    if (family, geography) not in platform:
        platform[family, geography] = platform_configured(family, geography)
    configured = platform[family, geography]
    # A disabled or expired key waits for its owner, not for a probe: no outage to report on it.
    outage = key_outage(key, now=now) if key is not None and reason not in ("plan_inactive", "key_disabled",
                                                                             "key_expired") else None
    if source == BYOK and outage is None:
        pool = tuple(key_pool(serving_keys, byok_allowed=byok_allowed, now=now))
        return Serving(workspace, family, BYOK, reason, key, configured, pool=pool)
    if outage is not None:
        reason = outage.reason
    # Routing's rule: an exclusive key never falls back; the platform serves only when configured.
    exclusive = byok_allowed and is_exclusive(key)
    return Serving(workspace, family, PLATFORM if configured and not exclusive else NOTHING, reason, key, configured,
                   outage)


def serving_now(*, owner: User, families: Iterable[str], workspaces: Iterable[Workspace] | None = None) -> list[Serving]:
    """What serves each of the owner's workspaces (or `workspaces`) for each family, read now (three queries)."""
    workspaces = list(Workspace.objects.filter(owner=owner).order_by("name") if workspaces is None else workspaces)
    keys = list(ProviderKey.objects.filter(owner=owner).prefetch_related("workspaces"))
    byok_allowed = User.objects.select_related("plan").get(pk=owner.pk).plan.byok_allowed
    platform: dict = {}
    return [serving_for(workspace=w, family=f, keys=keys, byok_allowed=byok_allowed, platform=platform)
            for f in sorted(set(families), key=FAMILIES.index) for w in workspaces]


def serving_sentence(servings: list[Serving]) -> str:
    """One sentence per family: "AWS Bedrock calls in every workspace now use platform credentials (…)." or, when
    workspaces differ, "AWS Bedrock calls: in Acme they use …; in Beta they fail: …"."""
    sentences = []
    families = list(dict.fromkeys(s.family for s in servings))
    for family in families:
        rows = [s for s in servings if s.family == family]
        outcomes = list(dict.fromkeys(s.outcome for s in rows))
        if not rows:
            continue
        if len(outcomes) == 1:
            where = "in every workspace" if len(rows) > 1 else f"in {rows[0].workspace.name}"
            sentences.append(f"{family_name(family)} calls {where} now {outcomes[0]}.")
        else:
            parts = "; ".join(f"in {s.workspace.name} they {s.outcome}" for s in rows)
            sentences.append(f"{family_name(family)} calls: {parts}.")
    return " ".join(sentences)


def what_serves_next(*, owner: User, families: Iterable[str], workspaces: Iterable[Workspace] | None = None) -> str:
    """The sentence for messages and e-mails, read after the change they report."""
    families = list(families)
    if not families:
        return ""
    return serving_sentence(serving_now(owner=owner, families=families, workspaces=workspaces))


def what_serves_key_workspaces(key: ProviderKey) -> str:
    """What serves the workspaces this key serves (all the owner's, or its selected ones, or its API keys' ones), for its
    family. For a key scoped to API keys the sentence says what serves those workspaces' other calls."""
    if key.scope == ProviderKey.Scope.API_KEYS:
        workspaces = list(Workspace.objects.filter(api_keys__provider_keys=key).distinct().order_by("name"))
    else:
        workspaces = None if key.scope == ProviderKey.Scope.ALL_WORKSPACES else list(key.workspaces.all())
    return what_serves_next(owner=key.owner, families=[key.family], workspaces=workspaces)
