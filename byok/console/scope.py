"""Reads for the owner console, each scoped to what the signed-in user may see there.

Who sees what: a workspace owner sees their keys, workspaces, usage and audit trail; a workspace admin sees the
workspaces they administer, their owner's keys that serve those workspaces (read-only), and those workspaces'
usage and audit events, and every member's API keys of the workspaces they own or administer. Members see
nothing here.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import BooleanField, Count, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import ApiKey, Membership, User, Workspace
from audit.models import AuditEvent

from ..catalog.selectors import Snapshot, catalog_read
from ..models import ProviderKey, UsageLimit, UsageRecord
from ..selectors import TOKEN_KINDS, month_start, platform_credits_remaining, spend_by, usage_summary


@dataclass(frozen=True)
class ConsoleAccess:
    user_id: int | None
    owned: frozenset[int] = frozenset()  # ids of workspaces the user owns
    administered: frozenset[int] = frozenset()  # ids of other owners' workspaces the user administers
    administered_owner_ids: frozenset[int] = frozenset()

    @property
    def allowed(self) -> bool:
        return bool(self.owned or self.administered)

    @property
    def is_owner(self) -> bool:
        return bool(self.owned)

    @property
    def workspace_ids(self) -> frozenset[int]:
        return self.owned | self.administered


def console_access(user: User) -> ConsoleAccess:
    """One query: the workspaces the user owns or administers."""
    if not (user.is_authenticated and user.is_active):
        return ConsoleAccess(user_id=None)
    rows = Membership.objects.filter(
        user=user, role__in=Membership.MANAGING_ROLES
    ).values_list("workspace_id", "workspace__owner_id")
    owned = frozenset(ws for ws, owner_id in rows if owner_id == user.pk)
    administered = {ws: owner_id for ws, owner_id in rows if owner_id != user.pk}
    return ConsoleAccess(user_id=user.pk, owned=owned, administered=frozenset(administered),
                         administered_owner_ids=frozenset(administered.values()))


def console_provider_keys(access: ConsoleAccess) -> QuerySet[ProviderKey]:
    """The user's own keys, plus the keys that serve a workspace they administer."""
    serves_administered = Q(scope=ProviderKey.Scope.ALL_WORKSPACES) | Exists(
        ProviderKey.workspaces.through.objects.filter(providerkey_id=OuterRef("pk"),
                                                      workspace_id__in=access.administered))
    return (
        ProviderKey.objects.filter(
            Q(owner_id=access.user_id) | (Q(owner_id__in=access.administered_owner_ids) & serves_administered))
        .select_related("owner__plan")
        .prefetch_related("workspaces")
    )


def console_provider_keys_with_status(keys: QuerySet[ProviderKey], status: str) -> QuerySet[ProviderKey]:
    """The database form of `ProviderKey.status_for`, in the same order of precedence."""
    now = timezone.now()
    usable = Q(enabled=True, owner__plan__byok_allowed=True)
    expired = Q(expires_at__lte=now)
    conditions = {
        ProviderKey.Status.DISABLED: Q(enabled=False),
        ProviderKey.Status.PLAN_INACTIVE: Q(enabled=True, owner__plan__byok_allowed=False),
        ProviderKey.Status.EXPIRED: usable & expired,
        ProviderKey.Status.FAILING: usable & ~expired & Q(failing_since__isnull=False),
        ProviderKey.Status.ACTIVE: usable & ~expired & Q(failing_since__isnull=True),
    }
    return keys.filter(conditions[status])


def console_api_keys(access: ConsoleAccess) -> QuerySet[ApiKey]:
    """Every member's API keys in the workspaces the user owns or administers."""
    return ApiKey.objects.filter(workspace_id__in=access.workspace_ids).select_related("user", "workspace")


def console_usage_limits(access: ConsoleAccess) -> QuerySet[UsageLimit]:
    """The user's own limits: a limit is on the owner's account, so only they see and change it."""
    return UsageLimit.objects.filter(owner_id=access.user_id).select_related("workspace", "member",
                                                                              "api_key__workspace")


def console_workspaces(access: ConsoleAccess) -> QuerySet[Workspace]:
    return (
        Workspace.objects.filter(pk__in=access.workspace_ids)
        .select_related("owner")
        .annotate(member_count=Count("memberships"),
                  owned_by_viewer=ExpressionWrapper(Q(owner_id=access.user_id), output_field=BooleanField()))
        .prefetch_related(Prefetch("memberships", queryset=Membership.objects.select_related("user")
                                   .order_by("role", "user__username")))
    )


