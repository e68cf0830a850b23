import pytest

from audit.models import AuditEvent
from byok.models import ProviderKey
from tests.byok.keys_data import ANTHROPIC, BEDROCK_AKIA, BEDROCK_ASIA, OPENAI, VALID
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def create(client, provider="bedrock", **extra):
    body = {"provider": provider, "name": extra.pop("name", f"{provider} key"), "credentials": VALID[provider],
            "skip_test": True, **extra}
    return client.post("/api/v1/provider-keys/", body, format="json")


@pytest.mark.parametrize("provider", sorted(VALID))
def test_owner_creates_a_key_for_every_provider_and_sees_only_the_hint(client_for, provider):
    owner = BusinessUserFactory()
    response = create(client_for(owner), provider)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active"
    assert "…" in body["key_hint"]
    secrets = [v for k, v in VALID[provider].items() if k not in ("region", "location", "access_key_id")]
    assert not any(s in response.content.decode() for s in secrets)
    key = ProviderKey.objects.get(pk=body["id"])
    stored = key.get_credentials()
    secret_field = next(name for name in ("api_key", "service_account_json", "secret_access_key", "role_arn")
                        if name in stored)
    assert stored[secret_field] in secrets
    assert all(s not in key.secret for s in secrets)


def test_bedrock_key_defaults_to_global_profile_and_long_term(client_for):
    body = create(client_for(BusinessUserFactory())).json()
    assert (body["inference_profile"], body["credential_type"], body["key_hint"]) == ("global", "long_term", "AKIA…7XQ2")


def test_a_bedrock_key_names_each_regional_sets_hint_and_no_secret(client_for):
    regional = {"access_key_id": "AKIAZ7EXAMPLE4KE7XQ9", "secret_access_key": "r" * 40}
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "eu", "credentials": BEDROCK_AKIA, "inference_profile": "eu", "skip_test": True,
        "regional_credentials": [{"regions": ["eu-west-1", "eu-west-3"], **regional}]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["region_hints"] == {"eu-west-1": "AKIA…7XQ9", "eu-west-3": "AKIA…7XQ9"}
    assert body["regions"] == ["eu-west-1", "eu-west-3"] and body["key_hint"] == "AKIA…7XQ2"
    assert regional["secret_access_key"] not in response.content.decode()


