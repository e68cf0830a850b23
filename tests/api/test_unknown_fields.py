"""Request bodies with fields the endpoint does not accept are refused (400 naming each), never half-applied."""

import pytest

from byok.models import ProviderKey
from byok.services.keys import provider_key_create
from tests.byok.keys_data import BEDROCK_AKIA, VALID
from tests.byok.routing_helpers import MESSAGES, team
from tests.factories import BusinessUserFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads


def assert_fields(response, expected: dict):
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    for name, reason in expected.items():
        assert error["fields"].get(name) == [reason], error["fields"]
    return error["fields"]


@pytest.fixture
def owner_key():
    return provider_key_create(owner=BusinessUserFactory(), provider="bedrock", name="Main", credentials=BEDROCK_AKIA,
                               skip_test=True)


def test_patch_refuses_fields_it_cannot_change(client_for, owner_key):
    intruder = BusinessUserFactory()
    body = {"name": "Renamed", "provider": "openai", "owner": intruder.pk, "status": "active", "key_hint": "x",
            "id": 99, "enabled": False, "created_at": "2020-01-01T00:00:00Z"}
    response = client_for(owner_key.owner).patch(f"/api/v1/provider-keys/{owner_key.pk}/", body, format="json")
    assert_fields(response, {name: "Unknown field." for name in body if name != "name"})
    owner_key.refresh_from_db()
    assert (owner_key.name, owner_key.provider, owner_key.owner_id, owner_key.enabled) == (
        "Main", "bedrock", owner_key.owner_id, True)


def test_unknown_fields_are_reported_with_the_other_invalid_fields(client_for, owner_key):
    response = client_for(owner_key.owner).patch(f"/api/v1/provider-keys/{owner_key.pk}/",
                                                 {"name": "", "owner": 1}, format="json")
    assert set(assert_fields(response, {"owner": "Unknown field."})) == {"name", "owner"}


def test_create_refuses_unknown_fields(client_for):
    body = {"provider": "openai", "name": "k", "credentials": VALID["openai"], "skip_test": True,
            "owner": 1, "enabled": False}
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", body, format="json")
    assert_fields(response, {"owner": "Unknown field.", "enabled": "Unknown field."})
    assert not ProviderKey.objects.exists()


def test_the_gateway_refuses_a_model_or_base_url_it_would_ignore(client_for):
    owner, workspace, member = team()
    body = {"messages": MESSAGES, "model": "gpt-4o", "base_url": "https://attacker.example/v1", "task": "huge"}
    response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/", body, format="json")
    fields = assert_fields(response, {"model": "Unknown field.", "base_url": "Unknown field."})
    assert set(fields) == {"model", "base_url", "task"}


@pytest.mark.parametrize("url, body, unknown", [
    ("/api/v1/provider-keys/{pk}/rotate/", {"credentials": BEDROCK_AKIA, "skip_test": True, "provider": "openai"},
     "provider"),
    ("/api/v1/provider-keys/test/", {"provider": "openai", "credentials": VALID["openai"], "base_url": "x"},
     "base_url"),
    ("/api/v1/byok/revert/", {"confirm": True, "everything": True}, "everything"),
])
def test_every_input_refuses_unknown_fields(client_for, owner_key, url, body, unknown):
    response = client_for(owner_key.owner).post(url.format(pk=owner_key.pk), body, format="json")
    assert set(assert_fields(response, {unknown: "Unknown field."})) == {unknown}


def test_token_refuses_unknown_fields(api_client):
    user = UserFactory(username="alice")
    user.set_password("pw-long-enough-1")
    user.save()
    response = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-long-enough-1",
                                                       "token": "mine", "scope": "admin"}, format="json")
    assert_fields(response, {"token": "Unknown field.", "scope": "Unknown field."})
    ok = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-long-enough-1"}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]
    form = api_client.post("/api/v1/auth/token/", {"username": "alice", "password": "pw-long-enough-1", "x": "1"})
    assert_fields(form, {"x": "Unknown field."})
