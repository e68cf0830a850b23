"""Limits as production runs them: four data-plane processes (uvicorn) on PostgreSQL, counting in one Redis.

- 1,000 calls in 10 s, spread over the four, on one API key limited to 100 requests per minute: 100 to 104 are
  served, every other one is a 429 in the endpoint's shape with Retry-After and the x-ratelimit-* headers, and no
  refused call reaches the provider;
- a money budget, spent by calls taking turns over the four processes, stops within one call of its limit;
- the 80 % notice of each limit is recorded once, whichever process crossed it, and e-mailed once.
"""

import asyncio
import time

import httpx2
import pytest

from audit.models import AuditAction, AuditEvent
from byok.models import Model
from byok.services.limits import usage_limit_set
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.fixtures.dataplane import DataPlaneServer

pytestmark = pytest.mark.django_db(transaction=True)
CHAT = "openai.ChatCompletions"
PROCESSES, CALLS, SECONDS, LIMIT = 4, 1000, 10, 100
BODY = {"model": "gpt-5-mini", "messages": MESSAGES}
BUDGET_CENTS = 3
CENTS_PER_TOKEN = 0.01  # the prices set below: $100 per million tokens, input and output


async def burst(urls: list[str], raw_key: str) -> list[httpx2.Response]:
    """CALLS calls over SECONDS, round robin over the processes, as traffic arrives (not waiting for answers)."""
    headers = {"Authorization": f"Bearer {raw_key}"}
    async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=CALLS)) as client:
        calls, start = [], time.monotonic()
        for number in range(CALLS):
            url = f"{urls[number % len(urls)]}/v1/chat/completions"
            calls.append(asyncio.create_task(client.post(url, json=BODY, headers=headers)))
            await asyncio.sleep(max(0.0, start + (number + 1) * SECONDS / CALLS - time.monotonic()))
        return await asyncio.gather(*calls)


def notices(limit) -> list[int]:
    return [event.details["percent"] for event in AuditEvent.objects.filter(
        action=AuditAction.USAGE_LIMIT_THRESHOLD, details__limit_id=limit.pk)]


def wait_for_notices(*limits, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not all(notices(limit) for limit in limits):
        assert time.monotonic() < deadline, "no threshold notice was recorded"
        time.sleep(0.1)
    time.sleep(1.5)  # a second notice, from another process, would have been recorded by now


def test_four_processes_hold_a_rate_limit_and_a_budget_and_notice_once(
        postgres, redis_url, dataplane_processes, sandbox, mailoutbox, ship_audit):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    # Prices the simulator's short answers reach quickly (the processes read the catalog when they start).
    Model.objects.filter(family="openai", model_id="gpt-5-mini").update(input_price_per_mtok=100,
                                                                       output_price_per_mtok=100)
    burst_key, burst_raw = DataPlaneServer.api_key(member, name="burst")
    budget_key, budget_raw = DataPlaneServer.api_key(member, name="budget")
    rate = usage_limit_set(owner=owner, actor=owner, subject="api_key", api_key=burst_key,
                           metric="requests_per_minute", value=LIMIT, thresholds=[80])
    budget = usage_limit_set(owner=owner, actor=owner, subject="api_key", api_key=budget_key, metric="money_per_day",
                             value=BUDGET_CENTS, thresholds=[80])
    urls = [server.url for server in dataplane_processes(PROCESSES, env={"CACHE_URL": redis_url})]

    left = 60 - time.time() % 60
    if left < SECONDS + 2:  # requests are counted per clock minute: the burst stays in one
        time.sleep(left + 0.1)
    answers = asyncio.run(burst(urls, burst_raw))
    served = [answer for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code != 200]
    assert LIMIT <= len(served) <= LIMIT + 4, len(served)
    assert len({answer.url.port for answer in served}) == PROCESSES  # each process served some: the count is shared
    assert len(sandbox.call_log(CHAT)) == len(served)  # a refused call never reaches the provider
    assert all(answer.headers["x-ratelimit-limit-requests"] == str(LIMIT) for answer in served)
    for answer in refused:
        assert answer.status_code == 429 and answer.json()["error"]["code"] == "rate_limit_exceeded", answer.text
        assert 1 <= int(answer.headers["retry-after"]) <= 60
        assert answer.headers["x-ratelimit-limit-requests"] == str(LIMIT)
        assert answer.headers["x-ratelimit-remaining-requests"] == "0"
        assert answer.headers["x-ratelimit-reset-requests"].endswith("s")

    spent_cents, budget_refusal = [], None
    with httpx2.Client(headers={"Authorization": f"Bearer {budget_raw}"}, timeout=30) as client:
        for number in range(60):
            answer = client.post(f"{urls[number % PROCESSES]}/v1/chat/completions", json=BODY)
            if answer.status_code != 200:
                budget_refusal = answer
                break
            spent_cents.append(answer.json()["usage"]["total_tokens"] * CENTS_PER_TOKEN)
            # The cost is counted off the request path; a process reads the others' once a second at most, and its
            # next turn comes after that.
            time.sleep(0.35)
    assert budget_refusal is not None and budget_refusal.status_code == 429, spent_cents
    assert "$0.03 per day" in budget_refusal.json()["error"]["message"]
    assert len(spent_cents) > PROCESSES  # every process served part of the budget
    total = sum(spent_cents)
    assert total - spent_cents[-1] < BUDGET_CENTS <= total  # the call that reached the budget was the last served

    wait_for_notices(rate, budget)
    assert (notices(rate), notices(budget)) == ([80], [80])
    ship_audit()
    assert sorted(mail.subject for mail in mailoutbox) == [
        "byok: 80 % of your budget of $0.03 per day is used",
        "byok: 80 % of your limit of 100 requests per minute is used"]
