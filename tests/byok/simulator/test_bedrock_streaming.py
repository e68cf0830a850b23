"""Bedrock streaming through the real boto3 (ConverseStream, InvokeModelWithResponseStream, SigV4 verified) and
anthropic's AnthropicBedrock (`stream=True`, Bedrock API key), decoded by botocore's own event-stream parser."""

from __future__ import annotations

import json
import time

import anthropic
import pytest
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from byok.simulator import eventstream

from .helpers import OPUS, SONNET, USER_MESSAGE, aws_client

INVOKE_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "Hi there"}],
}


def test_our_frames_decode_with_botocore_and_pass_its_crc_checks():
    frames = eventstream.event("messageStart", {"role": "assistant"}) + eventstream.exception(
        "modelStreamErrorException", "boom"
    )
    buffer = EventStreamBuffer()
    buffer.add_data(frames)

    first, second = list(buffer)

    assert first.headers == {
        ":event-type": "messageStart",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first.payload) == {"role": "assistant"}
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "modelStreamErrorException"


def test_converse_stream_sends_the_events_and_the_usage_of_converse(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    response = client.converse_stream(modelId=f"global.{SONNET}", messages=USER_MESSAGE)
    events = list(response["stream"])
    plain = client.converse(modelId=f"global.{SONNET}", messages=USER_MESSAGE)

    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    deltas = [event["contentBlockDelta"] for event in events if "contentBlockDelta" in event]
    assert len(deltas) > 3 and {delta["contentBlockIndex"] for delta in deltas} == {0}
    assert "".join(delta["delta"]["text"] for delta in deltas) == plain["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"]["stopReason"] == plain["stopReason"] == "end_turn"
    assert events[-1]["metadata"]["usage"] == plain["usage"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 1
    assert sim.calls("bedrock.ConverseStream") == {sim.account("demo-bedrock").access_key_id: 1}


def test_converse_stream_honours_max_tokens(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    events = list(
        client.converse_stream(modelId=SONNET, messages=USER_MESSAGE, inferenceConfig={"maxTokens": 3})["stream"]
    )

    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] <= 3


def test_converse_stream_checks_the_signature_and_model_access_first(sim):
    account = sim.account("demo-bedrock-no-opus")

    with pytest.raises(ClientError) as wrong_secret:
        aws_client("bedrock-runtime", sim.url, account, secret="x" * 40).converse_stream(
            modelId=SONNET, messages=USER_MESSAGE
        )
    with pytest.raises(ClientError) as no_opus:
        aws_client("bedrock-runtime", sim.url, account).converse_stream(modelId=OPUS, messages=USER_MESSAGE)

    assert wrong_secret.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert no_opus.value.response["Error"]["Code"] == "AccessDeniedException"


def test_invoke_model_with_response_stream_sends_anthropic_events_as_chunks(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    response = client.invoke_model_with_response_stream(modelId=f"us.{OPUS}", body=json.dumps(INVOKE_BODY))
    events = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    plain = json.loads(client.invoke_model(modelId=f"us.{OPUS}", body=json.dumps(INVOKE_BODY))["body"].read())

    types = [event["type"] for event in events]
    assert types[:2] == ["message_start", "content_block_start"]
    assert types[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(event["delta"]["text"] for event in events if event["type"] == "content_block_delta")
    assert text == plain["content"][0]["text"]
    assert events[0]["message"]["usage"]["input_tokens"] == plain["usage"]["input_tokens"]
    assert events[-2]["usage"]["output_tokens"] == plain["usage"]["output_tokens"]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == plain["usage"]["output_tokens"]
    assert response["contentType"] == "application/json"
    assert sim.calls("bedrock.InvokeModelWithResponseStream") == {sim.account("demo-bedrock").access_key_id: 1}


def test_anthropic_bedrock_streams_with_a_bedrock_api_key(sim):
    client = anthropic.AnthropicBedrock(
        base_url=sim.url, api_key=sim.account("demo-bedrock-api-key").api_key, aws_region="us-east-1", max_retries=0
    )
    request = {"model": f"global.{SONNET}", "max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}]}

    events = list(client.messages.create(stream=True, **request))
    with client.messages.stream(**request) as stream:
        final = stream.get_final_message()
    plain = client.messages.create(**request)

    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    assert final.content[0].text == plain.content[0].text
    assert (final.usage.input_tokens, final.usage.output_tokens) == (
        plain.usage.input_tokens,
        plain.usage.output_tokens,
    )
    assert sim.calls("bedrock.InvokeModelWithResponseStream") == {"demo-bedrock-api-key": 2}


def test_slow_account_delays_the_first_event(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.add_account("bedrock", latency_ms=300))

    started = time.perf_counter()
    stream = client.converse_stream(modelId=SONNET, messages=USER_MESSAGE)["stream"]
    first = next(iter(stream))

    assert time.perf_counter() - started >= 0.3
    assert "messageStart" in first


def test_converse_stream_mid_stream_failure_is_an_exception_event(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock-stream-failure"))
    received = []

    with pytest.raises(EventStreamError) as excinfo:
        for event in client.converse_stream(modelId=SONNET, messages=USER_MESSAGE)["stream"]:
            received.append(event)

    assert excinfo.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert [next(iter(event)) for event in received] == ["messageStart"] + ["contentBlockDelta"] * 3
    assert client.converse(modelId=SONNET, messages=USER_MESSAGE)["stopReason"] == "end_turn"


def test_invoke_stream_mid_stream_failure_is_an_exception_event(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock-stream-failure"))
    received = []

    with pytest.raises(EventStreamError) as excinfo:
        for event in client.invoke_model_with_response_stream(modelId=SONNET, body=json.dumps(INVOKE_BODY))["body"]:
            received.append(json.loads(event["chunk"]["bytes"])["type"])

    assert excinfo.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert received.count("content_block_delta") == 3 and "message_stop" not in received


def test_anthropic_bedrock_mid_stream_failure_raises(sim):
    account = sim.add_account("bedrock_api_key", behaviour="mid_stream_failure")
    client = anthropic.AnthropicBedrock(
        base_url=sim.url, api_key=account.api_key, aws_region="us-east-1", max_retries=0
    )
    received = []

    with pytest.raises(anthropic.APIStatusError) as excinfo:
        for event in client.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "Hello"}], stream=True
        ):
            received.append(event.type)

    assert "modelStreamErrorException" in str(excinfo.value)
    assert received.count("content_block_delta") == 3
