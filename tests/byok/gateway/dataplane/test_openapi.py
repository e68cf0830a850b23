"""GET /v1/openapi.json tells the truth: valid OpenAPI 3.1, every path the data plane serves documented and every
documented path served, and each request field described by the check byok runs on it."""

import httpx2
import jsonschema
import pytest
from openapi_spec_validator import validate

from byok.gateway.app import MODEL_PATH, ROUTES
from byok.gateway.openapi import description
from byok.providers.translate import RequestInvalid
from byok.providers.translate.chat import CHAT_FIELDS
from byok.providers.translate.embeddings import EMBEDDINGS_FIELDS
from byok.providers.translate.messages import COUNT_TOKENS_FIELDS, MESSAGES_FIELDS
from byok.providers.translate.responses import RESPONSES_FIELDS

TABLES = {"CHAT_FIELDS": CHAT_FIELDS, "MESSAGES_FIELDS": MESSAGES_FIELDS, "COUNT_TOKENS_FIELDS": COUNT_TOKENS_FIELDS,
          "RESPONSES_FIELDS": RESPONSES_FIELDS, "EMBEDDINGS_FIELDS": EMBEDDINGS_FIELDS}
# One value of every JSON type, and the edges of the checks' ranges and lists.
VALUES = [None, True, False, 0, 1, -1, 16, 2, 7, 10**12, -(2**64), 0.5, 2.5, -0.1, "", "x", "auto", "high", "float",
          "message.output_text.logprobs", [], ["x"], ["a", "b", "c", "d", "e"], [1, 2], [[1]], [[]], ["", "x"],
          [1, "x"], [{}], {}, {"a": 1}, {"include_usage": True}]


def documented_operations() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, operations in description()["paths"].items() for method in operations}


def test_the_description_is_valid_openapi_3_1():
    validate(description())
    assert description()["openapi"] == "3.1.0"


def test_every_path_served_is_documented_and_every_documented_path_is_served():
    assert documented_operations() == set(ROUTES) | {("GET", MODEL_PATH + "{model}")}


@pytest.mark.django_db(transaction=True)
def test_the_live_data_plane_serves_the_description_and_its_operations(dataplane):
    published = httpx2.get(f"{dataplane.url}/v1/openapi.json")  # public: no API key
    assert published.status_code == 200 and published.json() == description()
    for method, path in documented_operations() - {("GET", "/v1/openapi.json")}:
        answer = httpx2.request(method, f"{dataplane.url}{path.replace('{model}', 'standard')}", json={})
        assert answer.status_code == 401, (method, path, answer.text)  # served, and wants a key
        other = "GET" if method == "POST" else "POST"
        assert httpx2.request(other, f"{dataplane.url}{path}").status_code in (404, 405)
    unknown = httpx2.post(f"{dataplane.url}/v1/images/generations", json={})
    assert unknown.status_code == 404 and "GET /v1/openapi.json" in unknown.json()["error"]["message"]


def accepts(check, value) -> bool:
    try:
        check(value, "field")
    except RequestInvalid:
        return False
    return True


@pytest.mark.parametrize("table", list(TABLES))
def test_each_field_is_described_by_its_check(table):
    """What the description says of a value, the check does: valid JSON Schema exactly when the check accepts it."""
    disagreements = [(name, value) for name, check in TABLES[table].items() for value in VALUES
                     if jsonschema.Draft202012Validator(check.schema).is_valid(value) != accepts(check, value)]
    assert not disagreements


def test_a_body_field_is_its_check_and_may_be_null_when_optional():
    chat = description()["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    properties = chat["schema"]["properties"]
    assert properties["temperature"] == {"anyOf": [CHAT_FIELDS["temperature"].schema, {"type": "null"}]}
    assert properties["messages"]["allOf"][0] == {"type": "array", "minItems": 1}  # then the walker's shape
    assert "maximum" not in properties["max_tokens"]["anyOf"][0]  # lowered to the model's on a tier
    assert set(properties) == set(CHAT_FIELDS) and chat["schema"]["additionalProperties"] is True
    messages = description()["paths"]["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert messages["additionalProperties"] is False and messages["required"] == ["model", "messages", "max_tokens"]
