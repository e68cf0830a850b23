"""Reads, each scoped to what the user may see. (What a call resolves to is the gateway's: gateway/resolve.py.)"""

from datetime import datetime

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from accounts.models import User, Workspace

from .models import PlatformCreditUsage, ProviderKey, UsageRecord


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


def usage_summary(*, workspaces: QuerySet[Workspace] | list[Workspace], since: datetime, until: datetime) -> dict:
    """Calls and tokens by source, provider and model for the workspaces, in [since, until)."""
    rows = (
        UsageRecord.objects.filter(workspace__in=workspaces, created_at__gte=since, created_at__lt=until)
        .values("source", "provider", "model")
        .annotate(calls=Count("id"), input_tokens=Sum("input_tokens"), output_tokens=Sum("output_tokens"),
                  credits_charged=Sum("credits_charged"))
        .order_by("source", "provider", "model")
    )
    by_source: dict[str, dict] = {}
    for row in rows:
        total = by_source.setdefault(row["source"], {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                                     "credits_charged": 0})
        for field_name in total:
            total[field_name] += row[field_name]
    return {"since": since, "until": until, "by_source": by_source, "rows": list(rows)}

