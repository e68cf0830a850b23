"""Limits in the owner console: the owner adds, changes and deletes limits (each audited, the same service as the
API), a limit above the plan's ceiling is refused on the form naming it, each limit's page shows its use now and its
last 30 days, and nobody else sees an owner's limits."""

import html
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils.html import strip_tags

from accounts.models import Membership, Plan
from audit.models import AuditAction, AuditEvent
from byok.models import UsageLimit, UsageRecord
from byok.services.limits import plan_ceiling_set, usage_limit_set
from tests.byok.console.conftest import signed_in
from tests.factories import BusinessUserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db

LIMITS = "/manage/byok/usagelimit/"


def text(response) -> str:
    return " ".join(html.unescape(strip_tags(response.content.decode())).split())


def test_owner_adds_a_limit_on_a_workspace_audited(owner, workspace):
    client = signed_in(owner)
    answer = client.post(f"{LIMITS}add/", {
        "subject": "workspace", "workspace": workspace.pk, "metric": "money_per_day", "value": "2500",
        "on_exceed": "refuse", "fail_mode": "closed", "thresholds": "80, 95"})
    limit = UsageLimit.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"{LIMITS}{limit.pk}/change/"
    assert (limit.subject, limit.workspace, limit.metric, limit.value, limit.fail_mode, limit.thresholds) == \
        ("workspace", workspace, "money_per_day", 2500, "closed", [80, 95])
    [event] = AuditEvent.objects.filter(action=AuditAction.USAGE_LIMIT_SET)
    assert (event.actor, event.details["value"]) == (owner, 2500)
    page = text(client.get(answer["Location"]))
    assert "The limit of $25.00 per day (UTC) on workspace Acme is set." in page
    assert "Notify me at 80 %, 95 %" in page


def test_the_form_names_what_is_wrong_and_stores_nothing(owner, workspace):
    plan_ceiling_set(plan=Plan.objects.get(code="business"), metric="requests_per_minute", value=600, actor=None)
    client = signed_in(owner)
    above = client.post(f"{LIMITS}add/", {"subject": "owner", "metric": "requests_per_minute", "value": "1000",
                                          "on_exceed": "refuse", "fail_mode": "open"})
    assert above.status_code == 400
    assert "Limit: At most 600: the Business plan's ceiling of 600 requests per minute." in text(above)
    fields = {"subject": "workspace", "metric": "requests_per_minute", "value": "10", "on_exceed": "refuse",
              "fail_mode": "open"}
    no_workspace = client.post(f"{LIMITS}add/", fields)
    assert no_workspace.status_code == 400 and "Workspace: Required for subject workspace." in text(no_workspace)
    bad_thresholds = client.post(f"{LIMITS}add/", {**fields, "workspace": workspace.pk, "thresholds": "eighty"})
    assert bad_thresholds.status_code == 400 and "Notify me at: Whole percentages" in text(bad_thresholds)
    assert not UsageLimit.objects.exists()


