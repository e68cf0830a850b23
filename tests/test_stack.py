"""`make run`'s sandbox environment: platform credentials on the simulator's demo accounts, so that a newcomer sees a
fallback to platform credentials and the recovery without configuring anything."""

import dataclasses
import json

import pytest
from django.core.management import call_command

from accounts.models import User
from audit.models import AuditAction, AuditEvent
from byok.providers.registry import PROVIDERS, endpoint_overrides
from byok.services.connection import connection_test
from byok.simulator.accounts import DEMO_ACCOUNTS_PATH
from byok_project import stack
from byok_project.settings.env import endpoint_settings
from tests.byok.routing_helpers import MESSAGES, key_for, team

DEMO = {a["name"]: a for a in json.loads(DEMO_ACCOUNTS_PATH.read_text())["accounts"]}


def without_platform_env(monkeypatch):
    for name in list(stack.os.environ):
        if name.startswith("PLATFORM_") or name == "BYOK_BREAKER_COOLDOWN_SECONDS":
            monkeypatch.delenv(name)


def test_sandbox_platform_credentials_come_from_demo_accounts(monkeypatch):
    without_platform_env(monkeypatch)
    env = stack.sandbox_platform_env()
    platform = DEMO["demo-platform-bedrock"]
    assert env["PLATFORM_AWS_ACCESS_KEY_ID"] == platform["access_key_id"]
    assert env["PLATFORM_AWS_SECRET_ACCESS_KEY"] == platform["secret_access_key"]
    assert env["PLATFORM_ANTHROPIC_API_KEY"] == DEMO["demo-anthropic"]["api_key"]
    assert env["PLATFORM_OPENAI_API_KEY"] == DEMO["demo-openai"]["api_key"]
    # Reserved: not the account the README's quick start tells owners to add.
    assert platform["access_key_id"] != DEMO["demo-bedrock"]["access_key_id"]
    assert int(env["BYOK_BREAKER_COOLDOWN_SECONDS"]) <= 60


def test_the_environment_wins_per_provider(monkeypatch):
    without_platform_env(monkeypatch)
    monkeypatch.setenv("PLATFORM_AWS_ACCESS_KEY_ID", "AKIAREALREALREAL0000")
    monkeypatch.setenv("BYOK_BREAKER_COOLDOWN_SECONDS", "300")
    env = stack.sandbox_platform_env()
    assert "PLATFORM_AWS_ACCESS_KEY_ID" not in env and "PLATFORM_AWS_SECRET_ACCESS_KEY" not in env
    assert "BYOK_BREAKER_COOLDOWN_SECONDS" not in env and "PLATFORM_OPENAI_API_KEY" in env


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop
def test_a_failing_demo_key_falls_back_to_the_sandbox_platform_and_recovers(sandbox, settings, client_for,
                                                                           monkeypatch):
    without_platform_env(monkeypatch)
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in stack.sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    settings.BYOK_BREAKER_COOLDOWN_SECONDS = 0
    owner, workspace, member = team()
    account = sandbox.add_account("bedrock")
    key_for(owner, account)

    def call():
        response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                           {"messages": MESSAGES}, format="json")
        assert response.status_code == 200, response.json()
        assert type(response["X-BYOK-Source"]) is str  # runserver's wsgiref refuses an enum (500 under make run)
        return response.json()["source"]

    assert call() == "byok"
    # The provider takes the model away from the owner's account (an IAM policy change, say).
    sandbox.server.add_accounts([dataclasses.replace(account, models=())])
    assert call() == "platform"
    assert "demo-platform-bedrock" in sandbox.server.stats()["by_account"]
    assert AuditEvent.objects.filter(action=AuditAction.FALLBACK_ACTIVATED).exists()
    sandbox.server.add_accounts([account])  # mended
    assert call() == "byok"
    assert AuditEvent.objects.filter(action=AuditAction.BYOK_RECOVERED).exists()


# --- every provider under `make run` ------------------------------------------------------------------------------

@pytest.fixture
def make_run(sim, settings, monkeypatch):
    """Configure byok as `make run`'s web and worker processes are: the environment stack.py gives them (sandbox mode,
    the simulator on this test's port), read the way the settings read it, and seed_demo's users. Variables given
    are set first, as a person would export them before `make run`."""
    without_platform_env(monkeypatch)
    for name in endpoint_overrides():
        monkeypatch.delenv(name, raising=False)

    def configure(**exported):
        for name, value in exported.items():
            monkeypatch.setenv(name, value)
        sandbox = not stack.real_endpoints_configured()
        assert sandbox
        env = stack.process_env(sandbox=sandbox, simulator_url=sim.url)
        settings.BYOK_ENDPOINTS = endpoint_settings(env)
        settings.BYOK_PLATFORM_ENV = {name: value for name, value in env.items() if name.startswith("PLATFORM_")}
        settings.BYOK_BREAKER_COOLDOWN_SECONDS = int(env["BYOK_BREAKER_COOLDOWN_SECONDS"])
        call_command("seed_demo", verbosity=0)
        return env

    return configure


