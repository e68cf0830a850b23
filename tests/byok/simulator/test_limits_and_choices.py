"""Each simulated model's output limit, refused over it in each provider's own words; `n` and `logprobs` on OpenAI
Chat Completions; the call log tests read (account, region, endpoint, model)."""

from __future__ import annotations

import json
import urllib.request

import anthropic
import botocore.exceptions
import openai
import pytest
from google.genai import errors as genai_errors

from byok.simulator.limits import max_output_tokens

from .helpers import SONNET, anthropic_client, anthropic_vertex_client, aws_client, genai_vertex_client, openai_client

HELLO = [{"role": "user", "content": "Say hello"}]


def test_the_limits_follow_the_models():
    assert max_output_tokens("claude-sonnet-4-5-20250929") == max_output_tokens(f"global.{SONNET}") == 64_000
    assert max_output_tokens("claude-opus-4-6") == 128_000
    assert max_output_tokens("claude-sonnet-4-5@20250929") == 64_000
    assert max_output_tokens("gpt-4.1") == 32_768


def test_anthropic_refuses_max_tokens_over_the_models_limit(sim):
    client = anthropic_client(sim.url, sim.account("demo-anthropic").api_key)

    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model="claude-sonnet-4-6", max_tokens=128_000, messages=HELLO, timeout=30)

    assert refused.value.body["error"]["message"] == (
        "max_tokens: 128000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4-6")
    assert client.models.retrieve("claude-opus-4-6").max_tokens == 128_000
    assert client.messages.create(model="claude-opus-4-6", max_tokens=128_000, messages=HELLO, timeout=30).content


def test_bedrock_refuses_max_tokens_over_the_limit_on_invoke_and_converse(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100_000, "messages": HELLO}

    with pytest.raises(botocore.exceptions.ClientError) as invoke:
        client.invoke_model(modelId=SONNET, body=json.dumps(body))
    with pytest.raises(botocore.exceptions.ClientError) as converse:
        client.converse(modelId=SONNET, messages=[{"role": "user", "content": [{"text": "Hi"}]}],
                        inferenceConfig={"maxTokens": 100_000})

    assert invoke.value.response["Error"]["Code"] == converse.value.response["Error"]["Code"] == "ValidationException"
    assert "64000" in invoke.value.response["Error"]["Message"]
    assert converse.value.response["Error"]["Message"].startswith(
        "The maximum tokens you requested exceeds the model limit of 64000.")


def test_vertex_refuses_max_tokens_over_the_limit_for_claude_and_gemini(sim):
    account = sim.account("demo-vertex")

    with pytest.raises(anthropic.BadRequestError):
        anthropic_vertex_client(sim.url, account).messages.create(
            model="claude-sonnet-4-5@20250929", max_tokens=100_000, messages=HELLO, timeout=30)
    gemini = genai_vertex_client(sim.url, account)  # kept: google-genai closes a client when it is dropped
    with pytest.raises(genai_errors.ClientError) as refused:
        gemini.models.generate_content(
            model="gemini-2.5-flash", contents="Hi", config={"max_output_tokens": 100_000})

    assert "maxOutputTokens value of 100000" in refused.value.message


def test_openai_refuses_max_completion_tokens_over_the_limit(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4.1", messages=HELLO, max_completion_tokens=50_000)

    assert refused.value.param == "max_completion_tokens"
    assert "supports at most 32768 completion tokens" in refused.value.message


def test_n_answers_that_many_choices_and_counts_their_tokens(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    one = client.chat.completions.create(model="gpt-4.1", messages=HELLO)
    three = client.chat.completions.create(model="gpt-4.1", messages=HELLO, n=3)

    assert [choice.index for choice in three.choices] == [0, 1, 2]
    assert three.usage.completion_tokens == 3 * one.usage.completion_tokens


def test_logprobs_come_with_each_token_and_the_top_alternatives(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    completion = client.chat.completions.create(model="gpt-4.1", messages=HELLO, logprobs=True, top_logprobs=3)

    content = completion.choices[0].logprobs.content
    assert "".join(item.token for item in content) == completion.choices[0].message.content
    assert all(item.logprob < 0 and len(item.top_logprobs) == 3 for item in content)
    assert content[0].top_logprobs[0].token == content[0].token


def test_streamed_n_and_logprobs(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    chunks = list(client.chat.completions.create(model="gpt-4.1", messages=HELLO, n=2, logprobs=True, stream=True))

    texts = {0: "", 1: ""}
    for chunk in chunks:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
            if choice.delta.content:
                assert choice.logprobs.content[0].token == choice.delta.content
    assert texts[0] == texts[1] and texts[0].startswith("Simulated openai reply")


@pytest.mark.parametrize(("fields", "param"), [({"n": 0}, "n"), ({"n": 200}, "n"), ({"top_logprobs": 2}, "logprobs"),
                                               ({"logprobs": True, "top_logprobs": 50}, "top_logprobs")])
def test_bad_choice_settings_are_refused(sim, fields, param):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="gpt-4.1", messages=HELLO, **fields)

    assert refused.value.param == param


def test_the_call_log_says_which_account_region_endpoint_and_model(sim):
    aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"), region="eu-central-1").converse(
        modelId=f"eu.{SONNET}", messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    openai_client(sim.url, sim.account("demo-openai").api_key).chat.completions.create(model="gpt-4.1",
                                                                                       messages=HELLO)

    with urllib.request.urlopen(f"{sim.url}/_simulator/calls") as answer:
        converse, chat = json.loads(answer.read())["calls"]
    assert converse == {"operation": "bedrock.Converse", "account": "demo-bedrock",
                        "principal": sim.account("demo-bedrock").access_key_id, "status": 200,
                        "region": "eu-central-1", "endpoint": f"/model/eu.{SONNET}/converse",
                        "model": f"eu.{SONNET}"}
    assert (chat["account"], chat["endpoint"], chat["model"]) == ("demo-openai", "/openai/v1/chat/completions",
                                                                   "gpt-4.1")
