"""Staff ceilings per plan on the limits owners set: a limit above the plan's ceiling is refused with a 400 naming the
ceiling; an owner without a limit of that metric on their account is held to the ceiling; a limit set before staff
lowered the ceiling is held to it. Set with a staff command or the admin, audited, in force in every process at once."""

import openai
import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Plan
from audit.models import AuditAction, AuditEvent
from byok.models import PlanCeiling, UsageLimit
from byok.services.limits import plan_ceiling_set, usage_limit_set
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("whole_minute_ahead")]


def business() -> Plan:
    return Plan.objects.get(code="business")


def test_a_limit_above_the_plans_ceiling_is_refused_naming_it(client_for, owner_team):
    owner, workspace, _ = owner_team
    plan_ceiling_set(plan=business(), metric="money_per_month", value=50_000, actor=None)
    api = client_for(owner)
    refused = api.post("/api/v1/limits/", {"subject": "workspace", "workspace": workspace.slug,
                                           "metric": "money_per_month", "value": 60_000}, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "limit_above_plan_ceiling"
    assert error["fields"] == {"value": ["At most 50000: the Business plan's ceiling of $500.00 per month (UTC)."]}
    assert not UsageLimit.objects.exists()
    at_ceiling = api.post("/api/v1/limits/", {"subject": "owner", "metric": "money_per_month", "value": 50_000},
                          format="json")
    assert at_ceiling.status_code == 201 and at_ceiling.json()["plan_ceiling"] == 50_000


def test_without_a_limit_of_their_own_an_owner_is_held_to_the_ceiling(dataplane, sandbox, client_for, owner_team):
    owner, workspace, member = owner_team
    plan_ceiling_set(plan=business(), metric="requests_per_minute", value=2, actor=None)
    client = dataplane.openai(member)
    for _ in range(2):
        answer = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
        assert answer.headers["x-ratelimit-limit-requests"] == "2"
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    assert "2 requests per minute on this account, set by the Business plan" in refused.value.message
    # Counted per owner: another owner on the plan has their own two calls.
    other_owner, _, other_member = team()
    key_for(other_owner, sandbox.add_account("openai"), provider="openai")
    assert dataplane.openai(other_member).chat.completions.create(model="gpt-5-mini", messages=MESSAGES).choices
    [shown] = client_for(owner).get("/api/v1/limits/plan-ceilings/").json()
    assert shown == {"plan": "business", "metric": "requests_per_minute", "value": 2, "in_force": True,
                     "used_now": shown["used_now"]} and shown["used_now"] >= 2


def test_a_limit_set_before_staff_lowered_the_ceiling_is_held_to_it(dataplane, owner_team):
    owner, workspace, member = owner_team
    usage_limit_set(owner=owner, actor=owner, subject="owner", metric="requests_per_minute", value=50)
    plan_ceiling_set(plan=business(), metric="requests_per_minute", value=1, actor=None)
    client = dataplane.openai(member)
    assert client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES).choices
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    assert refused.value.response.headers["x-ratelimit-limit-requests"] == "1"
    assert "set by the Business plan" in refused.value.message


def test_staff_set_and_remove_ceilings_with_the_command_audited():
    call_command("set_plan_ceiling", "business", "tokens_per_minute", "100000")
    assert PlanCeiling.objects.get(plan__code="business", metric="tokens_per_minute").value == 100_000
    call_command("set_plan_ceiling", "business", "tokens_per_minute", "none")
    assert not PlanCeiling.objects.exists()
    events = AuditEvent.objects.filter(action__startswith="PLAN_CEILING").order_by("id")
    assert [(e.action, e.details["value"], e.details["from"]) for e in events] == [
        (AuditAction.PLAN_CEILING_SET, 100_000, None), (AuditAction.PLAN_CEILING_REMOVED, None, 100_000)]
    with pytest.raises(CommandError, match="Unknown plan 'gold'"):
        call_command("set_plan_ceiling", "gold", "tokens_per_minute", "5")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("set_plan_ceiling", "business", "tokens_per_minute", "0")


def test_staff_set_a_ceiling_in_the_admin_audited(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    answer = client.post(reverse("admin:byok_planceiling_add"),
                         {"plan": business().pk, "metric": "money_per_day", "value": 1000})
    assert answer.status_code == 302, answer.content
    ceiling = PlanCeiling.objects.get()
    client.post(reverse("admin:byok_planceiling_change", args=[ceiling.pk]), {"value": 2000})
    client.post(reverse("admin:byok_planceiling_delete", args=[ceiling.pk]), {"post": "yes"})
    assert not PlanCeiling.objects.exists()
    assert list(AuditEvent.objects.filter(action__startswith="PLAN_CEILING").order_by("id")
                .values_list("action", "actor_id", "details__value")) == [
        (AuditAction.PLAN_CEILING_SET, staff.pk, 1000), (AuditAction.PLAN_CEILING_SET, staff.pk, 2000),
        (AuditAction.PLAN_CEILING_REMOVED, staff.pk, None)]
