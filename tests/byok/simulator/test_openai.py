"""OpenAI and the OpenAI-compatible providers through the real `openai` SDK."""

from __future__ import annotations

import openai
import pytest

from byok.simulator.accounts import new_account

from .helpers import openai_client, timed_in_parallel

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]


def test_chat_completion_answers_with_text_and_usage(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    completion = client.chat.completions.create(model="gpt-4.1", messages=HELLO)

    assert completion.object == "chat.completion" and completion.model == "gpt-4.1"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Simulated openai reply from gpt-4.1: I read 4 words of your prompt."
    assert choice.finish_reason == "stop"
    assert completion.usage.prompt_tokens == 6  # 4 words x 1.3, rounded up
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens


def test_max_tokens_truncates_with_finish_reason_length(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    completion = client.chat.completions.create(model="gpt-4.1", messages=HELLO, max_completion_tokens=2)

    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens <= 2


def test_models_list_is_the_accounts_models(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    models = client.models.list()

    assert [model.id for model in models] == list(sim.account("demo-openai").models)
    assert {model.owned_by for model in models} == {"openai"}


def test_wrong_api_key_is_an_authentication_error(sim):
    wrong_key = new_account("openai").api_key
    client = openai_client(sim.url, wrong_key)

    with pytest.raises(openai.AuthenticationError) as excinfo:
        client.chat.completions.create(model="gpt-4.1", messages=HELLO)

    assert excinfo.value.code == "invalid_api_key"
    assert wrong_key not in excinfo.value.message  # only a hint of the key is echoed


def test_expired_key_is_an_authentication_error_saying_so(sim):
    client = openai_client(sim.url, sim.add_account("openai", behaviour="expired").api_key)

    with pytest.raises(openai.AuthenticationError) as excinfo:
        client.models.list()

    assert excinfo.value.code == "invalid_api_key"
    assert "expired" in excinfo.value.message


def test_model_without_access_is_model_not_found(sim):
    client = openai_client(sim.url, sim.add_account("openai", models=["gpt-4.1-mini"]).api_key)

    with pytest.raises(openai.NotFoundError) as excinfo:
        client.chat.completions.create(model="gpt-4.1", messages=HELLO)

    assert excinfo.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("behaviour", "exception", "status", "code"),
    [
        ("throttled", openai.RateLimitError, 429, "rate_limit_exceeded"),
        ("server_error", openai.InternalServerError, 500, None),
        ("unavailable", openai.InternalServerError, 503, "service_unavailable"),
    ],
)
def test_account_behaviour_becomes_the_openai_error(sim, behaviour, exception, status, code):
    client = openai_client(sim.url, sim.add_account("openai", behaviour=behaviour).api_key)

    with pytest.raises(exception) as excinfo:
        client.chat.completions.create(model="gpt-4.1", messages=HELLO)

    assert (excinfo.value.status_code, excinfo.value.code) == (status, code)


def test_slow_account_delays_each_call_without_blocking_others(sim):
    client = openai_client(sim.url, sim.add_account("openai", latency_ms=300).api_key)

    wall, durations = timed_in_parallel(lambda: client.chat.completions.create(model="gpt-4.1", messages=HELLO))

    assert min(durations) >= 0.3
    assert wall < 0.55


@pytest.mark.parametrize(
    ("provider", "model"),
    [("mistral", "mistral-large-latest"), ("deepseek", "deepseek-chat"), ("xai", "grok-4"), ("zai", "glm-4.6")],
)
def test_openai_compatible_provider_answers_under_its_prefix(sim, provider, model):
    client = openai_client(sim.url, sim.account(f"demo-{provider}").api_key, provider)

    completion = client.chat.completions.create(model=model, messages=HELLO)

    assert completion.choices[0].message.content.startswith(f"Simulated {provider} reply from {model}")
    assert sim.calls(f"{provider}.ChatCompletions") == {f"demo-{provider}": 1}


def test_openai_compatible_provider_only_accepts_its_own_keys(sim):
    openai_key_at_mistral = openai_client(sim.url, sim.account("demo-openai").api_key, "mistral")

    with pytest.raises(openai.AuthenticationError):
        openai_key_at_mistral.chat.completions.create(model="mistral-large-latest", messages=HELLO)


@pytest.mark.parametrize(
    ("behaviour", "exception"),
    [
        ("throttled", openai.RateLimitError),
        ("server_error", openai.InternalServerError),
        ("expired", openai.AuthenticationError),
    ],
)
def test_openai_compatible_provider_behaviours(sim, behaviour, exception):
    client = openai_client(sim.url, sim.add_account("deepseek", behaviour=behaviour).api_key, "deepseek")

    with pytest.raises(exception):
        client.chat.completions.create(model="deepseek-chat", messages=HELLO)
