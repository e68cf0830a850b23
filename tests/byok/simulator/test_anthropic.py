"""The Anthropic API through the real `anthropic` SDK."""

from __future__ import annotations

import anthropic
import pytest

from byok.simulator.accounts import new_account

from .helpers import anthropic_client, timed_in_parallel

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Hello from the test suite"}]


def test_messages_create_answers_with_text_and_usage(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    message = client.messages.create(model=MODEL, max_tokens=200, messages=HELLO)

    assert message.type == "message" and message.role == "assistant"
    assert message.model == MODEL
    assert message.content[0].text == f"Simulated anthropic reply from {MODEL}: I read 5 words of your prompt."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 7  # 5 words x 1.3, rounded up
    assert message.usage.output_tokens > 0
    assert sim.calls("anthropic.CreateMessage") == {"demo-anthropic": 1}


def test_models_list_paginates_through_the_accounts_models(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    first_page = client.models.list(limit=2)
    every_model = [model.id for model in client.models.list(limit=2)]

    assert [model.id for model in first_page.data] == every_model[:2]
    assert first_page.has_more is True and first_page.last_id == every_model[1]
    assert sorted(every_model) == sorted(sim.account("demo-anthropic").models)
    assert first_page.data[0].type == "model" and first_page.data[0].display_name.startswith("Claude ")
    pages = -(-len(every_model) // 2)  # two models a page
    assert sim.calls("anthropic.ListModels") == {"demo-anthropic": 1 + pages}  # the first page, then every page


def test_wrong_api_key_is_an_authentication_error(sim):
    client = anthropic_client(sim.url, new_account("anthropic").api_key)

    with pytest.raises(anthropic.AuthenticationError) as excinfo:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert excinfo.value.status_code == 401
    assert excinfo.value.type == "authentication_error"


def test_expired_key_is_an_authentication_error_saying_so(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", behaviour="expired").api_key)

    with pytest.raises(anthropic.AuthenticationError) as excinfo:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert "expired" in excinfo.value.api_message


def test_model_without_access_is_permission_denied(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", models=["claude-haiku-4-5-20251001"]).api_key)

    with pytest.raises(anthropic.PermissionDeniedError) as excinfo:
        client.messages.create(model="claude-opus-4-6", max_tokens=10, messages=HELLO)

    assert excinfo.value.type == "permission_error"


def test_unknown_model_is_not_found(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    with pytest.raises(anthropic.NotFoundError) as excinfo:
        client.messages.create(model="claude-imaginary-9", max_tokens=10, messages=HELLO)

    assert excinfo.value.type == "not_found_error"


def test_missing_max_tokens_is_a_bad_request(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    with pytest.raises(anthropic.BadRequestError) as excinfo:
        client.post("/v1/messages", body={"model": MODEL, "messages": HELLO}, cast_to=object)

    assert excinfo.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("behaviour", "exception", "status", "error_type"),
    [
        ("throttled", anthropic.RateLimitError, 429, "rate_limit_error"),
        ("server_error", anthropic.InternalServerError, 500, "api_error"),
        ("unavailable", anthropic.OverloadedError, 529, "overloaded_error"),
    ],
)
def test_account_behaviour_becomes_the_anthropic_error(sim, behaviour, exception, status, error_type):
    client = anthropic_client(sim.url, sim.add_account("anthropic", behaviour=behaviour).api_key)

    with pytest.raises(exception) as excinfo:
        client.messages.create(model=MODEL, max_tokens=10, messages=HELLO)

    assert (excinfo.value.status_code, excinfo.value.type) == (status, error_type)
    assert excinfo.value.request_id.startswith("req_")


def test_slow_account_delays_each_call_without_blocking_others(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", latency_ms=300).api_key)

    wall, durations = timed_in_parallel(lambda: client.messages.create(model=MODEL, max_tokens=10, messages=HELLO))

    assert min(durations) >= 0.3
    assert wall < 0.55
