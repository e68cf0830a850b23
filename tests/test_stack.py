"""`make run`'s sandbox environment: platform credentials on the simulator's demo accounts, so that a newcomer sees a
fallback to platform credentials and the recovery without configuring anything."""

import dataclasses
import json

import pytest

from audit.models import AuditAction, AuditEvent
from byok.simulator.accounts import DEMO_ACCOUNTS_PATH
from byok_project import stack
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
    # Reserved: not the account the README tells owners to add.
    assert platform["access_key_id"] != DEMO["demo-bedrock"]["access_key_id"]
    assert int(env["BYOK_BREAKER_COOLDOWN_SECONDS"]) <= 60


def test_the_environment_wins_per_provider(monkeypatch):
    without_platform_env(monkeypatch)
    monkeypatch.setenv("PLATFORM_AWS_ACCESS_KEY_ID", "AKIAREALREALREAL0000")
    monkeypatch.setenv("BYOK_BREAKER_COOLDOWN_SECONDS", "300")
    env = stack.sandbox_platform_env()
    assert "PLATFORM_AWS_ACCESS_KEY_ID" not in env and "PLATFORM_AWS_SECRET_ACCESS_KEY" not in env
    assert "BYOK_BREAKER_COOLDOWN_SECONDS" not in env and "PLATFORM_OPENAI_API_KEY" in env


@pytest.mark.django_db
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
