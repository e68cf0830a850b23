"""Provider keys scoped to selected workspace API keys (scope api_keys): the sync REST completions path and the
resolution rule (the calling API key's key, then a selected-workspace key, then the owner-wide one)."""

import pytest
from rest_framework.test import APIClient

from accounts.services import api_key_create
from byok.gateway.resolve import credentials_resolve
from byok.models import ProviderKey
from byok.services.keys import provider_key_create
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads


def two_api_keys(workspace, member):
    staging, raw_staging = api_key_create(workspace=workspace, user=member, name="staging", actor=member)
    production, raw_production = api_key_create(workspace=workspace, user=member, name="production", actor=member)
    return (staging, raw_staging), (production, raw_production)


def bearer_call(workspace, raw_key):
    return APIClient().post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                            {"messages": MESSAGES, "provider": "openai"}, format="json",
                            HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def test_each_api_key_is_served_by_its_own_provider_key(sandbox, client_for, settings):
    owner, workspace, member = team()
    (staging, raw_staging), (production, raw_production) = two_api_keys(workspace, member)
    staging_account, production_account = sandbox.add_account("openai"), sandbox.add_account("openai")
    owner_wide_account = sandbox.add_account("openai")
    platform = use_platform_account(settings, sandbox, provider="openai")
    staging_key = key_for(owner, staging_account, provider="openai", name="staging key",
                          scope=ProviderKey.Scope.API_KEYS, api_keys=[staging])
    production_key = key_for(owner, production_account, provider="openai", name="production key",
                             scope=ProviderKey.Scope.API_KEYS, api_keys=[production])

    # Without an owner-wide key, a call without an API key uses platform credentials.
    response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                       {"messages": MESSAGES, "provider": "openai"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["source"] == "platform"

    for raw_key in (raw_staging, raw_production, raw_production):
        response = bearer_call(workspace, raw_key)
        assert response.status_code == 200, response.json()
        assert response.json()["source"] == "byok"
    assert sandbox.calls("openai.ChatCompletions") == {staging_account.name: 1, production_account.name: 2,
                                                       platform.name: 1}

    key_for(owner, owner_wide_account, provider="openai", name="owner-wide key")
    response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                       {"messages": MESSAGES, "provider": "openai"}, format="json")
    assert response.json()["source"] == "byok"
    assert bearer_call(workspace, raw_staging).status_code == 200
    assert sandbox.calls("openai.ChatCompletions") == {staging_account.name: 2, production_account.name: 2,
                                                       platform.name: 1, owner_wide_account.name: 1}
    assert {staging_key.pk, production_key.pk} == set(ProviderKey.objects.filter(
        scope=ProviderKey.Scope.API_KEYS).values_list("pk", flat=True))


def test_resolution_order_api_key_then_workspace_then_owner_wide(sandbox):
    owner, workspace, member = team()
    (staging, _), (production, _) = two_api_keys(workspace, member)
    owner_wide = key_for(owner, sandbox.add_account("openai"), provider="openai", name="owner-wide")
    selected = key_for(owner, sandbox.add_account("openai"), provider="openai", name="selected",
                       scope=ProviderKey.Scope.SELECTED, workspaces=[workspace])
    scoped = key_for(owner, sandbox.add_account("openai"), provider="openai", name="scoped",
                     scope=ProviderKey.Scope.API_KEYS, api_keys=[staging])

    def served(api_key_id):
        resolution = credentials_resolve(user=member, workspace_slug=workspace.slug, family="openai",
                                         api_key_id=api_key_id)
        return resolution.key_id, resolution.reason

    assert served(staging.pk) == (scoped.pk, "api_key_scoped")
    assert served(production.pk) == (selected.pk, "workspace_key")
    assert served(None) == (selected.pk, "workspace_key")
    selected.delete()
    assert served(production.pk) == (owner_wide.pk, "owner_key")
    assert served(None) == (owner_wide.pk, "owner_key")


def test_an_api_key_of_another_workspace_does_not_select_the_key(sandbox):
    from tests.factories import WorkspaceFactory

    owner, workspace, member = team()
    other = WorkspaceFactory(owner=owner)
    other_key, _ = api_key_create(workspace=workspace, user=member, name="mine", actor=member)
    key_for(owner, sandbox.add_account("openai"), provider="openai", name="scoped",
            scope=ProviderKey.Scope.API_KEYS, api_keys=[other_key])
    # The API key belongs to `workspace`: resolving another workspace with its id finds no key there.
    resolution = credentials_resolve(user=owner, workspace_slug=other.slug, family="openai", api_key_id=other_key.pk)
    assert resolution.source == "platform" and resolution.reason == "no_key"


def test_provider_key_create_with_api_keys_records_them(sandbox):
    owner, workspace, member = team()
    (staging, _), _ = two_api_keys(workspace, member)
    key = provider_key_create(owner=owner, provider="openai", name="k", credentials={"api_key": "sk-" + "a" * 40},
                              scope=ProviderKey.Scope.API_KEYS, api_keys=[staging], skip_test=True)
    assert list(key.api_keys.all()) == [staging]