def test_owner_changes_then_deletes_a_limit_audited(owner, workspace):
    limit = usage_limit_set(owner=owner, actor=owner, subject="owner", metric="requests_per_minute", value=100)
    client = signed_in(owner)
    changed = client.post(f"{LIMITS}{limit.pk}/change/", {"value": "250", "on_exceed": "platform",
                                                          "fail_mode": "open", "thresholds": "90"})
    assert changed.status_code == 302
    limit.refresh_from_db()
    assert (limit.subject, limit.metric, limit.value, limit.on_exceed, limit.thresholds) == \
        ("owner", "requests_per_minute", 250, "platform", [90])
    deleted = client.post(f"{LIMITS}{limit.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302 and not UsageLimit.objects.exists()
    events = AuditEvent.objects.filter(action__startswith="USAGE_LIMIT").order_by("id")
    assert [(e.action, e.details["value"], e.details.get("from", {}).get("value")) for e in events] == [
        (AuditAction.USAGE_LIMIT_SET, 100, None), (AuditAction.USAGE_LIMIT_SET, 250, 100),
        (AuditAction.USAGE_LIMIT_REMOVED, 250, None)]


def record(workspace, *, days_ago: int, cost: str, api_key_id=None, minute: int = 0, tokens: int = 10):
    at = datetime.now(UTC).replace(hour=12, minute=minute) - timedelta(days=days_ago)
    row = UsageRecord.objects.create(workspace=workspace, owner=workspace.owner, provider="openai", model="gpt-5-mini",
                                     source="byok", task="standard", input_tokens=tokens, output_tokens=tokens,
                                     estimated_cost=Decimal(cost), api_key_id=api_key_id)
    UsageRecord.objects.filter(pk=row.pk).update(created_at=at)


def test_a_limits_page_and_the_api_show_its_last_30_days(owner, workspace, client_for):
    budget = usage_limit_set(owner=owner, actor=owner, subject="workspace", workspace=workspace,
                             metric="money_per_day", value=100)
    rate = usage_limit_set(owner=owner, actor=owner, subject="workspace", workspace=workspace,
                           metric="requests_per_minute", value=4)
    record(workspace, days_ago=0, cost="0.40")
    record(workspace, days_ago=0, cost="0.35", minute=1)
    record(workspace, days_ago=0, cost="0.05", minute=1)
    record(workspace, days_ago=2, cost="1.20")
    record(workspace, days_ago=31, cost="9.00")  # outside the 30 days
    page = text(signed_in(owner).get(f"{LIMITS}{budget.pk}/change/"))
    today, two_days_ago = datetime.now(UTC).date(), datetime.now(UTC).date() - timedelta(days=2)
    assert f"{today:%Y-%m-%d} $0.80 $0.80 80 % 0" in page
    assert f"{two_days_ago:%Y-%m-%d} $1.20 $1.20 100 % 0" in page
    assert "$9.00" not in page
    history = client_for(owner).get(f"/api/v1/limits/{rate.pk}/").json()["history"]
    assert len(history) == 30 and history[-1] == {"day": f"{today:%Y-%m-%d}", "used": 3.0, "peak": 2.0,
                                                  "past_limit": 0}
    assert history[-3]["used"] == 1.0 and history[0]["used"] == 0.0


def test_a_month_budgets_history_counts_the_month_so_far(owner, workspace, client_for):
    budget = usage_limit_set(owner=owner, actor=owner, subject="owner", metric="money_per_month", value=1000)
    today = datetime.now(UTC).date()
    record(workspace, days_ago=0, cost="1.00")
    if today.day > 1:
        record(workspace, days_ago=1, cost="2.00")
    history = client_for(owner).get(f"/api/v1/limits/{budget.pk}/").json()["history"]
    assert history[-1]["used"] == 100.0
    assert history[-1]["peak"] == (300.0 if today.day > 1 else 100.0)


def test_nobody_else_sees_an_owners_limits(owner, workspace):
    limit = usage_limit_set(owner=owner, actor=owner, subject="owner", metric="requests_per_minute", value=100)
    admin = add_member(workspace, role=Membership.Role.ADMIN)
    client = signed_in(admin)
    assert client.get(LIMITS).status_code == 403  # a workspace admin: the limits are the owner's
    assert client.get(f"{LIMITS}{limit.pk}/change/").status_code == 404
    other_owner = BusinessUserFactory()
    WorkspaceFactory(owner=other_owner)
    other = signed_in(other_owner)
    assert other.get(f"{LIMITS}{limit.pk}/change/").status_code == 404
    assert other.post(f"{LIMITS}{limit.pk}/delete/", {"post": "yes"}).status_code in (403, 404)
    assert UsageLimit.objects.filter(pk=limit.pk).exists()


def test_the_list_and_the_home_show_the_plans_ceiling_in_force(owner, workspace):
    plan_ceiling_set(plan=Plan.objects.get(code="business"), metric="money_per_month", value=50_000, actor=None)
    listing = text(signed_in(owner).get(LIMITS))
    assert "Your plan allows at most: $500.00 per month (UTC)." in listing
    assert "$500.00 per month (UTC) on all your workspaces: used this period $0.00" in listing
    home = text(signed_in(owner).get("/manage/"))
    assert "all your workspaces $500.00 per month (UTC) (set by your Business plan) $0.00 calls are served" in home