def console_audit_events(access: ConsoleAccess) -> QuerySet[AuditEvent]:
    """Events about the user as an owner, and events in the workspaces they own or administer."""
    return AuditEvent.objects.filter(
        Q(owner_id=access.user_id) | Q(workspace_id__in=access.workspace_ids)
    ).select_related("workspace")


@dataclass(frozen=True)
class CreditBalance:
    owner: str
    plan: str
    allowance: int
    remaining: int


def usage_range_default(today: date | None = None) -> tuple[date, date]:
    """This month so far, in the site's time zone: the usage page's range when none is chosen."""
    today = today or timezone.localdate()
    return today.replace(day=1), today


def _bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[since 00:00, the day after until 00:00) in the site's time zone: both days included."""
    return (timezone.make_aware(datetime.combine(since, time.min)),
            timezone.make_aware(datetime.combine(until + timedelta(days=1), time.min)))


def console_usage_records(access: ConsoleAccess, *, since: date, until: date) -> QuerySet[UsageRecord]:
    """The usage rows of the visible workspaces from `since` to `until` (both days included)."""
    start, end = _bounds(since, until)
    return UsageRecord.objects.filter(workspace_id__in=access.workspace_ids, created_at__gte=start,
                                      created_at__lt=end)


def console_usage_breakdown(access: ConsoleAccess, *, since: date, until: date, catalog: Snapshot) -> dict:
    """`spend_by` workspace and by day: one grouped query each, whatever the rows (by model, member and API key:
    `usage_summary`'s)."""
    rows = console_usage_records(access, since=since, until=until)
    day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
    return {"by_workspace": list(spend_by(rows, "workspace__name", catalog=catalog)),
            "by_day": list(spend_by(rows.annotate(day=day), "day", catalog=catalog))}


EXPORT_COLUMNS = ("day", "workspace__slug", "user__username", "api_key__name", "api_key__key_hint", "source",
                  "provider", "model")
EXPORT_TOTALS = ("calls", *TOKEN_KINDS, "credits_charged")


def console_usage_export_rows(access: ConsoleAccess, *, since: date, until: date) -> Iterator[tuple]:
    """One row per day, workspace, member, workspace API key, source, provider and model (what the CSV export
    streams): EXPORT_COLUMNS, EXPORT_TOTALS, the estimated cost on the owner's keys and on platform credentials,
    and what prompt caching saved (None: no saving claimed). Grouped in the database, read in chunks. No provider
    key id or hint, no secret: names, the API key's hint (as the console's API key list shows it) and counts."""
    day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
    records = console_usage_records(access, since=since, until=until).annotate(day=day)
    for row in spend_by(records, *EXPORT_COLUMNS, "api_key_id", catalog=catalog_read()):  # keys of one name apart
        yield (*(row[name] for name in (*EXPORT_COLUMNS, *EXPORT_TOTALS)), row["byok_cost"], row["platform_cost"],
               row[f"{row['source']}_cache_saved"])


def console_usage(access: ConsoleAccess, *, until: datetime | None = None, since_day: date | None = None,
                  until_day: date | None = None, catalog: Snapshot | None = None) -> dict:
    """`usage_summary` of the visible workspaces (this month, or `since_day` to `until_day` included), and each of
    their owners' platform credits this month."""
    if since_day is not None and until_day is not None:
        since, until = _bounds(since_day, until_day)
    else:
        until = until or timezone.now()
        since = timezone.make_aware(datetime.combine(month_start(until), time.min))
    workspaces = list(Workspace.objects.filter(pk__in=access.workspace_ids).select_related("owner__plan"))
    owners = {w.owner_id: w.owner for w in workspaces}
    credits = [
        CreditBalance(owner=o.username, plan=o.plan.name, allowance=o.plan.monthly_platform_credits,
                      remaining=platform_credits_remaining(owner_id=o.pk, allowance=o.plan.monthly_platform_credits))
        for o in owners.values()
    ]
    return {**usage_summary(workspaces=workspaces, since=since, until=until, catalog=catalog), "credits": credits,
            "workspaces": workspaces}
