"""Reads, each scoped to what the user may see. (What a call resolves to is the gateway's: gateway/resolve.py.)"""

import math
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from accounts.models import User, Workspace

from .models import TOKENS_PER_CREDIT, PlanCeiling, PlatformCreditUsage, ProviderKey, UsageRecord


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
