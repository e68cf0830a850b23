"""Reads, each scoped to what the user may see. (What a call resolves to is the gateway's: gateway/resolve.py.)"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import groupby

from django.db.models import Case, Count, F, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate, TruncMinute
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from accounts.models import User, Workspace

from .catalog.pricing import TokenCounts, cache_saving, provider_model_prices
from .catalog.selectors import Snapshot, catalog_read
from .gateway.limits import past_limit_by_day
from .models import TOKENS_PER_CREDIT, PlanCeiling, PlatformCreditUsage, ProviderKey, UsageLimit, UsageRecord


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


def plan_ceilings(plan_code: str) -> dict[str, PlanCeiling]:
    """The ceilings staff set for the plan, by metric."""
    return {c.metric: c for c in PlanCeiling.objects.filter(plan__code=plan_code).select_related("plan")}


HISTORY_DAYS = 30
Metric = UsageLimit.Metric


@dataclass(frozen=True)
class LimitDay:
    """One UTC day of a limit, in its unit (calls, tokens, or US cents)."""

    day: date
    used: float  # served that day
    peak: float  # what the limit counted at its highest that day: the busiest minute, the day, or the month so far
    past_limit: int  # calls past the limit that day (refused, or served on platform credits)


def limit_history(limit: UsageLimit | PlanCeiling, *, owner_id: int | None = None,
                  days: int = HISTORY_DAYS) -> list[LimitDay]:
    """The limit's last `days` UTC days, oldest first: what the calls it counts used (the usage records: calls
    served), and the calls past it (the limit's own shared count). A plan's ceiling: for the owner `owner_id`."""
    owner_id = owner_id if owner_id is not None else limit.owner_id
    today = datetime.now(UTC).date()
    day_list = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    start = day_list[0].replace(day=1) if limit.metric == Metric.MONEY_PER_MONTH else day_list[0]
    rows = _limit_usage(limit, owner_id).filter(created_at__gte=datetime.combine(start, time(), UTC)).order_by()
    used: dict[date, float] = defaultdict(float)
    peak: dict[date, float] = defaultdict(float)
    if limit.metric in (Metric.REQUESTS_PER_MINUTE, Metric.TOKENS_PER_MINUTE):
        tokens = (F("input_tokens") + F("output_tokens") + F("cache_write_5m_tokens") + F("cache_write_1h_tokens")
                  + F("cache_read_tokens"))
        minutes = rows.annotate(minute=TruncMinute("created_at", tzinfo=UTC)).values("minute").annotate(
            calls=Count("id"), tokens=Sum(tokens))
        for row in minutes:
            day = row["minute"].astimezone(UTC).date()
            amount = row["calls"] if limit.metric == Metric.REQUESTS_PER_MINUTE else row["tokens"] or 0
            used[day] += amount
            peak[day] = max(peak[day], amount)
    else:
        for row in rows.annotate(day=TruncDate("created_at", tzinfo=UTC)).values("day").annotate(
                cost=Sum("estimated_cost")):
            used[row["day"]] = float((row["cost"] or 0) * 100)
        so_far, month = 0.0, None
        for day in sorted(set(used) | set(day_list)):  # a month's budget counts from the month's first day
            if limit.metric == Metric.MONEY_PER_DAY:
                peak[day] = used.get(day, 0.0)
                continue
            so_far = (so_far if (day.year, day.month) == month else 0.0) + used.get(day, 0.0)
            month, peak[day] = (day.year, day.month), so_far
    past = past_limit_by_day(limit, day_list, owner_id)
    return [LimitDay(day=day, used=round(used.get(day, 0), 2), peak=round(peak.get(day, 0), 2),
                     past_limit=past.get(day, 0)) for day in day_list]


def _limit_usage(limit: UsageLimit | PlanCeiling, owner_id: int) -> QuerySet[UsageRecord]:
    """The usage records of the calls a limit counts."""
    rows = UsageRecord.objects.filter(owner_id=owner_id)
    subject = limit.subject if isinstance(limit, UsageLimit) else UsageLimit.Subject.OWNER
    if subject == UsageLimit.Subject.WORKSPACE:
        return rows.filter(workspace_id=limit.workspace_id)
    if subject == UsageLimit.Subject.MEMBER:
        return rows.filter(workspace_id=limit.workspace_id, user_id=limit.member_id)
    if subject == UsageLimit.Subject.API_KEY:
        return rows.filter(api_key_id=limit.api_key_id)
    return rows
