import pytest

from tests.factories import UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def test_token_is_obtained_with_username_and_password(api_client):
    user = UserFactory()
    response = api_client.post("/api/v1/auth/token/", {"username": user.username, "password": "byok-demo-2026"})
    assert response.status_code == 200
    token = response.json()["token"]
    me = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json()["username"] == user.username


def test_anonymous_request_gets_401_in_the_error_format(api_client):
    response = api_client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_shows_plan_and_memberships(client_for):
    workspace = WorkspaceFactory(slug="acme")
    member = add_member(workspace, role="admin")
    body = client_for(member).get("/api/v1/me/").json()
    assert body["plan"]["code"] == "free"
    assert body["memberships"] == [
        {"workspace": "acme", "workspace_name": workspace.name, "role": "admin", "created_at": body["memberships"][0]["created_at"]}
    ]


def test_workspace_list_shows_only_the_callers_workspaces(client_for):
    mine = WorkspaceFactory()
    WorkspaceFactory()
    body = client_for(mine.owner).get("/api/v1/workspaces/").json()
    assert [w["slug"] for w in body["results"]] == [mine.slug]
    assert body["results"][0]["byok_allowed"] is True


def test_non_member_gets_404_not_403_on_another_workspace(client_for):
    other = WorkspaceFactory(slug="secret-project")
    outsider = UserFactory()
    response = client_for(outsider).get("/api/v1/workspaces/secret-project/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    missing = client_for(outsider).get("/api/v1/workspaces/no-such-slug/")
    assert missing.json() == response.json()
    assert client_for(other.owner).get("/api/v1/workspaces/secret-project/").status_code == 200


def test_workspace_detail_lists_members_with_roles(client_for):
    workspace = WorkspaceFactory()
    member = add_member(workspace)
    body = client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/").json()
    assert {(m["user"]["username"], m["role"]) for m in body["members"]} == {
        (workspace.owner.username, "owner"),
        (member.username, "member"),
    }


def test_a_wrong_or_deactivated_token_is_refused(client_for, api_client):
    user = UserFactory()
    client = client_for(user)
    assert client.get("/api/v1/me/").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "authentication_failed"
    wrong = api_client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert (wrong.status_code, wrong.json()["error"]["message"]) == (401, "Invalid, expired or revoked API token or key.")
