"""A member testing the workspace's credentials learns the verdict, never the owner's provider account."""

import pytest

from tests.byok.routing_helpers import key_for, team, use_platform_account
from tests.factories import add_member

pytestmark = pytest.mark.django_db

MEMBER_VIEW = {"source", "provider", "model", "ok", "category", "hint", "key_hint", "tested_at"}
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def url_for(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/byok/test-connection/"


def assert_nothing_about_the_account(response, account):
    text = response.content.decode()
    assert account.account_id not in text
    assert "arn:" not in text
    assert "models" not in response.json() and "checks" not in response.json()


@pytest.mark.parametrize("role", ["member", "admin"])
def test_a_member_gets_the_verdict_only(sandbox, client_for, role):
    owner, workspace, member = team()
    if role == "admin":
        member = add_member(workspace, role="admin")
    account = sandbox.add_account("bedrock", account_id="123456789012")
    key_for(owner, account)
    response = client_for(member).post(url_for(workspace))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == MEMBER_VIEW
    assert (body["source"], body["provider"], body["ok"], body["category"]) == ("byok", "bedrock", True, None)
    assert body["model"] == SONNET
    assert body["key_hint"].startswith("AKIA…")
    assert_nothing_about_the_account(response, account)


def test_a_failing_verdict_names_the_model_and_the_hint_but_not_the_account(sandbox, client_for):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock", account_id="123456789012", models=[])
    key_for(owner, account)
    body = client_for(member).post(url_for(workspace)).json()
    assert set(body) == MEMBER_VIEW
    assert (body["ok"], body["category"]) == (False, "model_access")
    assert "anthropic.claude" in body["model"]
    assert body["hint"]
    assert "123456789012" not in str(body)


def test_the_owner_testing_their_own_key_sees_everything(sandbox, client_for):
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock", account_id="123456789012")
    key_for(owner, account)
    body = client_for(owner).post(url_for(workspace)).json()
    assert body["account"] == "123456789012"
    assert set(body) >= MEMBER_VIEW | {"checks", "models", "valid", "error", "duration_ms"}
    assert any(check["detail"].get("arn", "").startswith("arn:aws:iam::123456789012:") for check in body["checks"])


def test_platform_credentials_are_never_described_to_anyone(sandbox, client_for, settings):
    owner, workspace, member = team()
    platform = use_platform_account(settings, sandbox, account_id="999988887777")
    for user in (owner, member):
        response = client_for(user).post(url_for(workspace))
        assert response.status_code == 200, response.content
        assert set(response.json()) == MEMBER_VIEW
        assert response.json()["source"] == "platform"
        assert "999988887777" not in response.content.decode() and "arn:" not in response.content.decode()
    assert platform.account_id == "999988887777"


def test_the_stored_key_test_is_unchanged_for_its_owner(sandbox, client_for):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("bedrock", account_id="123456789012"))
    body = client_for(owner).post(f"/api/v1/provider-keys/{key.pk}/test-connection/").json()
    assert body["account"] == "123456789012" and body["checks"]
