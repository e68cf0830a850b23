"""The provider-keys API with scope api_keys: create and PATCH with `api_keys: [ids]`, and each refusal a 400 (or 409)
naming `api_keys`, nothing stored."""

import pytest

from accounts.services import api_key_create, api_token_create
from byok.models import ProviderKey
from tests.byok.keys_data import VALID
from tests.byok.routing_helpers import team
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def body(**fields) -> dict:
    return {"provider": "openai", "name": "Staging OpenAI", "skip_test": True, "credentials": VALID["openai"],
            "scope": "api_keys", **fields}


@pytest.fixture
def setup():
    owner, workspace, member = team()
    staging, _ = api_key_create(workspace=workspace, user=member, name="staging", actor=member)
    production, _ = api_key_create(workspace=workspace, user=member, name="production", actor=member)
    return owner, workspace, staging, production


def test_create_and_patch_with_api_keys(setup, client_for):
    owner, workspace, staging, production = setup
    response = client_for(owner).post("/api/v1/provider-keys/", body(api_keys=[staging.pk]), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["scope"] == "api_keys" and response.json()["api_keys"] == [staging.pk]
    key_id = response.json()["id"]
    response = client_for(owner).patch(f"/api/v1/provider-keys/{key_id}/", {"api_keys": [production.pk]},
                                       format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["api_keys"] == [production.pk]
    response = client_for(owner).patch(f"/api/v1/provider-keys/{key_id}/", {"scope": "all_workspaces"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["api_keys"] == [] and response.json()["workspaces"] == []


@pytest.mark.parametrize("case", ["empty", "missing", "foreign", "token", "with_other_scope", "with_workspaces"])
def test_invalid_api_keys_are_400_naming_api_keys(setup, client_for, case):
    owner, workspace, staging, production = setup
    stranger = BusinessUserFactory()
    foreign, _ = api_key_create(workspace=WorkspaceFactory(owner=stranger), user=stranger, name="x", actor=stranger)
    token, _ = api_token_create(user=owner, actor=owner)
    request = {
        "empty": body(api_keys=[]),
        "missing": body(),
        "foreign": body(api_keys=[foreign.pk]),
        "token": body(api_keys=[token.pk]),
        "with_other_scope": body(scope="all_workspaces", api_keys=[staging.pk]),
        "with_workspaces": body(api_keys=[staging.pk], workspaces=[workspace.slug]),
    }[case]
    response = client_for(owner).post("/api/v1/provider-keys/", request, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert ("workspaces" if case == "with_workspaces" else "api_keys") in {f.split(".")[0] for f in fields}, fields
    assert not ProviderKey.objects.exists()


def test_a_second_key_for_an_api_key_of_the_family_joins_its_pool(setup, client_for):
    owner, workspace, staging, production = setup
    assert client_for(owner).post("/api/v1/provider-keys/", body(api_keys=[staging.pk]),
                                  format="json").status_code == 201
    response = client_for(owner).post("/api/v1/provider-keys/",
                                      body(name="Another", api_keys=[staging.pk, production.pk]), format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["priority"] == 1  # after the first: it serves staging's calls when the first cannot
    # Another family may serve the same API key.
    response = client_for(owner).post("/api/v1/provider-keys/", body(
        provider="anthropic", name="Claude", credentials=VALID["anthropic"], api_keys=[staging.pk]), format="json")
    assert response.status_code == 201, response.json()
