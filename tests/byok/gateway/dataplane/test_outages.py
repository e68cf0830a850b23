"""Outages answer in shape: with the database down, /v1 answers 503 in the endpoint's own error shape with
Retry-After (never a 500 or plain text), a data plane started during the outage serves once it ends, and keys
already cached keep serving. With the shared cache down, calls are served from the database and the outage is
logged once. A provider's 2xx that is not JSON is a provider failure: the call falls back, logged and counted."""

import logging
import time

import httpx
import pytest
from django.test import Client

from byok.catalog.selectors import cache as catalog_snapshot
from tests.byok.gateway.outages import closed_port, database_unreachable
from tests.fixtures.workers import wait_until
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account
from tests.fixtures.dataplane import DataPlaneServer

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "openai/standard", "messages": MESSAGES, "max_tokens": 50}
CLAUDE = {"model": "claude-sonnet", "messages": MESSAGES, "max_tokens": 50}


def assert_openai_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["type"] == "service_unavailable"
    assert response.json()["error"]["code"] == "service_unavailable"


def assert_anthropic_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"].isdigit()
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "overloaded_error"


def test_uncached_keys_get_503_in_shape_while_cached_keys_keep_serving(dataplane, sandbox, tmp_path):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    cached = dataplane.openai(member)
    uncached = dataplane.token(member)  # created before the outage, never used: not in any cache
    cached.chat.completions.create(**CHAT)
    time.sleep(0.6)  # the watcher has seen the set-up's bumps; the next call fills the caches again
    cached.chat.completions.create(**CHAT)

    with database_unreachable(tmp_path):
        assert cached.chat.completions.create(**CHAT).choices
        assert_openai_503(httpx.post(f"{dataplane.url}/v1/chat/completions", json=CHAT,
                                     headers={"Authorization": f"Bearer {uncached}"}))
        assert_anthropic_503(httpx.post(f"{dataplane.url}/v1/messages", json=CLAUDE,
                                        headers={"x-api-key": uncached, "anthropic-version": "2023-06-01"}))
        assert_anthropic_503(httpx.get(f"{dataplane.url}/v1/models",
                                       headers={"x-api-key": uncached, "anthropic-version": "2023-06-01"}))
    assert httpx.post(f"{dataplane.url}/v1/chat/completions", json=CHAT,
                      headers={"Authorization": f"Bearer {uncached}"}).status_code == 200


def test_a_data_plane_started_during_an_outage_serves_once_the_database_is_back(transactional_db, sandbox, tmp_path):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    key = DataPlaneServer.token(member)
    catalog_snapshot.clear()  # a new process has not read the catalog yet

    with database_unreachable(tmp_path):
        server = DataPlaneServer().start()
        try:
            assert_openai_503(httpx.post(f"{server.url}/v1/chat/completions", json=CHAT,
                                         headers={"Authorization": f"Bearer {key}"}))
            assert_anthropic_503(httpx.post(f"{server.url}/v1/messages", json=CLAUDE,
                                            headers={"x-api-key": key, "anthropic-version": "2023-06-01"}))
        except BaseException:
            server.stop()
            raise
    try:
        answer = httpx.post(f"{server.url}/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
    finally:
        server.stop()


def test_with_the_shared_cache_down_calls_are_served_and_the_outage_is_logged_once(dataplane, sandbox, settings,
                                                                                  caplog):
    caplog.set_level(logging.WARNING, logger="core.invalidation")
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    client = dataplane.openai(member)
    reachable = settings.CACHES  # the run's own cache (the database's in development, Redis in CI)
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
                                   "OPTIONS": {"socket_connect_timeout": 1}}}
    for _ in range(3):
        assert client.chat.completions.create(**CHAT).choices
    time.sleep(1.0)  # four polls of the generation or more

    unreadable = [r for r in caplog.records if "Could not read the 'gateway' generation" in r.getMessage()]
    assert len(unreadable) == 1 and unreadable[0].exc_info is None  # once per outage, no traceback
    settings.CACHES = reachable
    wait_until(lambda: any("'gateway' generation is readable again" in r.getMessage() for r in caplog.records),
               timeout=10)


def test_a_broken_2xx_body_falls_back_and_is_logged_and_counted_with_the_request_id(dataplane, sandbox, settings,
                                                                                    caplog):
    caplog.set_level(logging.WARNING, logger="byok.gateway.dataplane")
    settings.BYOK_METRICS_TOKEN = "metrics-token-for-tests"
    use_platform_account(settings, sandbox, provider="openai")
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai", behaviour="broken_body"), provider="openai")

    answer = dataplane.openai(member).chat.completions.with_raw_response.create(
        **CHAT, extra_headers={"X-Request-Id": "req-broken-body-0001"})

    assert answer.http_response.status_code == 200 and answer.parse().choices
    assert answer.headers["x-byok-source"] == "platform"
    assert answer.headers["x-byok-fallback-reason"] == "provider_unavailable"
    warning = [r for r in caplog.records if "req-broken-body-0001" in r.getMessage()]
    assert len(warning) == 1 and warning[0].levelno == logging.WARNING
    assert "openai call on byok credentials failed (provider_unavailable, code MalformedBody)" in warning[0].getMessage()
    scrape = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer metrics-token-for-tests").content.decode()
    failed = [line for line in scrape.splitlines() if line.startswith("byok_llm_calls_total{")
              and 'outcome="provider_unavailable"' in line and 'provider="openai"' in line and 'source="byok"' in line]
    assert failed and float(failed[0].rsplit(" ", 1)[1]) >= 1
