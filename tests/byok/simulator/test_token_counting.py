"""Token counting as each provider offers it: Anthropic `messages.count_tokens`, Bedrock CountTokens (InvokeModel
and Converse inputs), Claude on Vertex (`count-tokens:rawPredict`) and Gemini `:countTokens`. A count is the input
tokens the same request reports when sent."""

from __future__ import annotations

import json

import anthropic
import botocore.exceptions
import pytest

from .helpers import (
    SONNET,
    anthropic_client,
    anthropic_vertex_client,
    aws_client,
    genai_vertex_client,
)

MESSAGES = [{"role": "user", "content": "How many tokens is this question, roughly?"}]
SYSTEM = "You count tokens."


def test_anthropic_count_tokens_matches_the_input_tokens_of_the_call(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    counted = client.messages.count_tokens(model="claude-sonnet-4-6", system=SYSTEM, messages=MESSAGES)
    sent = client.messages.create(model="claude-sonnet-4-6", max_tokens=100, system=SYSTEM, messages=MESSAGES)

    assert counted.input_tokens == sent.usage.input_tokens == 13
    assert sim.calls("anthropic.CountTokens") == {"demo-anthropic": 1}


def test_anthropic_count_tokens_refuses_a_model_the_key_may_not_use(sim):
    client = anthropic_client(sim.url, sim.add_account("anthropic", models=["claude-sonnet-4-6"]).api_key)

    with pytest.raises(anthropic.PermissionDeniedError):
        client.messages.count_tokens(model="claude-opus-4-6", messages=MESSAGES)


def test_bedrock_count_tokens_for_invoke_model_and_converse_bodies(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": SYSTEM, "messages": MESSAGES}

    invoke = client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": json.dumps(body).encode()}})
    converse = client.count_tokens(modelId=f"us.{SONNET}", input={"converse": {
        "system": [{"text": SYSTEM}], "messages": [{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}]}})
    sent = client.converse(modelId=SONNET, system=[{"text": SYSTEM}],
                           messages=[{"role": "user", "content": [{"text": MESSAGES[0]["content"]}]}])

    assert invoke["inputTokens"] == converse["inputTokens"] == sent["usage"]["inputTokens"] == 13
    assert [call["region"] for call in sim.call_log("bedrock.CountTokens")] == ["us-east-1", "us-east-1"]


def test_bedrock_count_tokens_refuses_an_input_that_is_neither(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        client.count_tokens(modelId=SONNET, input={"invokeModel": {"body": b'{"messages": []}'}})

    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_claude_on_vertex_counts_through_count_tokens_raw_predict(sim):
    account = sim.account("demo-vertex")
    client = anthropic_vertex_client(sim.url, account)

    counted = client.messages.count_tokens(model="claude-sonnet-4-5@20250929", system=SYSTEM, messages=MESSAGES)

    assert counted.input_tokens == 13
    [call] = sim.call_log("vertex.CountTokens")
    assert call["model"] == "claude-sonnet-4-5@20250929" and call["region"] == "us-east5"
    assert call["endpoint"].endswith("/publishers/anthropic/models/count-tokens:rawPredict")


def test_gemini_count_tokens(sim):
    client = genai_vertex_client(sim.url, sim.account("demo-vertex"))

    counted = client.models.count_tokens(model="gemini-2.5-flash", contents=MESSAGES[0]["content"])
    sent = client.models.generate_content(model="gemini-2.5-flash", contents=MESSAGES[0]["content"])

    assert counted.total_tokens == sent.usage_metadata.prompt_token_count == 10
