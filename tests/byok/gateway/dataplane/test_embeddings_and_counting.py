"""POST /v1/embeddings and POST /v1/messages/count_tokens through the official SDKs (openai's
`embeddings.create`, anthropic's `messages.count_tokens`) against the live data plane and the simulator: every family
that embeds or counts, on the owner's key and on platform credentials; usage recorded for embeddings (input tokens
only, priced at the catalog), never for counting; bad input refused in the endpoint's shape before any provider call."""

import base64
import struct

import anthropic
import httpx
import openai
import pytest
from django.core.exceptions import ValidationError

from byok.catalog.pricing import TokenCounts, usage_cost
from byok.models import Model, UsageRecord
from tests.byok.gateway.dataplane.test_dataplane_sdk import HELLO, owner_key
from tests.byok.gateway.dataplane.test_dataplane_vertex_role import vertex_key
from tests.byok.routing_helpers import use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

# family -> (the embedding tier's model, its default size, a size it may be shortened to or None)
EMBEDDING = {"openai": ("text-embedding-3-small", 1536, 256), "bedrock": ("amazon.titan-embed-text-v2:0", 1024, 512),
             "bedrock_api_key": ("amazon.titan-embed-text-v2:0", 1024, 256), "mistral": ("mistral-embed", 1024, None),
             "zai": ("embedding-3", 2048, 512), "vertex": ("text-embedding-005", 768, 256)}
TEXTS = ["The quarterly report is due on Friday.", "Revenue grew by twelve percent."]


def member_with_key(sandbox, provider):
    if provider == "vertex":
        member, account, key = vertex_key(sandbox)
        return member, account
    owner, workspace, member, account, key = owner_key(sandbox, provider)
    return member, account


def usage_rows(dataplane):
    dataplane.flush_usage()
    return list(UsageRecord.objects.order_by("id").values("source", "provider", "model", "input_tokens",
                                                          "output_tokens", "estimated_cost"))


def provider_calls(sandbox) -> int:
    """Model calls (session and token exchanges, made before any call, are not)."""
    return sum(sum(by_account.values()) for operation, by_account in sandbox.server.stats()["calls"].items()
               if not operation.startswith("sts.") and operation != "vertex.Token")


@pytest.mark.parametrize("provider", list(EMBEDDING))
def test_embeddings_on_each_family(dataplane, sandbox, provider):
    member, account = member_with_key(sandbox, provider)
    model, size, shorter = EMBEDDING[provider]
    client = dataplane.openai(member)
    raw = client.embeddings.with_raw_response.create(model=f"{provider}/embedding", input=TEXTS)  # SDK: base64
    answer = raw.parse()
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-model"] == model
    assert [d.index for d in answer.data] == [0, 1] and all(len(d.embedding) == size for d in answer.data)
    assert answer.data[0].embedding != answer.data[1].embedding and answer.usage.prompt_tokens > 0
    floats = client.embeddings.create(model=model if provider != "bedrock_api_key" else f"bedrock/{model}",
                                      input=TEXTS[0], encoding_format="float")
    assert floats.data[0].embedding == pytest.approx(answer.data[0].embedding, abs=1e-6)  # base64 = float32s
    if shorter:
        assert len(client.embeddings.create(model=model if provider != "bedrock_api_key" else f"bedrock/{model}",
                                            input=TEXTS[0], dimensions=shorter).data[0].embedding) == shorter
    rows = usage_rows(dataplane)
    family_provider = "bedrock_api_key" if provider == "bedrock_api_key" else provider
    assert {(r["source"], r["provider"], r["model"], r["output_tokens"]) for r in rows} == {
        ("byok", family_provider, model, 0)}
    assert rows[0]["input_tokens"] == answer.usage.prompt_tokens and rows[1]["input_tokens"] == floats.usage.prompt_tokens
    expected = usage_cost(provider=family_provider, model=model, tokens=TokenCounts(input=rows[0]["input_tokens"]))
    assert rows[0]["estimated_cost"] == (None if expected is None else pytest.approx(expected))