def test_temporary_bedrock_key_records_its_expiry(client_for):
    response = client_for(BusinessUserFactory()).post(
        "/api/v1/provider-keys/",
        {"provider": "bedrock", "name": "temp", "credentials": BEDROCK_ASIA, "inference_profile": "eu",
         "skip_test": True}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["credential_type"] == "temporary"
    assert response.json()["expires_at"].startswith("2099-01-01")


def test_free_owner_cannot_create_a_key(client_for):
    response = create(client_for(UserFactory()))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_required"
    assert not ProviderKey.objects.exists()


def test_keys_are_visible_only_to_their_owner(client_for):
    owner = BusinessUserFactory()
    key_id = create(client_for(owner)).json()["id"]
    other = BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    member = add_member(workspace)
    for intruder in (other, member):
        client = client_for(intruder)
        assert client.get("/api/v1/provider-keys/").json() == []
        assert client.get(f"/api/v1/provider-keys/{key_id}/").status_code == 404
        assert client.delete(f"/api/v1/provider-keys/{key_id}/").status_code == 404
        assert client.post(f"/api/v1/provider-keys/{key_id}/disable/").status_code == 404
    assert ProviderKey.objects.get(pk=key_id).enabled


def test_update_with_blank_secret_keeps_the_stored_secret(client_for):
    owner = BusinessUserFactory()
    client = client_for(owner)
    key_id = create(client).json()["id"]
    response = client.patch(f"/api/v1/provider-keys/{key_id}/", {
        "name": "Renamed", "inference_profile": "us", "fallback_mode": "none",
        "credentials": {"access_key_id": "", "secret_access_key": ""}, "skip_test": True}, format="json")
    assert response.status_code == 200, response.json()
    key = ProviderKey.objects.get(pk=key_id)
    assert key.get_credentials()["secret_access_key"] == BEDROCK_AKIA["secret_access_key"]
    assert (key.name, key.inference_profile, key.fallback_mode) == ("Renamed", "us", "none")
    event = AuditEvent.objects.filter(action="KEY_UPDATED").get()
    assert event.details["name"] == {"from": "bedrock key", "to": "Renamed"}
    assert "credentials" not in event.details


def test_rotate_replaces_the_secret_and_records_it(client_for):
    owner = BusinessUserFactory()
    client = client_for(owner)
    key_id = create(client, "openai").json()["id"]
    new_secret = "sk-proj-ROTATEDrotatedROTATEDrotated0123456789zz99"
    response = client.post(f"/api/v1/provider-keys/{key_id}/rotate/", {"credentials": {"api_key": new_secret}, "skip_test": True},
                           format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["key_hint"] == "sk-proj-…zz99"
    assert response.json()["rotated_at"]
    key = ProviderKey.objects.get(pk=key_id)
    assert key.get_credentials()["api_key"] == new_secret
    assert OPENAI["api_key"] not in str(AuditEvent.objects.values_list("details", flat=True)[::1])


def test_rotate_requires_a_new_secret(client_for):
    owner = BusinessUserFactory()
    client = client_for(owner)
    key_id = create(client, "anthropic").json()["id"]
    response = client.post(f"/api/v1/provider-keys/{key_id}/rotate/", {"credentials": {"api_key": " "}}, format="json")
    assert response.status_code == 400
    assert "credentials" in response.json()["error"]["fields"]
    assert ProviderKey.objects.get(pk=key_id).get_credentials()["api_key"] == ANTHROPIC["api_key"]


def test_disable_and_enable_keep_the_secret(client_for):
    client = client_for(BusinessUserFactory())
    key_id = create(client).json()["id"]
    assert client.post(f"/api/v1/provider-keys/{key_id}/disable/").json()["status"] == "disabled"
    assert client.post(f"/api/v1/provider-keys/{key_id}/enable/").json()["status"] == "active"
    assert ProviderKey.objects.get(pk=key_id).get_credentials()["access_key_id"] == BEDROCK_AKIA["access_key_id"]


def test_revert_needs_confirmation_then_deletes_every_key(client_for):
    owner = BusinessUserFactory()
    client = client_for(owner)
    create(client, "bedrock")
    create(client, "anthropic")
    refused = client.post("/api/v1/byok/revert/", {}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"confirm": ["Set to true to confirm: this deletes your stored credentials."]}
    assert ProviderKey.objects.count() == 2
    assert client.post("/api/v1/byok/revert/", {"confirm": True}, format="json").json() == {"deleted_keys": 2}
    assert not ProviderKey.objects.exists()
    assert AuditEvent.objects.filter(action="BYOK_REVERTED", owner=owner).count() == 1


def test_downgrade_makes_keys_plan_inactive_and_upgrade_restores(client_for):
    from accounts.services import user_plan_change

    owner = BusinessUserFactory()
    client = client_for(owner)
    key_id = create(client).json()["id"]
    user_plan_change(user=owner, plan_code="free", actor=None)
    assert client.get(f"/api/v1/provider-keys/{key_id}/").json()["status"] == "plan_inactive"
    assert ProviderKey.objects.filter(pk=key_id).exists()
    user_plan_change(user=owner, plan_code="enterprise", actor=None)
    assert client.get(f"/api/v1/provider-keys/{key_id}/").json()["status"] == "active"


def test_selected_scope_takes_only_owned_workspaces(client_for):
    owner = BusinessUserFactory()
    mine = WorkspaceFactory(owner=owner)
    theirs = WorkspaceFactory()
    client = client_for(owner)
    refused = create(client, scope="selected", workspaces=[theirs.slug])
    assert refused.status_code == 400
    assert list(refused.json()["error"]["fields"]) == ["workspaces.0"]
    created = create(client, scope="selected", workspaces=[mine.slug])
    assert created.status_code == 201, created.json()
    assert created.json()["workspaces"] == [mine.slug]


def test_a_second_owner_wide_key_for_the_same_family_joins_the_pool_after_the_first(client_for):
    client = client_for(BusinessUserFactory())
    first = create(client, "bedrock").json()
    second = create(client, "bedrock_api_key")
    assert second.status_code == 201, second.json()
    assert (first["priority"], second.json()["priority"], second.json()["weight"]) == (0, 1, 1)


def test_the_owner_orders_and_weights_keys_and_bad_values_name_their_field(client_for):
    client = client_for(BusinessUserFactory())
    key = create(client, "bedrock").json()
    changed = client.patch(f"/api/v1/provider-keys/{key['id']}/", {"priority": 3, "weight": 4}, format="json")
    assert changed.status_code == 200 and (changed.json()["priority"], changed.json()["weight"]) == (3, 4)
    for field, value in (("priority", -1), ("weight", 0), ("weight", 1001)):
        refused = client.patch(f"/api/v1/provider-keys/{key['id']}/", {field: value}, format="json")
        assert refused.status_code == 400 and list(refused.json()["error"]["fields"]) == [field]
    assert client.get(f"/api/v1/provider-keys/{key['id']}/").json()["weight"] == 4


def test_provider_catalog_lists_every_provider_without_secrets(client_for):
    body = client_for(UserFactory()).get("/api/v1/providers/").json()
    assert [p["id"] for p in body] == ["bedrock", "bedrock_api_key", "bedrock_role", "anthropic", "openai", "mistral",
                                      "deepseek", "xai", "zai", "groq", "vertex"]
    bedrock = body[0]
    assert [p["id"] for p in bedrock["inference_profiles"]] == ["global", "us", "eu", "apac"]
    assert bedrock["models"]["complex"] == "anthropic.claude-opus-4-5-20251101-v1:0"
    assert {f["name"]: f["secret"] for f in bedrock["credential_fields"]}["secret_access_key"] is True
