"""OpenAI Chat Completions streaming (`stream=True`) through the real `openai` SDK, on every OpenAI-compatible route."""

from __future__ import annotations

import statistics
import time

import openai
import pytest

from .helpers import openai_client

HELLO = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
PROVIDER_MODELS = [
    ("openai", "gpt-4.1"),
    ("mistral", "mistral-large-latest"),
    ("deepseek", "deepseek-chat"),
    ("xai", "grok-4"),
    ("zai", "glm-4.6"),
]


@pytest.mark.parametrize(("provider", "model"), PROVIDER_MODELS)
def test_stream_sends_deltas_then_usage_and_matches_the_non_streaming_answer(sim, provider, model):
    client = openai_client(sim.url, sim.account(f"demo-{provider}").api_key, provider)

    chunks = list(
        client.chat.completions.create(
            model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
    )
    plain = client.chat.completions.create(model=model, messages=HELLO)

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == plain.choices[0].message.content
    assert len([chunk for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]) > 3
    assert chunks[-2].choices[0].finish_reason == "stop"
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == [] and usage_chunk.usage == plain.usage
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert sim.calls(f"{provider}.ChatCompletions") == {f"demo-{provider}": 2}


def test_stream_without_include_usage_has_no_usage_chunk(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True))

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_honours_max_tokens_with_finish_reason_length(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1",
            messages=HELLO,
            max_completion_tokens=2,
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[-2].choices[0].finish_reason == "length"
    assert chunks[-1].usage.completion_tokens <= 2


def test_stream_refusal_comes_before_any_chunk_as_the_sdk_error(sim):
    client = openai_client(sim.url, sim.add_account("openai", behaviour="throttled").api_key)

    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True)


def test_slow_account_delays_the_first_chunk(sim):
    client = openai_client(sim.url, sim.add_account("openai", latency_ms=300).api_key)

    started = time.perf_counter()
    stream = client.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True)
    first = next(iter(stream))
    waited = time.perf_counter() - started
    rest = list(stream)

    assert waited >= 0.3
    assert first.choices[0].delta.role == "assistant" and rest[-1].choices[0].finish_reason == "stop"


def test_a_paced_account_sends_each_part_after_the_first_its_interval_later(sim):
    """`stream_interval_ms`: a model generating as it goes; the first chunk is not held back. Medians, so that one
    late arrival on a busy machine (which shortens the gap after it) decides nothing."""
    paced = openai_client(sim.url, sim.add_account("openai", stream_interval_ms=60).api_key)
    at_once = openai_client(sim.url, sim.account("demo-openai").api_key)

    def arrivals(client) -> list[float]:
        started = time.perf_counter()
        return [time.perf_counter() - started
                for _ in client.chat.completions.create(model="gpt-4.1", messages=HELLO, stream=True)]

    paced_times, at_once_times = arrivals(paced), arrivals(at_once)
    gaps = [later - earlier for earlier, later in zip(paced_times, paced_times[1:])]
    assert len(gaps) > 3 and statistics.median(gaps) >= 0.055
    assert paced_times[0] < 0.05
    assert at_once_times[-1] - at_once_times[0] < 0.05


@pytest.mark.parametrize("provider", ["openai", "mistral"])
def test_mid_stream_failure_drops_the_connection_after_some_chunks(sim, provider):
    account = (
        sim.account("demo-openai-stream-failure")
        if provider == "openai"
        else sim.add_account(provider, behaviour="mid_stream_failure")
    )
    client = openai_client(sim.url, account.api_key, provider)
    model = dict(PROVIDER_MODELS)[provider]
    received = []

    with pytest.raises(openai.APIConnectionError):  # the SDK's word for a body cut short
        for chunk in client.chat.completions.create(model=model, messages=HELLO, stream=True):
            received.append(chunk)

    assert 1 < len(received) <= 4  # the role chunk and three deltas, no finish reason
    assert all(chunk.choices[0].finish_reason is None for chunk in received)
    # The connection pool copes: the same client works again, and non-streaming calls of the account succeed.
    assert client.chat.completions.create(model=model, messages=HELLO).choices[0].finish_reason == "stop"