def test_base64_is_little_endian_float32(dataplane, sandbox):
    member, account = member_with_key(sandbox, "bedrock")
    response = httpx.post(f"{dataplane.url}/v1/embeddings", headers={"Authorization": f"Bearer {dataplane.token(member)}"},
                          json={"model": "bedrock/embedding", "input": "hello", "encoding_format": "base64"})
    encoded = response.json()["data"][0]["embedding"]
    raw = base64.b64decode(encoded)
    values = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(values) == 1024 and abs(sum(v * v for v in values) - 1) < 1e-4  # a unit vector


def test_a_passed_through_answer_is_the_providers_bytes(dataplane, sandbox):
    """OpenAI's floats come back exactly as the provider wrote them (not read and written again)."""
    member, account = member_with_key(sandbox, "openai")
    body = {"model": "text-embedding-3-small", "input": TEXTS, "encoding_format": "float"}
    direct = httpx.post(f"{sandbox.url.rstrip('/')}/openai/v1/embeddings", json=body,
                        headers={"Authorization": f"Bearer {account.api_key}"})
    through = httpx.post(f"{dataplane.url}/v1/embeddings", json={**body, "model": "openai/text-embedding-3-small"},
                         headers={"Authorization": f"Bearer {dataplane.token(member)}"})
    assert direct.status_code == through.status_code == 200
    assert through.content == direct.content and through.headers["content-length"] == str(len(direct.content))
    assert through.headers["x-byok-source"] == "byok"


def test_batched_inputs_make_concurrent_calls_where_the_model_takes_one_text(dataplane, sandbox):
    member, account = member_with_key(sandbox, "bedrock")
    client = dataplane.openai(member)
    texts = [f"text number {i}" for i in range(40)]
    titan = client.embeddings.create(model="bedrock/embedding", input=texts)
    assert len(titan.data) == 40 and sum(sandbox.calls("bedrock.InvokeModel").values()) == 40
    cohere = client.embeddings.create(model="cohere.embed-english-v3", input=texts * 5)  # 200 texts: 3 calls of ≤ 96
    assert len(cohere.data) == 200 and sum(sandbox.calls("bedrock.InvokeModel").values()) == 43
    assert [d.index for d in cohere.data] == list(range(200))
    assert cohere.data[0].embedding == cohere.data[40].embedding != cohere.data[1].embedding  # order kept
    v4 = client.embeddings.create(model="cohere.embed-v4:0", input=texts[:2], dimensions=512)
    assert [len(d.embedding) for d in v4.data] == [512, 512]
    vertex_member, vertex_account = member_with_key(sandbox, "vertex")
    gemini = dataplane.openai(vertex_member).embeddings.create(model="gemini-embedding-001", input=texts[:3])
    assert len(gemini.data) == 3 and len(gemini.data[0].embedding) == 3072
    rows = usage_rows(dataplane)
    assert [r["input_tokens"] for r in rows] == [titan.usage.prompt_tokens, cohere.usage.prompt_tokens,
                                                 v4.usage.prompt_tokens, gemini.usage.prompt_tokens]
    assert all(r["input_tokens"] > 0 for r in rows)


def test_embeddings_on_platform_credentials_and_fallback(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "openai", account={"behaviour": "throttled"})
    use_platform_account(settings, sandbox, provider="openai")
    raw = dataplane.openai(member).embeddings.with_raw_response.create(model="openai/embedding", input="hi")
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "rate_limited")
    assert raw.parse().data[0].embedding
    [row] = usage_rows(dataplane)
    assert row["source"] == "platform" and row["output_tokens"] == 0


