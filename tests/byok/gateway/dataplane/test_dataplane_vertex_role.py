"""The data plane on Google Vertex AI keys (Claude on Vertex through AsyncAnthropicVertex) and on Bedrock IAM-role
keys (the role session's signed async client), through the official OpenAI and Anthropic SDKs against the
simulator."""

import openai
import pytest

from byok.models import ProviderKey, UsageRecord
from byok.providers.vertex import CLAUDE_ON_VERTEX
from byok.services.keys import provider_key_create
from byok.services.roles import owner_external_id
from tests.byok.routing_helpers import team, use_platform_account, vertex_key_for

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Summarise the quarterly report in one line."}]
SONNET, OPUS = CLAUDE_ON_VERTEX["standard"], CLAUDE_ON_VERTEX["complex"]  # the current tier models
PLATFORM_ACCOUNT = "999900001111"


def usage_rows(dataplane):
    dataplane.flush_usage()
    return list(UsageRecord.objects.order_by("id").values("source", "provider", "model", "input_tokens",
                                                          "output_tokens", "fallback_reason"))


def vertex_key(sandbox, **fields):
    owner, workspace, member = team()
    account = sandbox.add_account("vertex", **fields)
    key = vertex_key_for(owner, sandbox, account)
    return member, account, key


def test_vertex_claude_chat_completion(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(
        model="vertex/standard", messages=[{"role": "system", "content": "Be brief."}, *HELLO], max_tokens=200)
    completion = raw.parse()
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.model == SONNET and completion.usage.completion_tokens > 0
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-provider"] == "vertex"
    [row] = usage_rows(dataplane)
    assert (row["source"], row["provider"], row["model"]) == ("byok", "vertex", SONNET)
    assert row["output_tokens"] == completion.usage.completion_tokens
    assert sandbox.calls("vertex.RawPredict") == {account.name: 1}


def test_vertex_claude_streamed_chat_completion(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    chunks = list(client.chat.completions.create(model="vertex/complex", messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices
    # A second call reuses the key's access token: one token exchange for both.
    list(client.chat.completions.create(model="vertex/standard", messages=HELLO, stream=True))
    assert sandbox.calls("vertex.StreamRawPredict") == {account.name: 2}
    assert sandbox.calls("vertex.Token") == {account.name: 1}
    rows = usage_rows(dataplane)
    assert [r["model"] for r in rows] == [OPUS, SONNET] and rows[0]["output_tokens"] == chunks[-1].usage.completion_tokens


def test_vertex_claude_messages_streaming(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    with dataplane.anthropic(member).messages.stream(
            model="vertex/complex", max_tokens=300, system=[{"type": "text", "text": "Be brief."}],
            messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.stop_reason == "end_turn" and final.usage.output_tokens > 0
    [row] = usage_rows(dataplane)
    assert (row["source"], row["provider"], row["model"]) == ("byok", "vertex", OPUS)
    assert row["output_tokens"] == final.usage.output_tokens and row["input_tokens"] == final.usage.input_tokens


def test_vertex_claude_messages_by_model_id(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    reply = dataplane.anthropic(member).messages.create(model=f"vertex/{SONNET}", max_tokens=100, messages=HELLO)
    assert reply.content[0].text and reply.model == SONNET


def test_a_revoked_vertex_key_is_a_categorised_failure(dataplane, sandbox):
    member, account, key = vertex_key(sandbox, behaviour="expired")
    with pytest.raises(openai.APIStatusError) as raised:
        dataplane.openai(member).chat.completions.create(model="vertex/standard", messages=HELLO)
    # Google refused the key at the token exchange (in a worker thread): classified, the key marked failing, and
    # with no platform credentials for Vertex the call is refused rather than sent elsewhere.
    assert raised.value.status_code == 503 and "(invalid_credentials)" in raised.value.body["message"]
    key.refresh_from_db()
    assert key.status != ProviderKey.Status.ACTIVE


def test_gemini_chat_completion_stream_and_not(dataplane, sandbox):
    member, account, key = vertex_key(sandbox)
    client = dataplane.openai(member)
    completion = client.chat.completions.create(
        model="vertex/gemini-2.5-flash", messages=[{"role": "system", "content": "Be brief."}, *HELLO], max_tokens=50)
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.model == "gemini-2.5-flash" and completion.usage.completion_tokens > 0
    chunks = list(client.chat.completions.create(model="gemini-2.5-pro", messages=HELLO, stream=True,
                                                 stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage.completion_tokens > 0 and not chunks[-1].choices
    assert sandbox.calls("vertex.GenerateContent") == {account.name: 1}
    assert sandbox.calls("vertex.StreamGenerateContent") == {account.name: 1}
    rows = usage_rows(dataplane)
    assert [(r["provider"], r["model"]) for r in rows] == [("vertex", "gemini-2.5-flash"), ("vertex", "gemini-2.5-pro")]
    assert rows[1]["output_tokens"] == chunks[-1].usage.completion_tokens


@pytest.fixture
def platform_aws(sandbox, settings):
    account = use_platform_account(settings, sandbox, account_id=PLATFORM_ACCOUNT)
    settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = PLATFORM_ACCOUNT
    return account


def test_a_bedrock_role_key_serves_the_data_plane(dataplane, sandbox, platform_aws):
    owner, workspace, member = team()
    roles = [{"name": "byok-bedrock", "trusted_account": PLATFORM_ACCOUNT, "external_id": owner_external_id(owner)}]
    sandbox.add_account("bedrock", account_id="210987654321", roles=roles)
    key = provider_key_create(owner=owner, provider="bedrock_role", name="role", inference_profile="us",
                              skip_test=True, credentials={"role_arn": "arn:aws:iam::210987654321:role/byok-bedrock"})
    raw = dataplane.openai(member).chat.completions.with_raw_response.create(model="bedrock_role/standard",
                                                                            messages=HELLO)
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-provider"] == "bedrock_role"
    chunks = list(dataplane.openai(member).chat.completions.create(model="bedrock_role/complex", messages=HELLO,
                                                                   stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    with dataplane.anthropic(member).messages.stream(model="bedrock_role/standard", max_tokens=100,
                                                     messages=HELLO) as stream:
        assert "".join(stream.text_stream)
    key.refresh_from_db()
    assert key.session_secret and key.session_token_expires_at  # the role session, assumed for the data plane
    rows = usage_rows(dataplane)
    assert [(r["source"], r["provider"]) for r in rows] == [("byok", "bedrock_role")] * 3
    assert all(r["fallback_reason"] == "" for r in rows)
