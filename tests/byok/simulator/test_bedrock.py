"""Bedrock Runtime through the real boto3 (and anthropic's AnthropicBedrock): Converse, InvokeModel, every failure."""

from __future__ import annotations

import json

import anthropic
import boto3
import pytest
from botocore.exceptions import ClientError

from byok.simulator.accounts import new_account

from .helpers import NO_RETRIES, OPUS, SONNET, USER_MESSAGE, aws_client, timed_in_parallel


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = excinfo.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.mark.parametrize("model_id", [f"global.{SONNET}", f"us.{SONNET}", f"eu.{OPUS}", SONNET])
def test_converse_answers_with_text_usage_and_metrics(sim, model_id):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    response = client.converse(modelId=model_id, messages=USER_MESSAGE, inferenceConfig={"maxTokens": 200})

    assert response["output"]["message"]["role"] == "assistant"
    assert response["output"]["message"]["content"][0]["text"].startswith("Simulated bedrock reply")
    assert response["stopReason"] == "end_turn"
    usage = response["usage"]
    assert usage["inputTokens"] == 8  # 6 words x 1.3, rounded up
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > usage["inputTokens"]
    assert response["metrics"]["latencyMs"] >= 1


def test_converse_is_deterministic_and_honours_max_tokens(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    first = client.converse(modelId=SONNET, messages=USER_MESSAGE)
    second = client.converse(modelId=SONNET, messages=USER_MESSAGE)
    short = client.converse(modelId=SONNET, messages=USER_MESSAGE, inferenceConfig={"maxTokens": 3})

    assert first["output"] == second["output"]
    assert short["stopReason"] == "max_tokens"
    assert short["usage"]["outputTokens"] <= 3


def test_invoke_model_with_anthropic_body_returns_messages_shape(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hi there"}],
    }

    response = client.invoke_model(modelId=f"global.{OPUS}", body=json.dumps(body))

    payload = json.loads(response["body"].read())
    assert payload["type"] == "message" and payload["role"] == "assistant"
    assert payload["model"] == "claude-opus-4-5-20251101"
    assert payload["content"][0]["type"] == "text"
    assert payload["stop_reason"] == "end_turn"
    assert payload["usage"] == {"input_tokens": 3, "output_tokens": payload["usage"]["output_tokens"],
                                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                                "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}}
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-input-token-count"] == "3"


def test_invoke_model_without_anthropic_version_is_a_validation_error(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    with pytest.raises(ClientError) as excinfo:
        client.invoke_model(modelId=SONNET, body=json.dumps({"max_tokens": 10, "messages": []}))

    assert error_of(excinfo) == (400, "ValidationException")
    assert "anthropic_version" in excinfo.value.response["Error"]["Message"]


def test_signature_is_verified_whatever_region_the_client_signs_for(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"), region="eu-central-1")

    assert client.converse(modelId=f"eu.{SONNET}", messages=USER_MESSAGE)["stopReason"] == "end_turn"


def test_wrong_secret_is_an_invalid_signature(sim):
    account = sim.account("demo-bedrock")
    client = aws_client("bedrock-runtime", sim.url, account, secret=account.secret_access_key[::-1])

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "InvalidSignatureException")


def test_unknown_access_key_is_an_unrecognized_client(sim):
    stranger = new_account("bedrock")  # well-formed credentials the simulator has never been given
    client = aws_client("bedrock-runtime", sim.url, stranger)

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "UnrecognizedClientException")
    assert sim.calls("bedrock.Converse") == {stranger.access_key_id: 1}


def test_expired_session_credentials_are_an_expired_token(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock-expired"))

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "ExpiredTokenException")


def test_model_not_enabled_for_the_account_is_access_denied(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock-no-opus"))

    assert client.converse(modelId=f"global.{SONNET}", messages=USER_MESSAGE)["stopReason"] == "end_turn"
    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=f"global.{OPUS}", messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, "AccessDeniedException")
    assert (
        excinfo.value.response["Error"]["Message"] == "You don't have access to the model with the specified model ID."
    )


def test_unknown_model_is_a_validation_error(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId="anthropic.claude-nonexistent-v9:0", messages=USER_MESSAGE)

    assert error_of(excinfo) == (400, "ValidationException")


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        ("throttled", 429, "ThrottlingException"),
        ("server_error", 500, "InternalServerException"),
        ("unavailable", 503, "ServiceUnavailableException"),
    ],
)
def test_account_behaviour_becomes_the_aws_error(sim, behaviour, status, code):
    client = aws_client("bedrock-runtime", sim.url, sim.add_account("bedrock", behaviour=behaviour))

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (status, code)


