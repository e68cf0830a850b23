"""Anthropic Messages streaming through the real `anthropic` SDK: `messages.stream(...)` and `create(stream=True)`."""

from __future__ import annotations

import time

import anthropic
import pytest

from .helpers import anthropic_client

MODEL = "claude-sonnet-4-6"
HELLO = [{"role": "user", "content": "Say hello"}]


def test_stream_helper_yields_the_text_and_the_final_message_of_the_non_streaming_call(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    with client.messages.stream(model=MODEL, max_tokens=100, system="Be brief.", messages=HELLO) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    plain = client.messages.create(model=MODEL, max_tokens=100, system="Be brief.", messages=HELLO)

    assert len(pieces) > 3
    assert "".join(pieces) == final.content[0].text == plain.content[0].text
    assert final.stop_reason == plain.stop_reason == "end_turn"
    assert final.usage.input_tokens == plain.usage.input_tokens
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert sim.calls("anthropic.CreateMessage") == {"demo-anthropic": 2}


def test_create_stream_sends_the_events_in_order(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    events = list(client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True))

    types = [event.type for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(types[2:-3]) <= {"ping", "content_block_delta"}
    assert {event.delta.type for event in events if event.type == "content_block_delta"} == {"text_delta"}
    message_delta = events[-2]
    assert message_delta.delta.stop_reason == "end_turn" and message_delta.usage.output_tokens > 1
    assert events[0].message.usage.input_tokens == 3  # "Say hello": 2 words x 1.3, rounded up


def test_stream_honours_max_tokens(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    with client.messages.stream(model=MODEL, max_tokens=3, messages=HELLO) as stream:
        final = stream.get_final_message()

    assert final.stop_reason == "max_tokens" and final.usage.output_tokens <= 3


def test_slow_account_delays_the_first_event(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", latency_ms=300).api_key)

    started = time.perf_counter()
    stream = client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
    first = next(iter(stream))

    assert time.perf_counter() - started >= 0.3
    assert first.type == "message_start"
    assert [event.type for event in stream][-1] == "message_stop"


def test_mid_stream_failure_is_an_overloaded_error_event_after_some_text(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic-stream-failure").api_key)
    received = []

    with pytest.raises(anthropic.APIStatusError) as excinfo:
        with client.messages.stream(model=MODEL, max_tokens=100, messages=HELLO) as stream:
            received.extend(stream.text_stream)

    assert len(received) == 3
    assert "overloaded_error" in str(excinfo.value)
    # Non-streaming calls of the same account work.
    assert client.messages.create(model=MODEL, max_tokens=100, messages=HELLO).stop_reason == "end_turn"


def test_stream_refusal_comes_before_any_event_as_the_sdk_error(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", behaviour="unavailable").api_key)

    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, stream=True)
