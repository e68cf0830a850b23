"""Connection tests through the real SDKs against the provider simulator: every provider, every failure class."""

import time

import pytest

from audit.models import AuditEvent
from byok.models import ProviderKey
from byok.providers.registry import PROVIDERS
from byok.services.connection import connection_test
from byok.services.keys import provider_key_create
from tests.byok.routing_helpers import regional_set
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
BEARER_PROVIDERS = ["anthropic", "openai", "mistral", "deepseek", "xai", "zai", "groq"]


def creds_for(provider, account, **extra):
    if provider == "bedrock":
        values = {"access_key_id": account.access_key_id, "secret_access_key": account.secret_access_key}
        if account.session_token:
            values["session_token"] = account.session_token
    elif provider == "bedrock_api_key":
        values = {"api_key": account.api_key, "region": account.region}
    else:
        values = {"api_key": account.api_key}
    return PROVIDERS[provider].credentials({**values, **extra})


def run(sandbox, provider, profile="", **account_fields):
    account = sandbox.add_account(provider, **account_fields)
    return connection_test(provider=provider, credentials=creds_for(provider, account),
                           inference_profile=profile or ("global" if provider.startswith("bedrock") else ""),
                           actor=None, owner_id=0)


def checks(result):
    return {c.name: (c.ok, c.category) for c in result.checks}


def test_bedrock_success_checks_identity_session_and_both_models(sandbox):
    result = run(sandbox, "bedrock", "eu", account_id="444455556666")
    assert result.ok and result.category is None
    assert result.account == "444455556666"
    assert checks(result) == {
        "sts:GetCallerIdentity": (True, None), "sts:GetSessionToken": (True, None),
        "model:standard": (True, None), "model:complex": (True, None),
    }
    models = {c.target for c in result.checks if c.name.startswith("model:")}
    assert models == {"eu." + SONNET, "eu.anthropic.claude-opus-4-5-20251101-v1:0"}
    assert {c.region for c in result.checks} == {"eu-central-1"}


def test_bedrock_wrong_secret_is_invalid_credentials(sandbox):
    account = sandbox.add_account("bedrock")
    wrong = PROVIDERS["bedrock"].credentials({"access_key_id": account.access_key_id, "secret_access_key": "x" * 40})
    result = connection_test(provider="bedrock", credentials=wrong, inference_profile="global", actor=None, owner_id=0)
    assert not result.ok
    assert result.category == "invalid_credentials"
    assert "IAM console" in result.hint
    assert "x" * 40 not in str(result.as_dict())


def test_bedrock_expired_session_token(sandbox):
    result = run(sandbox, "bedrock", session_token="FwoGZXIvYXdzEXAMPLEtoken1234567890", behaviour="expired")
    assert result.category == "expired"
    assert "cannot be refreshed" in result.hint


def test_bedrock_sonnet_ok_opus_model_access(sandbox):
    result = run(sandbox, "bedrock", models=[SONNET])
    assert not result.ok
    assert checks(result)["model:standard"] == (True, None)
    assert checks(result)["model:complex"] == (False, "model_access")
    assert result.category == "model_access"
    assert "use-case form" in result.hint


def test_bedrock_missing_session_token_permission_names_the_policy_line(sandbox):
    result = run(sandbox, "bedrock", sts_get_session_token=False)
    assert checks(result)["sts:GetSessionToken"] == (False, "permission_denied")
    assert result.category == "permission_denied"
    assert "sts:GetSessionToken" in result.hint


@pytest.mark.parametrize("behaviour, category", [("throttled", "rate_limited"), ("server_error", "provider_unavailable"),
                                                 ("unavailable", "provider_unavailable")])
@pytest.mark.parametrize("provider", ["bedrock", "bedrock_api_key", *BEARER_PROVIDERS])
def test_every_provider_maps_provider_trouble(sandbox, provider, behaviour, category):
    result = run(sandbox, provider, behaviour=behaviour)
    assert not result.ok
    assert result.category == category, result.as_dict()
    assert result.hint


