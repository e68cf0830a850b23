"""The usage API by member and by workspace API key: the REST completion endpoint records the workspace API key that
called it (none for an API token), and a workspace's usage names only its own keys, for its owner and admins."""

from collections import Counter
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from byok.models import UsageRecord
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.factories import add_member


def record(workspace, *, user, api_key=None, source="byok", cost="0.25"):
    return UsageRecord.objects.create(workspace=workspace, owner=workspace.owner, user=user, api_key=api_key,
                                      provider="openai", model="gpt-4.1", source=source, task="standard",
                                      input_tokens=100, output_tokens=10, estimated_cost=Decimal(cost),
                                      credits_charged=1 if source == "platform" else 0)


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop
def test_the_rest_completion_endpoint_records_the_calling_api_key_and_none_for_a_token(sandbox, client_for):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    sdk, raw_key = api_key_create(workspace=workspace, user=member, name="sdk", actor=member)
    url = f"/api/v1/workspaces/{workspace.slug}/completions/"
    body = {"messages": MESSAGES, "provider": "openai"}
    assert client_for(member).post(url, body, format="json").status_code == 200
    assert APIClient().post(url, body, format="json", headers={"Authorization": f"Bearer {raw_key}"}).status_code == 200
    assert Counter(UsageRecord.objects.values_list("api_key_id", flat=True)) == {None: 1, sdk.pk: 1}


@pytest.mark.django_db
def test_usage_by_member_and_api_key_names_only_the_workspaces_own_keys(client_for):
    owner, workspace, member = team()
    admin = add_member(workspace, role="admin")
    laptop, _ = api_key_create(workspace=workspace, user=member, name="laptop", actor=member)
    record(workspace, user=member, api_key=laptop)
    record(workspace, user=member, api_key=laptop, source="platform", cost="0.10")
    record(workspace, user=member)  # an API token's call
    stranger, elsewhere, their_member = team()
    their_key, _ = api_key_create(workspace=elsewhere, user=their_member, name="their key", actor=their_member)
    record(elsewhere, user=their_member, api_key=their_key, cost="9.00")

    for viewer in (owner, admin):
        summary = client_for(viewer).get(f"/api/v1/workspaces/{workspace.slug}/usage/").json()
        assert [(r["api_key_id"], r["name"], r["member"], r["calls"], r["byok_cost"], r["platform_cost"],
                 r["credits_charged"]) for r in summary["by_api_key"]] == [
            (laptop.pk, "laptop", member.username, 2, "0.250000", "0.100000", 1),
            (None, None, None, 1, "0.250000", "0.000000", 0)]
        assert [(r["member"], r["calls"], r["byok_cost"]) for r in summary["by_member"]] == [
            (member.username, 3, "0.500000")]
    assert client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/usage/").status_code == 403
    assert client_for(owner).get(f"/api/v1/workspaces/{elsewhere.slug}/usage/").status_code == 404
    theirs = client_for(stranger).get(f"/api/v1/workspaces/{elsewhere.slug}/usage/").json()["by_api_key"]
    assert [(r["name"], r["byok_cost"]) for r in theirs] == [("their key", "9.000000")]
