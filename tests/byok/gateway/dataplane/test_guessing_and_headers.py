"""API-key guessing on /v1 is throttled per client address by the sign-in lockout rules, and X-Request-Id follows
the control plane's rule."""

import secrets

import httpx
import pytest

from audit.models import AuditAction, AuditEvent
from core.request_context import request_id_from
from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"model": "openai/standard", "messages": [{"role": "user", "content": "Hello"}]}


@pytest.fixture
def lockout_rules(settings):
    settings.BYOK_LOGIN_FAILURE_LIMIT = 5
    settings.BYOK_LOGIN_LOCKOUT_SECONDS = 60
    settings.BYOK_TRUSTED_PROXY_COUNT = 1  # the address is the one our proxy saw (X-Forwarded-For)


def call(dataplane, key: str, address: str, **headers) -> httpx.Response:
    return httpx.post(f"{dataplane.url}/v1/chat/completions", json=HELLO, timeout=30,
                      headers={"Authorization": f"Bearer {key}", "X-Forwarded-For": address, **headers})


def guess() -> str:
    return "byok_" + secrets.token_urlsafe(32)


def test_unknown_keys_from_one_address_lock_it_out_and_it_learns_nothing_more(dataplane, sandbox, lockout_rules):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    _, warm = dataplane.api_key(member, workspace, name="warm")
    _, cold = dataplane.api_key(member, workspace, name="cold")
    assert call(dataplane, warm, "198.51.100.9").status_code == 200  # a good key, now in the data plane's memory

    statuses = [call(dataplane, guess(), "203.0.113.7").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    refused = call(dataplane, cold, "203.0.113.7")  # a good key, but no lookup for a locked address
    assert refused.status_code == 429 and 55 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"]["code"] == "too_many_invalid_keys"
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert call(dataplane, warm, "203.0.113.7").status_code == 200  # a good key in memory costs no lookup
    assert call(dataplane, cold, "198.51.100.9").status_code == 200  # other addresses are not slowed
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_LOCKED_OUT)
    assert (event.details["ip"], event.details["surface"], event.details["locked"]) == ("203.0.113.7", "v1",
                                                                                        "address")


def test_the_same_unknown_key_repeated_counts_each_time(dataplane, lockout_rules):
    key = guess()
    assert [call(dataplane, key, "203.0.113.8").status_code for _ in range(6)] == [401] * 4 + [429] * 2


@pytest.mark.parametrize("incoming, echoed", [
    ("req-2026.12.07_abc", True),
    ("x" * 10_000, False),
    ("abcdefgh; Set-Cookie: session=stolen", False),
    ("short", False),
])
def test_x_request_id_is_echoed_only_when_django_would(dataplane, client, incoming, echoed):
    answer = call(dataplane, guess(), "192.0.2.1", **{"X-Request-Id": incoming})
    control = client.get("/healthz", HTTP_X_REQUEST_ID=incoming)
    for given in (answer.headers["x-request-id"], control.headers["X-Request-ID"]):
        assert (given == incoming) is echoed
        assert request_id_from(given) == given  # whatever is echoed passes the rule


def test_a_request_id_with_a_trailing_newline_is_replaced():
    assert request_id_from("abcdefgh\n") != "abcdefgh\n" and request_id_from("abcdefgh") == "abcdefgh"


def test_with_the_shared_cache_unreachable_guessing_is_not_throttled_and_logged_once(settings, caplog):
    from byok.gateway.auth import authenticate_api_key_from

    settings.BYOK_LOGIN_FAILURE_LIMIT = 2
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0", "OPTIONS": {"socket_connect_timeout": 0.2}}}
    with caplog.at_level("WARNING", logger="accounts.lockout"):
        assert [authenticate_api_key_from(guess(), "203.0.113.9") for _ in range(4)] == [None] * 4
    lockout_lines = [r for r in caplog.records if r.name == "accounts.lockout"]
    assert [r.getMessage() for r in lockout_lines] == [
        "lockout state unreachable (ConnectionError): API keys are not throttled until the cache answers"]
    assert lockout_lines[0].exc_info is None