@pytest.mark.parametrize("provider", ["bedrock_api_key", *BEARER_PROVIDERS])
def test_every_bearer_provider_success_and_model_list(sandbox, provider):
    result = run(sandbox, provider)
    assert result.ok, result.as_dict()
    if provider != "bedrock_api_key":
        from byok.providers.registry import get_provider

        assert set(get_provider(provider).models.values()) <= set(result.models)


@pytest.mark.parametrize("provider", ["bedrock_api_key", *BEARER_PROVIDERS])
def test_every_bearer_provider_wrong_key_is_invalid_credentials(sandbox, provider):
    account = sandbox.add_account(provider)
    good = creds_for(provider, account)
    wrong_key = good["api_key"][:-4] + ("AAAA" if not good["api_key"].endswith("AAAA") else "BBBB")
    result = connection_test(provider=provider, credentials=PROVIDERS[provider].credentials({**good, "api_key": wrong_key}),
                             inference_profile="global" if provider == "bedrock_api_key" else "", actor=None, owner_id=0)
    assert result.category == "invalid_credentials", result.as_dict()
    assert wrong_key not in str(result.as_dict())


@pytest.mark.parametrize("provider", ["bedrock_api_key", *BEARER_PROVIDERS])
def test_every_bearer_provider_expired_key(sandbox, provider):
    assert run(sandbox, provider, behaviour="expired").category == "expired"


@pytest.mark.parametrize("provider", ["bedrock_api_key", *BEARER_PROVIDERS])
def test_every_bearer_provider_reports_a_model_without_access(sandbox, provider):
    from byok.providers.registry import get_provider

    spec = get_provider(provider)
    result = run(sandbox, provider, models=[spec.models["standard"]])
    assert checks(result)["model:standard"] == (True, None)
    assert checks(result)["model:complex"] == (False, "model_access")


@pytest.mark.parametrize("provider", ["bedrock", "bedrock_api_key", *BEARER_PROVIDERS])
def test_every_provider_times_out_with_a_timeout_category(sandbox, settings, provider):
    settings.BYOK_CONNECTION_TEST_TIMEOUT = 0.2
    result = run(sandbox, provider, latency_ms=600)
    assert result.category == "timeout", result.as_dict()


def test_bedrock_checks_run_concurrently(sandbox):
    started = time.perf_counter()
    result = run(sandbox, "bedrock", latency_ms=300)
    elapsed = time.perf_counter() - started
    assert result.ok
    assert len(result.checks) == 4
    assert elapsed < 1.0, f"took {elapsed:.2f}s: the 4 checks did not overlap"  # one after another: at least 1.2 s


def test_regional_credential_sets_are_each_tested_in_their_region(sandbox):
    main = sandbox.add_account("bedrock")
    regional = sandbox.add_account("bedrock", models=[SONNET])
    creds = creds_for("bedrock", main, regional=[{
        "regions": ["eu-west-1"], "access_key_id": regional.access_key_id,
        "secret_access_key": regional.secret_access_key}])
    result = connection_test(provider="bedrock", credentials=creds, inference_profile="eu", actor=None, owner_id=0)
    assert checks(result)["model:standard@eu-west-1"] == (True, None)
    assert checks(result)["model:complex@eu-west-1"] == (False, "model_access")
    assert {c.region for c in result.checks if c.name.endswith("@eu-west-1")} == {"eu-west-1"}
    assert sandbox.calls("bedrock.Converse").get(regional.access_key_id) == 2