def test_demo_throttled_account_is_throttled(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock-throttled"))

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (429, "ThrottlingException")


def test_slow_account_delays_each_call_without_blocking_others(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.add_account("bedrock", latency_ms=300))

    wall, durations = timed_in_parallel(lambda: client.converse(modelId=SONNET, messages=USER_MESSAGE))

    assert min(durations) >= 0.3
    assert wall < 0.55


def test_bedrock_api_key_through_anthropic_bedrock(sim):
    client = anthropic.AnthropicBedrock(
        base_url=sim.url, api_key=sim.account("demo-bedrock-api-key").api_key, aws_region="us-east-1", max_retries=0
    )

    message = client.messages.create(
        model=f"global.{SONNET}", max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
    )

    assert message.content[0].text.startswith("Simulated bedrock reply")
    assert sim.calls("bedrock.InvokeModel") == {"demo-bedrock-api-key": 1}


def test_anthropic_bedrock_sigv4_is_verified(sim):
    account = sim.account("demo-bedrock")
    good = anthropic.AnthropicBedrock(
        base_url=sim.url,
        aws_access_key=account.access_key_id,
        aws_secret_key=account.secret_access_key,
        aws_region="us-west-2",
        max_retries=0,
    )
    bad = anthropic.AnthropicBedrock(
        base_url=sim.url,
        aws_access_key=account.access_key_id,
        aws_secret_key="x" * 40,
        aws_region="us-west-2",
        max_retries=0,
    )
    request = {"model": f"us.{OPUS}", "max_tokens": 50, "messages": [{"role": "user", "content": "Hello"}]}

    assert good.messages.create(**request).stop_reason == "end_turn"
    with pytest.raises(anthropic.PermissionDeniedError):
        bad.messages.create(**request)


def test_bedrock_api_key_through_boto3_over_tls(simulator_tls, monkeypatch):
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", simulator_tls.account("demo-bedrock-api-key").api_key)
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=simulator_tls.url,
        verify=str(simulator_tls.ca_file),
        config=NO_RETRIES,
    )

    assert client.converse(modelId=f"us.{SONNET}", messages=USER_MESSAGE)["stopReason"] == "end_turn"


@pytest.mark.parametrize(("behaviour", "code"), [(None, "AccessDeniedException"), ("expired", "ExpiredTokenException")])
def test_bad_bedrock_api_key_is_refused(simulator_tls, monkeypatch, behaviour, code):
    if behaviour is None:
        token = "ABSKQmVkcm9ja0FQSUtleS1" + "x" * 100  # well-formed but never issued
    else:
        token = simulator_tls.add_accounts(
            [
                {
                    "name": "expired-api-key",
                    "provider": "bedrock_api_key",
                    "api_key": "ABSKexpired" + "y" * 100,
                    "behaviour": behaviour,
                }
            ]
        )[0].api_key
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", token)
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=simulator_tls.url,
        verify=str(simulator_tls.ca_file),
        config=NO_RETRIES,
    )

    with pytest.raises(ClientError) as excinfo:
        client.converse(modelId=SONNET, messages=USER_MESSAGE)

    assert error_of(excinfo) == (403, code)
