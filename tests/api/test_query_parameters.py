"""Query parameters mean what the schema says: `page` is a whole number from 1 and `provider` a provider id; a blank
or other value is a 400 naming the parameter, never read as "the first page" or "the owner's provider"."""

import pytest

from tests.byok.routing_helpers import team

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("page", ["", "0", "-1", "last", "1.5", "x", "١"])
def test_a_page_that_is_not_a_page_number_is_refused(client_for, page):
    owner = team()[0]
    response = client_for(owner).get("/api/v1/workspaces/", {"page": page})
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["page"] == ["A page number: a whole number from 1."]


def test_page_numbers_from_one_are_served_and_a_page_past_the_end_is_absent(client_for):
    owner = team()[0]
    assert client_for(owner).get("/api/v1/workspaces/", {"page": "1"}).json()["count"] == 1
    assert client_for(owner).get("/api/v1/workspaces/").json()["count"] == 1
    assert client_for(owner).get("/api/v1/workspaces/", {"page": "2"}).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/workspaces/{slug}/byok/", "/api/v1/workspaces/{slug}/byok/test-connection/"])
def test_a_blank_provider_is_refused_not_read_as_the_owners(client_for, path):
    owner, workspace, _ = team()
    client = client_for(owner)
    call = client.get if path.endswith("/byok/") else client.post
    response = call(path.format(slug=workspace.slug) + "?provider=")
    assert response.status_code == 400
    assert "provider" in response.json()["error"]["fields"]


def test_the_schema_states_page_numbers_from_one(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    page = next(p for p in schema["paths"]["/api/v1/workspaces/"]["get"]["parameters"] if p["name"] == "page")
    assert page["schema"] == {"type": "integer", "minimum": 1}
