"""Reads, each scoped to what the user may see. (What a call resolves to is the gateway's: gateway/resolve.py.)"""

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from itertools import groupby

from django.db.models import Case, Count, F, QuerySet, Sum, Value, When
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from accounts.models import User, Workspace

from .catalog.pricing import TokenCounts, cache_saving, provider_model_prices
from .catalog.selectors import Snapshot, catalog_read
from .models import TOKENS_PER_CREDIT, PlatformCreditUsage, ProviderKey, UsageRecord


def provider_keys_visible_to(user: User) -> QuerySet[ProviderKey]:
    """Only the owner sees and changes their keys."""
    return ProviderKey.objects.filter(owner=user).select_related("owner__plan").prefetch_related("workspaces")


def workspaces_owned_by(user: User) -> QuerySet[Workspace]:
    return Workspace.objects.filter(owner=user)


def month_start(moment: datetime | None = None):
    moment = timezone.localtime(moment or timezone.now())
    return moment.date().replace(day=1)


def platform_credits_used(*, owner_id: int) -> int:
    """Platform credits the owner used this month."""
    used = PlatformCreditUsage.objects.filter(owner_id=owner_id, month=month_start()).values_list("used", flat=True)
    return used[0] if used else 0


def platform_credits_remaining(*, owner_id: int, allowance: int) -> int:
    return max(0, allowance - platform_credits_used(owner_id=owner_id))


COST_PLACES = Decimal("0.000001")


def _money(value: Decimal | None) -> Decimal | None:
    """USD to six decimals, as the usage API shows it; None stays None (no saving claimed)."""
    return None if value is None else value.quantize(COST_PLACES)


TOKEN_KINDS = ("input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens")
_PROMPT = F("input_tokens") + F("cache_write_5m_tokens") + F("cache_write_1h_tokens") + F("cache_read_tokens")
_COUNTS = ("calls", *TOKEN_KINDS, "credits_charged", "platform_credits_saved")
_SOURCES = (UsageRecord.Source.BYOK, UsageRecord.Source.PLATFORM)


def _prompt_over(catalog: Snapshot) -> Case:
    """The largest long-context threshold of the catalog that a call's prompt exceeded (0: none): calls grouped by
    it are on the same side of their model's threshold, so their summed tokens are priced as each call was."""
    thresholds = sorted({p.long_context_above for p in catalog.prices.values() if p.long_context is not None},
                        reverse=True)
    return Case(*(When(GreaterThan(_PROMPT, above), then=Value(above)) for above in thresholds), default=Value(0))


def spend_by(records: QuerySet[UsageRecord], *group: str, catalog: Snapshot) -> Iterator[dict]:
    """Per value of `group` (fields of the records or their annotations), in its order: calls, tokens of each kind,
    credits charged, the platform credits the calls on the owner's keys would have used (each rounded up per call,
    as platform calls are charged), and on the owner's keys and on platform credentials apart, the estimated cost
    (USD, the catalog's prices at call time: `byok_cost`, `platform_cost`) and what prompt caching saved
    (`byok_cache_saved`, `platform_cache_saved`: byok.catalog.pricing.cache_saving at `catalog`'s prices; None when
    none of the calls' models has a cache price). One query read in chunks, grouped in the database by `group`,
    source, provider, model and long-context band, and folded here, whatever the rows."""
    parts = (records.values(*group, "source", "provider", "model", prompt_over=_prompt_over(catalog))
             # Before the sums named like the token fields, whose names would then mean the sums.
             .annotate(platform_credits_saved=Sum(Case(When(source=UsageRecord.Source.BYOK, then=(
                 _PROMPT + F("output_tokens") + TOKENS_PER_CREDIT - 1) / TOKENS_PER_CREDIT), default=0)))
             .annotate(calls=Count("id"), **{kind: Sum(kind) for kind in TOKEN_KINDS},
                       credits_charged=Sum("credits_charged"), estimated_cost=Sum("estimated_cost"))
             .order_by(*group).iterator(chunk_size=2000))
    for key, same in groupby(parts, key=lambda part: tuple(part[name] for name in group)):
        row = {**dict(zip(group, key)), **dict.fromkeys(_COUNTS, 0),
               **{f"{source}_cost": Decimal(0) for source in _SOURCES},
               **{f"{source}_cache_saved": None for source in _SOURCES}}
        for part in same:
            for name in _COUNTS:
                row[name] += part[name]
            row[f"{part['source']}_cost"] += part["estimated_cost"] or 0
            prices = provider_model_prices(provider=part["provider"], model=part["model"], catalog=catalog)
            tokens = TokenCounts(**{kind.removesuffix("_tokens"): part[kind] for kind in TOKEN_KINDS})
            saved = cache_saving(prices, tokens, prompt_over=part["prompt_over"]) if prices is not None else None
            if saved is not None:
                row[f"{part['source']}_cache_saved"] = (row[f"{part['source']}_cache_saved"] or 0) + saved
        yield row


