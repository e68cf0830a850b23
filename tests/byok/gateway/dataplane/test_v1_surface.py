"""What the official SDKs meet on /v1 beyond calls: one model by id, a JSON 404 in their own shape for any other
path, the request id the Anthropic SDKs read, and CORS for the browser apps the owner allows."""

import anthropic
import httpx2
import openai
import pytest

from tests.byok.routing_helpers import key_for, team

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def member(sandbox):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    return member


def test_models_retrieve_in_both_shapes(dataplane, member):
    listed = [m.id for m in dataplane.openai(member).models.list()]
    one = dataplane.openai(member).models.retrieve(listed[0])
    assert one.id == listed[0] and one.byok["source"] == "byok"
    claude = dataplane.anthropic(member).models.retrieve(listed[0])
    assert claude.id == listed[0] and claude.type == "model"
    with pytest.raises(openai.NotFoundError, match="Unknown model"):
        dataplane.openai(member).models.retrieve("gpt-17")


def test_unknown_paths_are_json_404s_in_the_sdks_shape(dataplane, member):
    with pytest.raises(openai.NotFoundError, match="POST /v1/images/generations is not an endpoint byok serves"):
        dataplane.openai(member).images.generate(prompt="a cat")
    with pytest.raises(anthropic.NotFoundError, match="is not an endpoint byok serves") as refused:
        dataplane.anthropic(member).beta.files.list()
    assert refused.value.body["error"]["type"] == "not_found_error"
    wrong_method = httpx2.get(f"{dataplane.url}/v1/chat/completions")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


def test_the_anthropic_sdks_read_the_request_id(dataplane, member):
    message = dataplane.anthropic(member).messages.create(model="claude-sonnet", max_tokens=20,
                                                           messages=[{"role": "user", "content": "Hi"}])
    assert message._request_id and len(message._request_id) >= 8


def test_cors_for_allowed_origins_only(dataplane, member, settings):
    settings.BYOK_CORS_ORIGINS = frozenset({"https://app.example.com"})
    asked = {"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os, anthropic-version"}
    preflight = httpx2.options(f"{dataplane.url}/v1/chat/completions", headers=asked)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-stainless-os" in preflight.headers["access-control-allow-headers"]
    elsewhere = httpx2.options(f"{dataplane.url}/v1/chat/completions", headers={**asked, "Origin": "https://evil.test"})
    assert elsewhere.status_code == 403 and "access-control-allow-origin" not in elsewhere.headers
    token = dataplane.token(member)
    answer = httpx2.post(f"{dataplane.url}/v1/chat/completions", json={
        "model": "claude-sonnet", "messages": [{"role": "user", "content": "Hi"}]},
        headers={"Origin": "https://app.example.com", "Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "x-byok-source" in answer.headers["access-control-expose-headers"]


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"a":' * 40 + b"1" + b"}" * 40, b"\xff\xfe",
                                  b"not json", b"[1, 2]"])
def test_malformed_bodies_are_400s_in_shape(dataplane, member, body):
    token = dataplane.token(member)
    for path, shape in (("/v1/chat/completions", "invalid_request_error"), ("/v1/messages", "error")):
        answer = httpx2.post(f"{dataplane.url}{path}", content=body,
                             headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
        payload = answer.json()
        assert payload["error"]["type"] == "invalid_request_error" and (shape != "error" or payload["type"] == "error")
