"""GET /api/v1/workspaces/{slug}/audit-events/: owner and admins only, the workspace's events plus the owner's."""

import pytest

from accounts.services import user_plan_change
from byok.services.keys import provider_key_disable
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(owner, bedrock_key):
    workspace = WorkspaceFactory(owner=owner, slug="acme")
    add_member(workspace, UserFactory(username="ada"), role="admin")
    add_member(workspace, UserFactory(username="mark"))
    provider_key_disable(key=bedrock_key, actor=owner)
    user_plan_change(user=owner, plan_code="enterprise", actor=owner)
    # Noise that acme must not see: the owner's other workspace, another owner entirely.
    WorkspaceFactory(owner=owner, slug="other-of-owner")
    WorkspaceFactory(owner=BusinessUserFactory(), slug="someone-else")
    return workspace


def audit_events(client, slug="acme", **params):
    return client.get(f"/api/v1/workspaces/{slug}/audit-events/", params)


def test_owner_and_admin_see_the_workspace_events_and_the_owner_key_and_plan_events(client_for, acme, owner):
    for user in (owner, acme.memberships.get(user__username="ada").user):
        response = audit_events(client_for(user))
        assert response.status_code == 200, response.json()
        body = response.json()
        actions = sorted(e["action"] for e in body["results"])
        assert actions == ["KEY_CREATED", "KEY_DISABLED", "MEMBER_ADDED", "MEMBER_ADDED", "MEMBER_ADDED",
                           "PLAN_CHANGED"]
        assert {e["workspace"] for e in body["results"]} == {"acme", None}
        assert body["count"] == 6


def test_newest_first_with_hint_and_no_secret_fields(client_for, acme, owner, bedrock_key):
    results = audit_events(client_for(owner)).json()["results"]
    assert results[0]["action"] == "PLAN_CHANGED"
    disabled = next(e for e in results if e["action"] == "KEY_DISABLED")
    assert (disabled["actor"], disabled["key_id"], disabled["key_hint"]) == (owner.username, bedrock_key.pk,
                                                                            "AKIA…7XQ2")
    assert not {"secret", "session_secret", "credentials"} & set(disabled)


def test_member_gets_403_and_outsider_404_in_the_standard_error_format(client_for, acme):
    member = acme.memberships.get(user__username="mark").user
    response = audit_events(client_for(member))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    response = audit_events(client_for(BusinessUserFactory()))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert audit_events(client_for(member), slug="no-such-workspace").status_code == 404


def test_filters_by_action_key_actor_and_time(client_for, acme, owner, bedrock_key):
    client = client_for(owner)

    def actions(**params):
        response = audit_events(client, **params)
        assert response.status_code == 200, response.json()
        return sorted(e["action"] for e in response.json()["results"])

    assert actions(action="KEY_DISABLED") == ["KEY_DISABLED"]
    assert actions(key_id=bedrock_key.pk) == ["KEY_CREATED", "KEY_DISABLED"]
    assert actions(actor="nobody") == []
    assert len(actions(actor=owner.username)) == 6
    first, *_ = audit_events(client, action="KEY_DISABLED").json()["results"]
    assert "KEY_DISABLED" not in actions(until=first["created_at"])
    assert "KEY_CREATED" not in actions(since=first["created_at"])
    assert "KEY_DISABLED" in actions(since=first["created_at"])


def test_bad_filter_is_a_400_naming_the_field(client_for, acme, owner):
    response = audit_events(client_for(owner), action="KEY_STOLEN", since="yesterday")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"action", "since"}


def test_results_are_paginated_by_fifty(client_for, acme, owner):
    for plan in ["business", "enterprise"] * 23:
        user_plan_change(user=owner, plan_code=plan, actor=owner)
    client = client_for(owner)
    first = audit_events(client).json()
    assert (first["count"], len(first["results"])) == (52, 50) and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert not {e["id"] for e in first["results"]} & {e["id"] for e in second["results"]}
