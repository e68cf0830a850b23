"""The console's home page (/manage/): for each workspace the viewer owns or administers, what serves its calls now
and why, calls by source over 24 hours and 30 days (with a server-rendered chart), fallback incidents, what expires
soon, money this month (spend, what prompt caching and the owner's keys saved), platform credits used, and the
catalog's notices about models their calls used (deprecated, retiring, retired).

A constant number of queries whatever the number of keys, usage rows or events: every read is one query (keys with
their workspaces, usage grouped by workspace, day and source in the database, the last incidents, this month's
spend, the catalog, the models their calls used when it has notices), and the answers are put together in Python.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Workspace
from audit.models import AuditAction

from ..catalog.selectors import catalog_read, lifecycle_notices
from ..gateway.serving import Serving, serving_for
from ..models import PlatformCreditUsage, ProviderKey, UsageRecord
from ..providers.registry import FAMILIES
from ..selectors import month_start, spend_by
from .limit_rows import limit_rows
from .scope import ConsoleAccess, console_audit_events, console_provider_keys

CHART_DAYS = 30
INCIDENTS_SHOWN = 10
SOON_SHOWN = 10
SESSION_SOON = timedelta(hours=24)


@dataclass
class WorkspaceHome:
    workspace: Workspace
    is_owner: bool
    servings: list[Serving]
    calls_24h: dict = field(default_factory=lambda: {"byok": 0, "platform": 0})
    calls_30d: dict = field(default_factory=lambda: {"byok": 0, "platform": 0})


@dataclass
class Incident:
    key: ProviderKey | None
    key_hint: str
    reason: str
    started_at: datetime
    ended_at: datetime | None
    workspace: Workspace | None

    @property
    def duration(self) -> timedelta | None:
        end = self.ended_at or timezone.now()
        return end - self.started_at

    @property
    def duration_text(self) -> str:
        seconds = int(self.duration.total_seconds())
        if seconds < 3600:
            return f"{max(1, seconds // 60)} min"
        if seconds < 86400:
            return f"{seconds // 3600} h {seconds % 3600 // 60} min"
        return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _families(keys: list[ProviderKey], workspace: Workspace) -> list[str]:
    """The families with a key that could serve the workspace, and the default family."""
    found = {k.family for k in keys if k.owner_id == workspace.owner_id and (
        k.scope == ProviderKey.Scope.ALL_WORKSPACES or any(w.pk == workspace.pk for w in k.workspaces.all()))}
    found.add(settings.BYOK_DEFAULT_FAMILY)
    return sorted(found, key=lambda f: FAMILIES.index(f) if f in FAMILIES else len(FAMILIES))


def _chart(days: list[date], per_day: dict) -> dict:
    """An inline SVG's bars: one column a day, BYOK stacked under platform, scaled to the busiest day."""
    height, width, gap = 120, 14, 3
    busiest = max((per_day[d]["byok"] + per_day[d]["platform"] for d in days), default=0) or 1
    bars = []
    for i, day in enumerate(days):
        byok, platform = per_day[day]["byok"], per_day[day]["platform"]
        byok_h = round(byok / busiest * height, 1)
        platform_h = round(platform / busiest * height, 1)
        bars.append({"x": i * (width + gap), "day": day, "byok": byok, "platform": platform,
                     "byok_y": round(height - byok_h, 1), "byok_h": byok_h,
                     "platform_y": round(height - byok_h - platform_h, 1), "platform_h": platform_h})
    return {"bars": bars, "height": height, "bar_width": width, "width": len(days) * (width + gap),
            "busiest": busiest if busiest > 1 or any(b["byok"] or b["platform"] for b in bars) else 0}