def _in_money(row: dict) -> dict:
    return {**row, **{name: _money(row[name]) for name in row if name.endswith(("_cost", "_cache_saved"))}}


def _one_source(row: dict) -> dict:
    """A row grouped by source, with its source's cost and caching saving under source-free names."""
    source = row["source"]
    split = {f"{s}_{what}" for s in _SOURCES for what in ("cost", "cache_saved")}
    return {**{name: value for name, value in row.items() if name not in split},
            "estimated_cost": _money(row[f"{source}_cost"]), "cache_saved": _money(row[f"{source}_cache_saved"])}


def usage_summary(*, workspaces: QuerySet[Workspace] | list[Workspace], since: datetime, until: datetime,
                  catalog: Snapshot | None = None) -> dict:
    """`spend_by` the workspaces' calls in [since, until) per source; per source, provider and model; per member;
    and per workspace API key; and what calls on the owner's own keys cost and saved in platform credits. One query
    for the catalog (unless given) and one per breakdown, whatever the rows."""
    catalog = catalog or catalog_read()
    records = UsageRecord.objects.filter(workspace__in=workspaces, created_at__gte=since, created_at__lt=until)
    by_source = {row["source"]: _one_source(row) for row in spend_by(records, "source", catalog=catalog)}
    byok = by_source.get(UsageRecord.Source.BYOK, {})
    platform = by_source.get(UsageRecord.Source.PLATFORM, {})
    cost = {
        "currency": "USD",
        # Billed by the owner's provider account, not by byok.
        "byok": byok.get("estimated_cost", _money(Decimal(0))),
        "platform": platform.get("estimated_cost", _money(Decimal(0))),
        # What the calls' cache writes and reads saved against plain input, at the catalog's prices.
        "byok_cache_saved": byok.get("cache_saved"),
        "platform_cache_saved": platform.get("cache_saved"),
        # What the owner's keys saved: the platform credits the same calls would have used, and their worth.
        "platform_credits_saved": byok.get("platform_credits_saved", 0),
        "platform_credits_saved_value": byok.get("estimated_cost", _money(Decimal(0))),
    }
    # Calls made without a workspace API key (an API token, a session, a task), or with one deleted since, are the
    # row whose api_key_id is None; a revoked key keeps its name.
    by_api_key = spend_by(records, "api_key_id", "api_key__name", "api_key__key_hint", "api_key__revoked_at",
                          "api_key__user__username", "api_key__workspace__slug", catalog=catalog)
    return {"since": since, "until": until, "by_source": by_source, "cost": cost,
            "rows": [_one_source(row) for row in spend_by(records, "source", "provider", "model", catalog=catalog)],
            "by_member": sorted(map(_in_money, spend_by(records, "user__username", catalog=catalog)),
                                key=lambda row: (-row["calls"], row["user__username"] or "")),
            "by_api_key": sorted(map(_in_money, by_api_key),
                                 key=lambda row: (-row["calls"], row["api_key__name"] or ""))}
