"""/metrics: bearer-protected Prometheus text; calls, fallbacks, breaker, invalidations and the audit backlog move."""

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.byok.gateway.test_routing import revoke
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads
TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def scrape(settings):
    settings.BYOK_METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple, float]:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(response.content.decode())
                for sample in family.samples}

    return scrape


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_is_absent_without_a_token_and_refuses_a_wrong_one(settings):
    settings.BYOK_METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.BYOK_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200


def test_gateway_calls_fallbacks_and_breaker_move_the_counters(sandbox, client_for, settings, scrape,
                                                              django_capture_on_commit_callbacks):
    owner, workspace, member = team()
    account = sandbox.add_account("anthropic")
    key_for(owner, account, provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    before = scrape()

    def complete():
        with django_capture_on_commit_callbacks(execute=True):
            response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                               {"messages": MESSAGES, "provider": "anthropic"}, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    assert complete()["source"] == "byok"
    revoke(sandbox, account)
    fallback = complete()
    assert (fallback["source"], fallback["fallback_reason"]) == ("platform", "invalid_credentials")
    after = scrape()

    model = fallback["model"]
    calls = "byok_llm_calls_total"
    assert value(after, calls, source="byok", provider="anthropic", model=model, outcome="ok") - \
        value(before, calls, source="byok", provider="anthropic", model=model, outcome="ok") == 1
    assert value(after, calls, source="byok", provider="anthropic", model=model, outcome="invalid_credentials") - \
        value(before, calls, source="byok", provider="anthropic", model=model, outcome="invalid_credentials") == 1
    assert value(after, calls, source="platform", provider="anthropic", model=model, outcome="ok") - \
        value(before, calls, source="platform", provider="anthropic", model=model, outcome="ok") == 1
    assert value(after, "byok_fallbacks_total", reason="invalid_credentials") - \
        value(before, "byok_fallbacks_total", reason="invalid_credentials") == 1
    assert value(after, "byok_breaker_transitions_total", transition="open") - \
        value(before, "byok_breaker_transitions_total", transition="open") == 1
    assert value(after, "byok_llm_call_seconds_count", source="byok", provider="anthropic") - \
        value(before, "byok_llm_call_seconds_count", source="byok", provider="anthropic") == 2


def test_invalidations_and_the_audit_backlog(scrape, django_capture_on_commit_callbacks, settings):
    from core.invalidation import generation_bump
    from tests.factories import WorkspaceFactory

    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        generation_bump("metrics-test")
    after = scrape()
    assert value(after, "byok_cache_invalidations_total", topic="metrics-test") - \
        value(before, "byok_cache_invalidations_total", topic="metrics-test") == 1

    WorkspaceFactory()  # audited (MEMBER_ADDED), not yet chained: the worker has not run in this test
    backlog = scrape()
    assert value(backlog, "byok_audit_backlog", state="unchained", sink="") >= 1
    assert ("byok_audit_backlog", (("sink", "log"), ("state", "undelivered"))) in backlog