def test_a_long_term_regional_set_is_checked_for_session_tokens_like_the_main_set(sandbox):
    main = sandbox.add_account("bedrock")
    no_sts = sandbox.add_account("bedrock", sts_get_session_token=False)
    temporary = sandbox.add_account("bedrock", session_token="IQoJb3JpZ2luX2VjEXAMPLETOKEN0123")
    creds = creds_for("bedrock", main, regional=[regional_set(no_sts, "eu-west-1"),
                                                 regional_set(temporary, "eu-west-2")])
    result = connection_test(provider="bedrock", credentials=creds, inference_profile="eu", actor=None, owner_id=0)
    assert (result.ok, result.category) == (False, "permission_denied")
    assert checks(result)["sts:GetSessionToken@eu-west-1"] == (False, "permission_denied")
    [check] = [c for c in result.checks if c.name == "sts:GetSessionToken@eu-west-1"]
    assert check.region == "eu-west-1" and "sts:GetSessionToken" in check.hint
    assert "sts:GetSessionToken@eu-west-2" not in checks(result)  # temporary credentials: no sessions to obtain
    assert sandbox.calls("sts.GetSessionToken") == {main.access_key_id: 1, no_sts.access_key_id: 1}


def test_sts_checks_pass_against_moto_server(moto_sts, settings):
    settings.BYOK_ENDPOINTS = {"BYOK_STS_ENDPOINT_URL": moto_sts}
    credentials = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
    results = {c.name: c for c in PROVIDERS["bedrock"].check(PROVIDERS["bedrock"].credentials(credentials),
                                                             inference_profile="us")}
    assert results["sts:GetCallerIdentity"].ok and results["sts:GetCallerIdentity"].detail["account"]
    assert results["sts:GetSessionToken"].ok


# --- the entry points ----------------------------------------------------------------------------------------

def api_body(provider, account, **extra):
    return {"provider": provider, "name": f"{provider} key", "credentials": dict(creds_for(provider, account)), **extra}


