"""The README's "Try it" fallback walk, checked on every surface against a /v1 call's headers: the console's home
page, the key list, the workspace status and /v1/models say what the next call does, through a fallback (the key's
account loses its models) and the recovery."""

import dataclasses
import time

import pytest

from audit.models import AuditEvent
from byok.providers.base import hint
from tests.byok.console.conftest import signed_in
from tests.byok.routing_helpers import key_for, team, use_platform_account

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = [{"role": "user", "content": "Hello"}]


def serving_row(client) -> str:
    html = client.get("/manage/").content.decode()
    return html.split('class="byok-serving-')[1].split("</tr>")[0]


def standard_model_source(client) -> str:
    listed = client.models.with_raw_response.list().http_response.json()["data"]
    return next(m["byok"]["source"] for m in listed if "bedrock/standard" in m["byok"]["aliases"])


def test_every_surface_follows_the_fallback_and_the_recovery(dataplane, sandbox, settings):
    settings.BYOK_BREAKER_COOLDOWN_SECONDS = 0  # the probe after the fix comes with the next call
    owner, workspace, member = team()
    use_platform_account(settings, sandbox)
    account = sandbox.add_account("bedrock")
    key = key_for(owner, account, name="Demo Bedrock")
    sdk, console = dataplane.openai(member, workspace), signed_in(owner)

    def ask():
        return sdk.chat.completions.with_raw_response.create(model="bedrock/standard", messages=HELLO).headers

    assert ask()["x-byok-source"] == "byok"
    row = serving_row(console)
    assert row.startswith("byok") and f"“Demo Bedrock” <code>{hint(account.access_key_id)}</code>" in row
    assert standard_model_source(sdk) == "byok"

    sandbox.server.add_accounts([dataclasses.replace(account, models=())])  # an IAM policy change at the provider
    headers = ask()
    assert (headers["x-byok-source"], headers["x-byok-fallback-reason"]) == ("platform", "model_access")
    row = serving_row(console)  # within one call of the first fallback
    assert row.startswith("platform") and "platform credentials instead of “Demo Bedrock”" in row
    assert "because your key lost access to the model" in row and "byok retries your key" in row
    assert standard_model_source(sdk) == "platform"
    status = signed_in(member).get(f"/api/v1/workspaces/{workspace.slug}/byok/?family=bedrock").json()
    assert (status["mode"], status["reason"]) == ("platform", "model_access")
    keys = console.get("/manage/byok/providerkey/").content.decode()
    assert "standard calls fall back: your key lost access to the model" in keys
    console.post(f"/manage/byok/providerkey/{key.pk}/test/")  # the owner's Test fails too: the key is marked failing
    assert "lost access to the model" in serving_row(console)

    sandbox.server.add_accounts([account])  # the models are back
    assert ask()["x-byok-source"] == "byok"
    deadline = time.monotonic() + 5  # the data plane closes breakers just after answering
    while not AuditEvent.objects.filter(action="BYOK_RECOVERED").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    recovered = AuditEvent.objects.filter(action="BYOK_RECOVERED")
    assert [e.details["scope"] for e in recovered] == ["key and model"]  # one recovery, one event
    assert AuditEvent.objects.filter(action="FALLBACK_ACTIVATED").count() == 1
    row = serving_row(console)
    assert row.startswith("byok") and "“Demo Bedrock”" in row
    assert standard_model_source(sdk) == "byok"
