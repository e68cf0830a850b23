"""Embeddings through the official SDKs: OpenAI and Mistral `/v1/embeddings`, Bedrock InvokeModel (Titan Text
Embeddings v2, Cohere Embed v3 and v4) and Vertex AI (`:predict`, and `:embedContent` as google-genai calls Gemini
embedding models)."""

from __future__ import annotations

import base64
import json
import math
import struct

import botocore.exceptions
import openai
import pytest
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from .helpers import aws_client, genai_vertex_client, openai_client

TITAN = "amazon.titan-embed-text-v2:0"


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(value * value for value in vector))


def test_openai_embeds_a_batch_deterministically_with_usage(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    first = client.embeddings.create(model="text-embedding-3-small", input=["bring your own key", "hello"],
                                     encoding_format="float")
    again = client.embeddings.create(model="text-embedding-3-small", input="bring your own key",
                                     encoding_format="float")

    assert [item.index for item in first.data] == [0, 1] and len(first.data[0].embedding) == 1536
    assert first.data[0].embedding == again.data[0].embedding != first.data[1].embedding
    assert _norm(first.data[0].embedding) == pytest.approx(1.0, abs=1e-6)
    assert first.usage.prompt_tokens == first.usage.total_tokens == 6 + 2


def test_openai_base64_encoding_and_dimensions(sim):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    floats = client.embeddings.create(model="text-embedding-3-large", input="hello", dimensions=256,
                                      encoding_format="float")
    raw = client.with_raw_response.embeddings.create(model="text-embedding-3-large", input="hello", dimensions=256,
                                                     encoding_format="base64")

    encoded = json.loads(raw.http_response.text)["data"][0]["embedding"]
    decoded = struct.unpack("<256f", base64.b64decode(encoded))
    assert decoded == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert len(floats.data[0].embedding) == 256


@pytest.mark.parametrize(("fields", "param"), [
    ({"model": "text-embedding-3-small", "input": "hi", "dimensions": 5000}, "dimensions"),
    ({"model": "text-embedding-3-small", "input": "hi", "encoding_format": "int8"}, "encoding_format"),
    ({"model": "text-embedding-3-small", "input": []}, "input"),
    ({"model": "gpt-4.1", "input": "hi"}, "model"),
])
def test_openai_refuses_bad_embedding_requests_naming_the_parameter(sim, fields, param):
    client = openai_client(sim.url, sim.account("demo-openai").api_key)

    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(**fields)

    assert refused.value.param == param


def test_mistral_and_zai_embed_and_a_provider_without_embeddings_answers_404(sim):
    mistral = openai_client(sim.url, sim.account("demo-mistral").api_key, "mistral")
    zai = openai_client(sim.url, sim.account("demo-zai").api_key, "zai")
    deepseek = openai_client(sim.url, sim.account("demo-deepseek").api_key, "deepseek")

    assert len(mistral.embeddings.create(model="mistral-embed", input="hi").data[0].embedding) == 1024
    assert len(zai.embeddings.create(model="embedding-3", input="hi", dimensions=512).data[0].embedding) == 512
    with pytest.raises(openai.BadRequestError):
        mistral.embeddings.create(model="mistral-embed", input="hi", dimensions=256)
    with pytest.raises(openai.NotFoundError):
        deepseek.embeddings.create(model="deepseek-chat", input="hi")


def _invoke(client, model: str, body: dict) -> dict:
    response = client.invoke_model(modelId=model, body=json.dumps(body), contentType="application/json")
    return json.loads(response["body"].read())


def test_bedrock_titan_text_embeddings_v2(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    default = _invoke(client, TITAN, {"inputText": "bring your own key"})
    short = _invoke(client, TITAN, {"inputText": "bring your own key", "dimensions": 256,
                                    "embeddingTypes": ["float", "binary"]})

    assert len(default["embedding"]) == 1024 and default["inputTextTokenCount"] == 6
    assert len(short["embeddingsByType"]["float"]) == len(short["embeddingsByType"]["binary"]) == 256
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _invoke(client, TITAN, {"inputText": "hi", "dimensions": 300})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_bedrock_cohere_embed_v3_and_v4(sim):
    client = aws_client("bedrock-runtime", sim.url, sim.account("demo-bedrock"))

    v3 = _invoke(client, "cohere.embed-english-v3", {"texts": ["a", "b"], "input_type": "search_document"})
    typed = _invoke(client, "cohere.embed-multilingual-v3", {"texts": ["a"], "input_type": "search_query",
                                                             "embedding_types": ["float", "int8"]})
    v4 = _invoke(client, "cohere.embed-v4:0", {"texts": ["a"], "input_type": "search_document",
                                               "output_dimension": 512})

    assert v3["response_type"] == "embeddings_floats" and len(v3["embeddings"]) == 2
    assert len(v3["embeddings"][0]) == 1024 and v3["texts"] == ["a", "b"]
    assert typed["response_type"] == "embeddings_by_type" and set(typed["embeddings"]) == {"float", "int8"}
    assert all(isinstance(value, int) for value in typed["embeddings"]["int8"][0])
    assert len(v4["embeddings"]["float"][0]) == 512
    with pytest.raises(botocore.exceptions.ClientError):
        _invoke(client, "cohere.embed-english-v3", {"texts": ["a"]})  # input_type is required


def test_vertex_text_embedding_005_through_predict(sim):
    client = genai_vertex_client(sim.url, sim.account("demo-vertex"))

    result = client.models.embed_content(model="text-embedding-005", contents=["bring your own key", "hello"],
                                         config=genai_types.EmbedContentConfig(output_dimensionality=64))

    assert [len(embedding.values) for embedding in result.embeddings] == [64, 64]
    assert result.embeddings[0].statistics.token_count == 6
    assert sim.call_log("vertex.Predict")[-1]["region"] == "us-east5"


def test_vertex_gemini_embedding_through_embed_content_one_text_a_call(sim):
    client = genai_vertex_client(sim.url, sim.account("demo-vertex"))

    result = client.models.embed_content(model="gemini-embedding-001", contents="bring your own key")

    [embedding] = result.embeddings
    assert len(embedding.values) == 3072 and _norm(embedding.values) == pytest.approx(1.0, abs=1e-6)
    assert sim.calls("vertex.EmbedContent") == {"demo-vertex": 1}


def test_vertex_refuses_a_size_the_model_does_not_offer(sim):
    client = genai_vertex_client(sim.url, sim.account("demo-vertex"))

    with pytest.raises(genai_errors.ClientError) as refused:
        client.models.embed_content(model="text-embedding-005", contents="hi",
                                    config=genai_types.EmbedContentConfig(output_dimensionality=4096))

    assert refused.value.code == 400
