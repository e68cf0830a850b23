"""Rate limits on /v1: a limit the owner sets on an API key, a member, a workspace or the account is answered with
429 in the endpoint's shape and Retry-After once reached, and every answer carries x-ratelimit-* as the OpenAI SDKs
read them. A refused call never reaches the provider (the simulator's call log)."""

import time

import anthropic
import openai
import pytest

from audit.models import AuditAction, AuditEvent
from byok.models import UsageLimit
from byok.services.limits import usage_limit_set
from tests.byok.routing_helpers import MESSAGES, key_for, use_platform_account
from tests.factories import add_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("whole_minute_ahead")]
CHAT = "openai.ChatCompletions"


def test_an_api_key_limited_to_three_requests_a_minute_serves_three_then_429(dataplane, sandbox, owner_team):
    owner, workspace, member = owner_team
    api_key, raw = dataplane.api_key(member)
    usage_limit_set(owner=owner, actor=owner, subject="api_key", api_key=api_key, metric="requests_per_minute",
                    value=3)
    client = dataplane.openai(member, key=raw)
    remaining = []
    for _ in range(3):
        answer = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
        assert answer.headers["x-ratelimit-limit-requests"] == "3"
        assert answer.headers["x-ratelimit-reset-requests"].endswith("s")
        remaining.append(answer.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    response = refused.value.response
    assert refused.value.body["code"] == "rate_limit_exceeded" and "3 requests per minute" in refused.value.message
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert len(sandbox.call_log(CHAT)) == 3
    # Another API key of the workspace is not counted against this one.
    assert dataplane.openai(member).chat.completions.create(model="gpt-5-mini", messages=MESSAGES).choices


def test_a_member_limit_counts_that_member_only_and_answers_in_the_messages_shape(dataplane, sandbox, owner_team):
    owner, workspace, member = owner_team
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    usage_limit_set(owner=owner, actor=owner, subject="member", workspace=workspace, member=member,
                    metric="requests_per_minute", value=1)
    client = dataplane.anthropic(member)
    assert client.messages.create(model="anthropic/standard", max_tokens=20, messages=MESSAGES).content
    with pytest.raises(anthropic.RateLimitError) as refused:
        client.messages.create(model="anthropic/standard", max_tokens=20, messages=MESSAGES)
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert "retry-after" in refused.value.response.headers
    colleague = add_member(workspace)
    assert dataplane.openai(colleague).chat.completions.create(model="gpt-5-mini", messages=MESSAGES).choices


def test_a_tokens_limit_refuses_once_the_minutes_tokens_reach_it(dataplane, sandbox, owner_team):
    owner, workspace, member = owner_team
    usage_limit_set(owner=owner, actor=owner, subject="workspace", workspace=workspace, metric="tokens_per_minute",
                    value=10)
    client = dataplane.openai(member)
    first = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert first.headers["x-ratelimit-limit-tokens"] == "10" and first.headers["x-ratelimit-remaining-tokens"] == "10"
    assert first.parse().usage.total_tokens > 10
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    assert refused.value.response.headers["x-ratelimit-remaining-tokens"] == "0"
    assert len(sandbox.call_log(CHAT)) == 1


def test_setting_and_removing_limits_is_audited_and_shown_with_its_use(dataplane, client_for, owner_team):
    owner, workspace, member = owner_team
    api = client_for(owner)
    created = api.post("/api/v1/limits/", {"subject": "workspace", "workspace": workspace.slug,
                                           "metric": "requests_per_minute", "value": 50}, format="json")
    assert created.status_code == 201, created.json()
    dataplane.openai(member).chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    [shown] = api.get("/api/v1/limits/").json()
    assert (shown["value"], shown["workspace"]) == (50, workspace.slug) and shown["used_now"] >= 1
    refused = api.post("/api/v1/limits/", {"subject": "workspace", "metric": "requests_per_minute", "value": 5},
                       format="json")
    assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == ["workspace"]
    assert api.delete(f"/api/v1/limits/{shown['id']}/").status_code == 204
    assert not UsageLimit.objects.exists()
    assert list(AuditEvent.objects.filter(action__startswith="USAGE_LIMIT").values_list("action", flat=True)
                .order_by("id")) == [AuditAction.USAGE_LIMIT_SET, AuditAction.USAGE_LIMIT_REMOVED]


def test_the_rest_completion_endpoint_counts_against_the_same_limits(sandbox, client_for, owner_team):
    owner, workspace, member = owner_team
    usage_limit_set(owner=owner, actor=owner, subject="workspace", workspace=workspace, metric="requests_per_minute",
                    value=1)
    url = f"/api/v1/workspaces/{workspace.slug}/completions/"
    body = {"messages": MESSAGES, "provider": "openai"}
    assert client_for(member).post(url, body, format="json").status_code == 200
    refused = client_for(member).post(url, body, format="json")
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert len(sandbox.call_log(CHAT)) == 1


def test_a_money_budget_stops_within_one_call_and_the_80_percent_notice_is_sent_once(dataplane, sandbox, owner_team,
                                                                                    mailoutbox, ship_audit):
    from byok.catalog.selectors import catalog_snapshot
    from byok.models import Model
    from core.invalidation import generation_bump

    owner, workspace, member = owner_team
    # Prices the simulator's short answers reach quickly: $1 per 10,000 tokens, input and output.
    Model.objects.filter(family="openai", model_id="gpt-5-mini").update(input_price_per_mtok=100,
                                                                       output_price_per_mtok=100)
    generation_bump("catalog")
    time.sleep(0.6)  # the data plane's watcher (every 0.25 s) has dropped its catalog: calls are priced anew
    catalog_snapshot()
    budget = 1  # US cent per day: about three calls
    usage_limit_set(owner=owner, actor=owner, subject="owner", metric="money_per_day", value=budget,
                    thresholds=[80])
    client = dataplane.openai(member)
    spent_cents = []
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(50):
            answer = client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
            spent_cents.append(answer.usage.total_tokens * 100 / 1_000_000 * 100)
            time.sleep(0.05)  # the cost is counted off the request path
    assert "$0.01 per day" in refused.value.message
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 86_400
    total = sum(spent_cents)
    assert total - spent_cents[-1] < budget <= total  # the call that reached the budget was the last served
    assert len(sandbox.call_log(CHAT)) == len(spent_cents)
    dataplane.flush_usage()
    time.sleep(0.3)
    notices = AuditEvent.objects.filter(action=AuditAction.USAGE_LIMIT_THRESHOLD)
    assert [(e.details["percent"], e.owner_id) for e in notices] == [(80, owner.pk)]
    ship_audit()
    assert [m.subject for m in mailoutbox] == ["byok: 80 % of your budget of $0.01 per day is used"]
    assert "At the limit, calls are refused (429) until the period ends." in mailoutbox[0].body


def test_past_a_limit_the_owner_may_have_calls_served_on_platform_credits(dataplane, sandbox, settings, owner_team,
                                                                         mailoutbox, ship_audit):
    owner, workspace, member = owner_team
    platform = use_platform_account(settings, sandbox, provider="openai")
    usage_limit_set(owner=owner, actor=owner, subject="member", workspace=workspace, member=member,
                    metric="requests_per_minute", value=1, on_exceed="platform", thresholds=[50])
    client = dataplane.openai(member)
    first = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    second = client.chat.completions.with_raw_response.create(model="gpt-5-mini", messages=MESSAGES)
    assert (first.headers["x-byok-source"], first.headers["x-byok-fallback-reason"]) == ("byok", "")
    assert (second.headers["x-byok-source"], second.headers["x-byok-fallback-reason"]) == ("platform",
                                                                                             "limit_exceeded")
    assert [call["account"] == platform.name for call in sandbox.call_log(CHAT)] == [False, True]
    time.sleep(0.3)  # the notice is recorded off the request path
    ship_audit()
    assert "At the limit, calls are served on platform credentials" in mailoutbox[-1].body


def test_a_limits_history_counts_the_calls_it_served_and_the_calls_past_it(dataplane, client_for, owner_team):
    owner, workspace, member = owner_team
    api_key, raw = dataplane.api_key(member)
    limit = usage_limit_set(owner=owner, actor=owner, subject="api_key", api_key=api_key,
                            metric="requests_per_minute", value=1)
    client = dataplane.openai(member, key=raw)
    assert client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES).choices
    for _ in range(2):
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="gpt-5-mini", messages=MESSAGES)
    dataplane.openai(member).chat.completions.create(model="gpt-5-mini", messages=MESSAGES)  # another API key
    dataplane.flush_usage()
    time.sleep(1.3)  # a process adds its calls past a limit to the shared count once a second
    today = client_for(owner).get(f"/api/v1/limits/{limit.pk}/").json()["history"][-1]
    assert (today["used"], today["peak"], today["past_limit"]) == (1.0, 1.0, 2)