@pytest.mark.parametrize(("model", "extra", "param", "words"), [
    ("anthropic/embedding", {}, "model", "Anthropic offers no embedding model"),
    ("standard", {}, "model", "is not an embedding model"),
    ("cohere.embed-english-v3", {"dimensions": 512}, "dimensions", "1024 dimensions only"),
    ("bedrock/embedding", {"dimensions": 300}, "dimensions", "must be one of 256, 512, 1024"),
    ("bedrock/embedding", {"dimensions": 10**9}, "dimensions", "between 1 and 65536"),
    ("bedrock/embedding", {"encoding_format": "hex"}, "encoding_format", "float, base64"),
    ("bedrock/embedding", {"input": [[1, 2, 3]]}, "input", "not token arrays"),
    ("bedrock/embedding", {"input": 123}, "input", "must be a non-empty string"),
    ("bedrock/embedding", {"input": []}, "input", "must be a non-empty string"),
    ("bedrock/embedding", {"input": ["fine", ""]}, "input", "input[1]"),
    ("bedrock/embedding", {"input": ["x"] * 10_000}, "input", "at most 2048"),
    ("bedrock/embedding", {"input": ["x"] * 300}, "input", "at most 256"),
    ("bedrock/embedding", {"temperature": 1}, "temperature", "not a /v1/embeddings request field"),
    ("openai/embedding", {"input": {"text": "x"}}, "input", "must be a non-empty string"),
    ("openai/embedding", {"dimensions": "256"}, "dimensions", "must be an integer"),
])
def test_bad_embeddings_requests_are_400s_in_openai_shape(dataplane, sandbox, model, extra, param, words):
    member, account = member_with_key(sandbox, "bedrock")
    key = owner_key(sandbox, "openai")
    body = {"model": model, "input": "hello", **extra}
    response = httpx.post(f"{dataplane.url}/v1/embeddings", json=body,
                          headers={"Authorization": f"Bearer {dataplane.token(member)}"}, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and words in error["message"]
    assert usage_rows(dataplane) == [] and provider_calls(sandbox) == 0
    assert key  # the OpenAI key exists in another workspace: nothing it serves was called either


def test_embeddings_sdk_errors_and_model_kinds(dataplane, sandbox):
    member, account = member_with_key(sandbox, "bedrock")
    client = dataplane.openai(member)
    with pytest.raises(openai.BadRequestError) as raised:
        client.chat.completions.create(model="bedrock/embedding", messages=HELLO)
    assert raised.value.body["param"] == "model" and "call it on /v1/embeddings" in raised.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="no-such-embedder", input="x")
    listed = {m.id: m.model_extra["byok"] for m in client.models.list()}
    assert listed["amazon.titan-embed-text-v2:0"]["kind"] == "embedding"
    assert "bedrock/embedding" in listed["amazon.titan-embed-text-v2:0"]["aliases"]
    assert listed["cohere.embed-english-v3"]["kind"] == "embedding"
    assert listed[f"global.{'anthropic.claude-sonnet-4-5-20250929-v1:0'}"]["kind"] == "chat"
    assert usage_rows(dataplane) == []


# --- token counting --------------------------------------------------------------------------------------------

COUNTING = {"anthropic": ("anthropic/standard", "anthropic.CountTokens"),
            "bedrock": ("bedrock/standard", "bedrock.CountTokens"),
            "bedrock_api_key": ("bedrock/complex", "bedrock.CountTokens"),
            "vertex": ("vertex/standard", "vertex.CountTokens")}


@pytest.mark.parametrize("provider", list(COUNTING))
def test_count_tokens_on_each_claude_family(dataplane, sandbox, provider):
    member, account = member_with_key(sandbox, provider)
    model, operation = COUNTING[provider]
    client = dataplane.anthropic(member)
    system = "You answer in one line."
    counted = client.messages.count_tokens(model=model, system=system, messages=HELLO)
    sent = client.messages.create(model=model, system=system, messages=HELLO, max_tokens=50)
    assert counted.input_tokens == sent.usage.input_tokens > 0  # the count is what the call reports
    longer = client.messages.count_tokens(model=model, system=system, messages=[
        *HELLO, {"role": "assistant", "content": "Revenue grew."}, {"role": "user", "content": "And the costs?"}])
    assert longer.input_tokens > counted.input_tokens
    counts = sandbox.call_log(operation)
    assert len(counts) == 2 and all(c["status"] == 200 for c in counts)
    rows = usage_rows(dataplane)
    assert len(rows) == 1 and rows[0]["output_tokens"] == sent.usage.output_tokens  # counting is free: no rows


