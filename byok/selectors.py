"""Reads, each scoped to what the user may see. (What a call resolves to is the gateway's: gateway/resolve.py.)"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMinute
from django.utils import timezone

from accounts.models import User, Workspace

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


def _money(value: Decimal | None) -> Decimal:
    return (value or Decimal(0)).quantize(COST_PLACES)


def usage_summary(*, workspaces: QuerySet[Workspace] | list[Workspace], since: datetime, until: datetime) -> dict:
    """Calls, tokens and estimated cost (USD, the catalog's prices at call time) by source, provider and model for
    the workspaces, in [since, until); and what calls on the owner's own keys cost and saved in platform credits."""
    rows = list(
        UsageRecord.objects.filter(workspace__in=workspaces, created_at__gte=since, created_at__lt=until)
        .values("source", "provider", "model")
        .annotate(calls=Count("id"), input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"),
                  credits_charged=Sum("credits_charged"), estimated_cost=Sum("estimated_cost"))
        .order_by("source", "provider", "model")
    )
    by_source: dict[str, dict] = {}
    for row in rows:
        row["estimated_cost"] = _money(row["estimated_cost"])
        total = by_source.setdefault(row["source"], {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                                     "credits_charged": 0, "estimated_cost": Decimal(0)})
        for field_name in total:
            total[field_name] += row[field_name]
    byok = by_source.get(UsageRecord.Source.BYOK, {})
    byok_tokens = byok.get("input_tokens", 0) + byok.get("output_tokens", 0)
    cost = {
        "currency": "USD",
        # Billed by the owner's provider account, not by byok.
        "byok": _money(byok.get("estimated_cost")),
        "platform": _money(by_source.get(UsageRecord.Source.PLATFORM, {}).get("estimated_cost")),
        # What the same calls would have taken from the platform allowance, and their worth at catalog prices.
        "platform_credits_saved": math.ceil(byok_tokens / TOKENS_PER_CREDIT),
        "platform_credits_saved_value": _money(byok.get("estimated_cost")),
    }
    return {"since": since, "until": until, "by_source": by_source, "rows": rows, "cost": cost}


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