def demo_account_name(provider: str) -> str:
    """The demo account of each provider that works: demo-bedrock, demo-bedrock-api-key, demo-groq, …"""
    return "demo-" + provider.replace("_", "-")


def demo_credentials(provider: str, account: dict, sim) -> dict:
    """What a person types into byok for a demo account (README: Provider simulator)."""
    if provider == "bedrock":
        return {"access_key_id": account["access_key_id"], "secret_access_key": account["secret_access_key"]}
    if provider == "bedrock_api_key":
        return {"api_key": account["api_key"], "region": account["region"]}
    if provider == "bedrock_role":
        return {"role_arn": f"arn:aws:iam::{account['account_id']}:role/byok-bedrock"}
    if provider == "vertex":
        return {"service_account_json": sim.server.vertex_service_account_json(account["name"]), "location": "global"}
    return {"api_key": account["api_key"]}


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_provider_has_a_sandbox_endpoint_a_simulator_route_and_a_demo_account(provider, make_run, sim):
    spec = PROVIDERS[provider]
    env = make_run()  # role keys too: the demo roles trust make run's own platform account
    assert spec.endpoints
    for declared in spec.endpoints:
        assert env[declared.setting] == sim.url + declared.simulator_path
    # make run's simulator (run_provider_simulator) serves the demo accounts file, as the `sim` fixture's does.
    name = demo_account_name(provider)
    assert name in DEMO and sim.account(name).name == name
    olivia = User.objects.get(username="olivia")
    result = connection_test(provider=provider, credentials=spec.credentials(demo_credentials(provider, DEMO[name], sim)),
                             inference_profile=spec.default_inference_profile, actor=None, owner_id=olivia.pk)
    assert result.ok, result.as_dict()
    assert name in sim.server.stats()["by_account"]  # answered by the simulator, not the provider


@pytest.mark.django_db(transaction=True)
def test_the_readme_demo_groq_account_tests_saves_and_answers_under_make_run(make_run, sim, client_for, dataplane):
    make_run()
    olivia, mark = User.objects.get(username="olivia"), User.objects.get(username="mark")
    response = client_for(olivia).post("/api/v1/provider-keys/", {
        "provider": "groq", "name": "Groq", "credentials": {"api_key": DEMO["demo-groq"]["api_key"]}}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["last_test"]["status"] == "ok"

    call = client_for(mark).post("/api/v1/workspaces/acme/completions/", {"messages": MESSAGES, "provider": "groq"},
                                 format="json")
    assert call.status_code == 200, call.json()
    body = call.json()
    assert (body["source"], body["provider"]) == ("byok", "groq") and body["output"]
    assert body["usage"]["output_tokens"] > 0
    # The same key through the data plane, with a workspace API key and the official OpenAI SDK.
    raw = dataplane.openai(mark).chat.completions.with_raw_response.create(model="groq/standard", messages=MESSAGES)
    assert raw.headers["x-byok-source"] == "byok" and raw.headers["x-byok-provider"] == "groq"
    assert raw.parse().choices[0].message.content
    assert sim.server.stats()["by_account"]["demo-groq"] == {"groq.ListModels": 1, "groq.ChatCompletions": 2}


@pytest.mark.django_db
def test_the_iam_role_demo_works_with_the_sandbox_platform_account(sandbox, settings, monkeypatch):
    """The console's trust policy names the account of `make run`'s platform credentials, the demo role trusts that
    same account, and olivia's role key passes its test with nothing else configured."""
    from django.core.management import call_command

    from accounts.models import User
    from byok.providers.registry import PROVIDERS
    from byok.services.keys import provider_key_create
    from byok.services.roles import platform_aws_account_id

    without_platform_env(monkeypatch)
    settings.BYOK_PLATFORM_ENV = {k: v for k, v in stack.sandbox_platform_env().items() if k.startswith("PLATFORM_")}
    settings.BYOK_PLATFORM_AWS_ACCOUNT_ID = ""
    call_command("seed_demo")
    trusted = {role["trusted_account"] for role in DEMO["demo-bedrock-role"]["roles"]
               if role["name"] != "byok-bedrock-untrusted"}
    assert platform_aws_account_id(PROVIDERS["bedrock_role"]) == DEMO["demo-platform-bedrock"]["account_id"]
    assert trusted == {DEMO["demo-platform-bedrock"]["account_id"]}
    key = provider_key_create(owner=User.objects.get(username="olivia"), provider="bedrock_role", name="Role demo",
                              credentials={"role_arn": "arn:aws:iam::210987654321:role/byok-bedrock"})
    assert key.last_test_status == "ok"