def test_create_tests_before_saving_and_stores_nothing_on_failure(sandbox, client_for):
    owner = BusinessUserFactory()
    account = sandbox.add_account("bedrock", models=[SONNET])
    response = client_for(owner).post("/api/v1/provider-keys/", api_body("bedrock", account), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "connection_test_failed"
    assert error["test"]["category"] == "model_access"
    assert {c["name"]: c["ok"] for c in error["test"]["checks"]}["model:standard"] is True
    assert not ProviderKey.objects.exists()
    assert account.secret_access_key not in response.content.decode()


def test_create_with_working_credentials_is_saved(sandbox, client_for):
    owner = BusinessUserFactory()
    account = sandbox.add_account("anthropic")
    response = client_for(owner).post("/api/v1/provider-keys/", api_body("anthropic", account), format="json")
    assert response.status_code == 201, response.json()


def test_unsaved_credentials_test_endpoint_returns_the_result(sandbox, client_for):
    account = sandbox.add_account("openai")
    body = {"provider": "openai", "credentials": {"api_key": account.api_key}}
    response = client_for(BusinessUserFactory()).post("/api/v1/provider-keys/test/", body, format="json")
    assert response.status_code == 200
    data = response.json()
    assert data["valid"] is True and data["error"] is None and "gpt-5" in data["models"]
    assert not ProviderKey.objects.exists()


def test_stored_key_test_keeps_the_result_and_audits_it(sandbox, client_for):
    from byok.services.keys import provider_key_create

    owner = BusinessUserFactory()
    account = sandbox.add_account("bedrock")
    key = provider_key_create(owner=owner, provider="bedrock", name="k", credentials=creds_for("bedrock", account))
    sandbox.server.add_accounts([account.__class__(**{**account.__dict__, "models": (SONNET,)})])
    response = client_for(owner).post(f"/api/v1/provider-keys/{key.pk}/test-connection/")
    assert response.status_code == 200
    assert response.json()["category"] == "model_access"
    key.refresh_from_db()
    assert key.last_test_status == "failed"
    assert key.last_test_summary["category"] == "model_access"
    assert key.status == "failing"
    event = AuditEvent.objects.filter(action="CONNECTION_TESTED").get()
    assert event.details == {"ok": False, "category": "model_access", "account": "111122223333"}
    assert client_for(BusinessUserFactory()).post(f"/api/v1/provider-keys/{key.pk}/test-connection/").status_code == 404


@pytest.mark.usefixtures("whole_minute_ahead")
def test_connection_tests_are_throttled_per_user_with_retry_after(sandbox, client_for, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "3/min"
    account = sandbox.add_account("openai")
    client = client_for(BusinessUserFactory())
    body = {"provider": "openai", "credentials": {"api_key": account.api_key}}
    statuses = [client.post("/api/v1/provider-keys/test/", body, format="json").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    last = client.post("/api/v1/provider-keys/test/", body, format="json")
    assert last.json()["error"]["code"] == "throttled"
    assert 1 <= int(last["Retry-After"]) <= 60
    assert sandbox.calls("openai.ListModels") == {account.name: 3}


@pytest.mark.usefixtures("whole_minute_ahead")
def test_creating_a_key_through_the_api_is_throttled_like_the_console(sandbox, client_for, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "1/min"
    owner = BusinessUserFactory()
    client = client_for(owner)
    accounts = [sandbox.add_account("openai") for _ in range(3)]
    statuses = [client.post("/api/v1/provider-keys/", {
        "provider": "openai", "name": f"key {index}", "credentials": {"api_key": account.api_key},
        "scope": "selected", "workspaces": [WorkspaceFactory(owner=owner).slug]}, format="json")
        for index, account in enumerate(accounts)]
    assert [r.status_code for r in statuses] == [201, 429, 429]
    assert statuses[1].json()["error"]["code"] == "throttled" and int(statuses[1]["Retry-After"]) >= 1
    assert ProviderKey.objects.filter(owner=owner).count() == 1  # nothing stored when throttled
    assert sum(sandbox.calls("openai.ListModels").values()) == 1


@pytest.mark.usefixtures("whole_minute_ahead")
def test_changing_credentials_through_the_api_is_throttled(sandbox, client_for, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "1/min"
    owner = BusinessUserFactory()
    key = provider_key_create(owner=owner, provider="openai", name="k",
                              credentials={"api_key": sandbox.add_account("openai").api_key}, skip_test=True)
    client = client_for(owner)
    replacements = [sandbox.add_account("openai").api_key for _ in range(2)]
    statuses = [client.patch(f"/api/v1/provider-keys/{key.pk}/", {"credentials": {"api_key": api_key}},
                             format="json").status_code for api_key in replacements]
    assert statuses == [200, 429]
    assert client.patch(f"/api/v1/provider-keys/{key.pk}/", {"name": "renamed"}, format="json").status_code == 200


def test_rotating_through_the_api_is_throttled(sandbox, client_for, settings):
    settings.BYOK_CONNECTION_TEST_RATE = "1/min"
    owner = BusinessUserFactory()
    key = provider_key_create(owner=owner, provider="openai", name="k",
                              credentials={"api_key": sandbox.add_account("openai").api_key}, skip_test=True)
    client = client_for(owner)
    statuses = [client.post(f"/api/v1/provider-keys/{key.pk}/rotate/",
                            {"credentials": {"api_key": sandbox.add_account("openai").api_key}},
                            format="json").status_code for _ in range(2)]
    assert statuses == [200, 429]
    key.refresh_from_db()
    assert key.rotated_at is not None


def test_free_plan_cannot_use_the_unsaved_test_endpoint(sandbox, client_for):
    body = {"provider": "openai", "credentials": {"api_key": "sk-proj-" + "a" * 40}}
    response = client_for(UserFactory()).post("/api/v1/provider-keys/test/", body, format="json")
    assert response.status_code == 403


def test_check_provider_key_command(sandbox):
    from io import StringIO

    from django.core.management import CommandError, call_command

    from byok.services.keys import provider_key_create

    owner = BusinessUserFactory()
    account = sandbox.add_account("bedrock")
    key = provider_key_create(owner=owner, provider="bedrock", name="k", credentials=creds_for("bedrock", account))
    out = StringIO()
    call_command("check_provider_key", str(key.pk), stdout=out)
    assert "OK" in out.getvalue() and "✓ model:complex" in out.getvalue()
    with pytest.raises(CommandError, match="No provider key with id 999999"):
        call_command("check_provider_key", "999999")