def test_count_tokens_falls_back_to_platform_credentials(dataplane, sandbox, settings):
    owner, workspace, member, account, key = owner_key(sandbox, "bedrock", account={"behaviour": "throttled"})
    platform = use_platform_account(settings, sandbox)
    raw = dataplane.anthropic(member).messages.with_raw_response.count_tokens(model="bedrock/standard",
                                                                              messages=HELLO)
    assert (raw.headers["x-byok-source"], raw.headers["x-byok-fallback-reason"]) == ("platform", "rate_limited")
    assert raw.parse().input_tokens > 0 and sandbox.calls("bedrock.CountTokens") == {platform.access_key_id: 1}
    assert usage_rows(dataplane) == []


def test_count_tokens_refusals_in_anthropic_shape(dataplane, sandbox):
    member, account = member_with_key(sandbox, "anthropic")
    client = dataplane.anthropic(member)
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.count_tokens(model="openai/standard", messages=HELLO)
    assert "has no token counting" in raised.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.count_tokens(model="anthropic/standard", messages=[])
    assert "messages" in raised.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.count_tokens(model="anthropic/standard", messages=HELLO, extra_body={"max_tokens": 5})
    assert "max_tokens is not a token counting request field" in raised.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.count_tokens(model="openai/embedding", messages=HELLO)
    assert raised.value.body["type"] == "error"
    assert usage_rows(dataplane) == [] and provider_calls(sandbox) == 0


def test_a_size_a_passed_through_model_does_not_offer_is_the_providers_400(dataplane, sandbox):
    member, account = member_with_key(sandbox, "mistral")
    with pytest.raises(openai.BadRequestError) as raised:
        dataplane.openai(member).embeddings.create(model="mistral/embedding", input="hello", dimensions=256)
    assert raised.value.body["code"] == "provider_bad_request"
    assert sum(sandbox.calls("mistral.Embeddings").values()) == 1
    assert usage_rows(dataplane) == []  # a refused call records nothing


def test_count_tokens_refuses_gemini_on_vertex(dataplane, sandbox):
    member, account = member_with_key(sandbox, "vertex")
    with pytest.raises(anthropic.BadRequestError) as raised:
        dataplane.anthropic(member).messages.count_tokens(model="vertex/gemini-2.5-flash", messages=HELLO)
    assert "counts Claude's tokens only" in raised.value.body["error"]["message"]
    assert provider_calls(sandbox) == 0 and usage_rows(dataplane) == []


def test_the_catalog_names_each_familys_embedding_model(dataplane, sandbox):
    member, account = member_with_key(sandbox, "openai")
    small = Model.objects.get(family="openai", model_id="text-embedding-3-small")
    assert (small.kind, small.tiers) == ("embedding", ["embedding"])
    small.serves_embedding = False
    small.save()
    large = Model.objects.get(family="openai", model_id="text-embedding-3-large")
    large.serves_embedding = True
    large.save()
    raw = dataplane.openai(member).embeddings.with_raw_response.create(model="embedding", input="hello")  # the key's family
    assert raw.headers["x-byok-model"] == "text-embedding-3-large" and len(raw.parse().data[0].embedding) == 3072
    large.serves_standard = True  # an embedding model cannot serve a chat tier
    with pytest.raises(ValidationError) as raised:
        large.full_clean()
    assert "Embedding models serve the embedding tier only" in " ".join(raised.value.messages)


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/messages/count_tokens"])
def test_unreadable_bodies_are_400s_in_the_endpoints_shape(dataplane, sandbox, path):
    member, account = member_with_key(sandbox, "anthropic")
    headers = {"Authorization": f"Bearer {dataplane.token(member)}", "Content-Type": "application/json"}
    for body in (b"[" * 100_000 + b"]" * 100_000, b"{not json", b'"a string"'):
        response = httpx.post(f"{dataplane.url}{path}", content=body, headers=headers, timeout=30)
        assert response.status_code == 400, response.text
        error = response.json()
        assert (error["type"] == "error") if path.startswith("/v1/messages") else ("param" in error["error"])
    assert provider_calls(sandbox) == 0 and usage_rows(dataplane) == []