def console_home(access: ConsoleAccess, *, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    workspaces = list(Workspace.objects.filter(pk__in=access.workspace_ids).select_related("owner__plan")
                      .order_by("name"))
    keys = list(console_provider_keys(access).defer("secret", "session_secret"))
    platform: dict = {}
    homes = {}
    for workspace in workspaces:
        byok_allowed = workspace.owner.plan.byok_allowed
        servings = [serving_for(workspace=workspace, family=f, keys=keys, byok_allowed=byok_allowed, now=now,
                                platform=platform) for f in _families(keys, workspace)]
        homes[workspace.pk] = WorkspaceHome(workspace=workspace, is_owner=workspace.owner_id == access.user_id,
                                            servings=servings)

    # Usage: one grouped query over 30 days (by workspace, local day and source), the last 24 hours counted alongside.
    since = now - timedelta(days=CHART_DAYS)
    last_day = now - timedelta(hours=24)
    rows = (UsageRecord.objects.filter(workspace_id__in=access.workspace_ids, created_at__gte=since,
                                       created_at__lte=now)
            .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("workspace_id", "day", "source")
            .annotate(calls=Count("id"), recent=Count("id", filter=Q(created_at__gte=last_day)))
            .order_by())
    today = timezone.localdate(now)
    days = [today - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    per_day = {d: {"byok": 0, "platform": 0} for d in days}
    totals = {"24h": {"byok": 0, "platform": 0}, "30d": {"byok": 0, "platform": 0}}
    for row in rows:
        source = row["source"]
        home = homes.get(row["workspace_id"])
        if home is not None and source in home.calls_30d:
            home.calls_30d[source] += row["calls"]
            home.calls_24h[source] += row["recent"]
        if source in totals["30d"]:
            totals["30d"][source] += row["calls"]
            totals["24h"][source] += row["recent"]
        if row["day"] in per_day and source in per_day[row["day"]]:
            per_day[row["day"]][source] += row["calls"]

    # Fallback incidents: the last ones opened — a call's failure (FALLBACK_ACTIVATED) or a session byok could not
    # renew (SESSION_REFRESH_FAILED: calls fall back until it can) — each closed by its key's next BYOK_RECOVERED.
    keys_by_id = {k.pk: k for k in keys}
    opening = (AuditAction.FALLBACK_ACTIVATED, AuditAction.SESSION_REFRESH_FAILED)
    events = list(console_audit_events(access).filter(
        action__in=[*opening, AuditAction.BYOK_RECOVERED], created_at__gte=since)
        .order_by("-created_at", "-id")[:500])[::-1]
    open_by_key: dict = {}
    incidents: list[Incident] = []
    for event in events:
        if event.action in opening and event.target_key_id not in open_by_key:
            incident = Incident(key=keys_by_id.get(event.target_key_id), key_hint=event.target_hint, reason=event.details.get("category", ""),
                started_at=event.created_at, ended_at=None, workspace=event.workspace)
            open_by_key[event.target_key_id] = incident
            incidents.append(incident)
        elif event.target_key_id in open_by_key:
            open_by_key.pop(event.target_key_id).ended_at = event.created_at
    incidents = sorted(incidents, key=lambda i: i.started_at, reverse=True)[:INCIDENTS_SHOWN]

    # What expires soon, from the keys already read.
    expiry_window = timedelta(days=settings.BYOK_EXPIRY_REMINDER_DAYS)
    expiring = sorted((k for k in keys if k.enabled and k.expires_at and k.expires_at <= now + expiry_window),
                      key=lambda k: k.expires_at)[:SOON_SHOWN]
    # byok refreshes sessions itself: only one it failed to refresh needs the owner.
    sessions = sorted((k for k in keys if k.session_token_expires_at and k.failing_since
                       and now < k.session_token_expires_at <= now + SESSION_SOON),
                      key=lambda k: k.session_token_expires_at)[:SOON_SHOWN]

    # Money this month: spend and savings, one grouped query, priced with the catalog the notices read too.
    catalog = catalog_read()
    month = timezone.make_aware(datetime.combine(month_start(now), time.min))
    money = next(spend_by(UsageRecord.objects.filter(workspace_id__in=access.workspace_ids, created_at__gte=month,
                                                     created_at__lte=now), catalog=catalog), None)

    # Platform credits this month, per owner of the visible workspaces.
    owners = {w.owner_id: w.owner for w in workspaces}
    used = dict(PlatformCreditUsage.objects.filter(owner_id__in=owners, month=month_start(now))
                .values_list("owner_id", "used"))
    credits = [{"owner": o, "used": used.get(o.pk, 0), "allowance": o.plan.monthly_platform_credits,
                "percent": min(100, round(used.get(o.pk, 0) * 100 / o.plan.monthly_platform_credits))
                if o.plan.monthly_platform_credits else 100}
               for o in owners.values()]

    limits = limit_rows(owners[access.user_id]) if access.user_id in owners else []  # the viewer's own account
    return {"homes": list(homes.values()), "totals": totals, "chart": _chart(days, per_day), "limits": limits,
            "incidents": incidents, "expiring": expiring, "sessions": sessions, "credits": credits, "now": now,
            "money": money, "model_notices": lifecycle_notices(now=now, workspace_ids=access.workspace_ids,
                                                                catalog=catalog)}
