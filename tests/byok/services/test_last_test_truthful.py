"""A key's "last connection test" belongs to the credentials stored now: a change of credentials, profile or
regions clears it, or replaces it with the test the service just ran on them."""

import pytest
from django.test import Client

from byok.models import ProviderKey
from byok.services.connection import provider_key_test_connection
from byok.services.keys import provider_key_create, provider_key_rotate, provider_key_update
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

KEYS = "/manage/byok/providerkey/"


@pytest.fixture
def owner():
    owner = BusinessUserFactory(username="olivia")
    WorkspaceFactory(owner=owner, slug="acme")
    return owner


def creds(account) -> dict:
    return {"access_key_id": account.access_key_id, "secret_access_key": account.secret_access_key}


def make_tested_key(owner, account) -> ProviderKey:
    """A key created untested, then tested (so it has a stored result from its current credentials)."""
    key = provider_key_create(owner=owner, provider="bedrock", name="Production", credentials=creds(account),
                              skip_test=True)
    provider_key_test_connection(key=key, actor=owner)
    key.refresh_from_db()
    assert key.last_test_status == "ok" and key.last_tested_at and key.last_test_summary
    return key


def test_create_tested_before_save_keeps_that_test(owner, sandbox):
    key = provider_key_create(owner=owner, provider="bedrock", name="P", credentials=creds(sandbox.account("demo-bedrock")))
    key.refresh_from_db()
    assert key.last_test_status == "ok" and key.last_tested_at is not None
    assert key.last_test_summary["ok"] is True and key.last_test_summary["account"] == "111122223333"


def test_create_untested_has_no_test(owner, sandbox):
    key = provider_key_create(owner=owner, provider="bedrock", name="P", credentials=creds(sandbox.account("demo-bedrock")),
                              skip_test=True)
    assert key.last_test_status == "" and key.last_tested_at is None and key.last_test_summary == {}


def test_api_create_shows_the_test_in_the_console_list(owner, sandbox, client_for):
    response = client_for(owner).post("/api/v1/provider-keys/", {
        "provider": "bedrock", "name": "Via API", "credentials": creds(sandbox.account("demo-bedrock"))}, format="json")
    assert response.status_code == 201, response.json()
    client = Client()
    client.force_login(owner)
    html = client.get(KEYS).content.decode()
    assert "✓" in html and ">never<" not in html


def test_console_test_and_save_shows_the_test_not_never(owner, sandbox):
    account = sandbox.account("demo-bedrock")
    client = Client()
    client.force_login(owner)
    response = client.post(f"{KEYS}add/?provider=bedrock", {
        "name": "Production", "inference_profile": "global", **creds(account), "fallback_mode": "platform",
        "scope": "all_workspaces", "regional-TOTAL_FORMS": "1", "regional-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content.decode()[:3000]
    key = ProviderKey.objects.get()
    assert key.last_test_status == "ok"
    page = client.get(response.url).content.decode()
    assert "111122223333" in page  # the stored test is shown on the key page
    assert "never" not in client.get(KEYS).content.decode()


def test_rotate_untested_clears_the_old_test(owner, sandbox):
    key = make_tested_key(owner, sandbox.account("demo-bedrock"))
    provider_key_rotate(key=key, credentials=creds(sandbox.account("demo-bedrock-no-opus")), actor=owner,
                        skip_test=True)
    key.refresh_from_db()
    assert key.last_test_status == "" and key.last_tested_at is None and key.last_test_summary == {}


def test_rotate_tested_keeps_the_new_test(owner, sandbox):
    key = provider_key_create(owner=owner, provider="bedrock", name="P", skip_test=True,
                              credentials=creds(sandbox.account("demo-bedrock-no-sts")))
    provider_key_test_connection(key=key, actor=owner)
    key.refresh_from_db()
    assert key.last_test_status == "failed"
    provider_key_rotate(key=key, credentials=creds(sandbox.account("demo-bedrock")), actor=owner)
    key.refresh_from_db()
    assert key.last_test_status == "ok" and key.last_test_summary["ok"] is True


def test_profile_change_untested_clears_the_test(owner, sandbox):
    key = make_tested_key(owner, sandbox.account("demo-bedrock"))
    provider_key_update(key=key, actor=owner, inference_profile="us", skip_test=True)
    key.refresh_from_db()
    assert key.inference_profile == "us" and key.last_tested_at is None and key.last_test_status == ""


def test_profile_change_tested_keeps_the_new_test(owner, sandbox):
    key = make_tested_key(owner, sandbox.account("demo-bedrock"))
    before = key.last_tested_at
    provider_key_update(key=key, actor=owner, inference_profile="us")
    key.refresh_from_db()
    assert key.last_test_status == "ok" and key.last_tested_at > before


def test_credential_change_untested_clears_the_test(owner, sandbox):
    key = make_tested_key(owner, sandbox.account("demo-bedrock"))
    provider_key_update(key=key, actor=owner, credentials=creds(sandbox.account("demo-bedrock-no-opus")),
                        skip_test=True)
    key.refresh_from_db()
    assert key.last_tested_at is None and key.last_test_summary == {}


def test_rename_keeps_the_test(owner, sandbox):
    key = make_tested_key(owner, sandbox.account("demo-bedrock"))
    provider_key_update(key=key, actor=owner, name="Renamed")
    key.refresh_from_db()
    assert key.last_test_status == "ok" and key.last_tested_at is not None
