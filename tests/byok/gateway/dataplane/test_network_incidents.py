"""A network failure on the owner's key (its provider cannot be reached) opens no breaker, but every one is seen: a
WARNING with the request id, a count in /metrics by provider and category, and one incident for the owner — on the
console's home, audited and emailed once, ended when the key serves again."""

import dataclasses
import logging

from django.core import mail
from django.test import Client
from django.utils.html import strip_tags
import openai
import pytest

from audit.models import AuditAction, AuditEvent
from tests.byok.console.conftest import signed_in
from tests.byok.gateway.outages import closed_port
from tests.byok.routing_helpers import MESSAGES, key_for, team, use_platform_account
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

CHAT = {"model": "openai/standard", "messages": MESSAGES, "max_tokens": 50}
METRICS_TOKEN = "metrics-token-for-tests"


def incidents_panel(owner) -> str:
    html = signed_in(owner).get("/manage/").content.decode()
    return " ".join(strip_tags(html.split('id="incidents"', 1)[1].split("</section>", 1)[0]).split())


def key_events(key, action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, target_key_id=key.pk))


def test_an_unreachable_owner_key_is_one_incident_until_it_serves_again(dataplane, sandbox, settings, caplog,
                                                                       ship_audit):
    caplog.set_level(logging.WARNING, logger="byok.gateway.dataplane")
    use_platform_account(settings, sandbox, provider="openai")
    owner, workspace, member = team()
    account = sandbox.add_account("openai", behaviour="disconnect")
    key = key_for(owner, account, provider="openai")
    client = dataplane.openai(member)

    for n in range(3):
        answer = client.chat.completions.with_raw_response.create(
            **CHAT, extra_headers={"X-Request-Id": f"req-unreachable-{n:04}"})
        assert answer.headers["x-byok-source"] == "platform", n  # each call tried the key first, then fell back
        assert answer.headers["x-byok-fallback-reason"] == "network"
        warning = [r for r in caplog.records if f"req-unreachable-{n:04}" in r.getMessage()]
        assert len(warning) == 1 and warning[0].levelno == logging.WARNING
        assert "openai call on byok credentials failed (network" in warning[0].getMessage()

    opened = key_events(key, AuditAction.FALLBACK_ACTIVATED)
    assert len(opened) == 1  # once per incident, not per call
    assert opened[0].details["category"] == "network" and opened[0].details["now_serving"] == "platform credentials"
    assert opened[0].request_id == "req-unreachable-0000"
    panel = incidents_panel(owner)
    assert key.key_hint in panel and "network" in panel and "ongoing" in panel
    ship_audit()
    failing = [m for m in mail.outbox if "is failing" in m.subject]
    assert len(failing) == 1 and owner.email in failing[0].to
    assert "each call tries the key first, then platform credentials" in failing[0].body
    assert account.api_key not in failing[0].body

    sandbox.server.add_accounts([dataclasses.replace(account, behaviour="ok")])  # the provider is reachable again
    answer = client.chat.completions.with_raw_response.create(**CHAT)
    assert answer.headers["x-byok-source"] == "byok"
    wait_until(lambda: key_events(key, AuditAction.BYOK_RECOVERED), timeout=10)
    assert len(key_events(key, AuditAction.FALLBACK_ACTIVATED)) == 1
    panel = incidents_panel(owner)
    assert key.key_hint in panel and "ongoing" not in panel
    key.refresh_from_db()
    assert key.unreachable_since is None and key.failing_since is None


def test_a_refusal_at_a_closed_port_is_logged_counted_and_the_owners_incident(dataplane, sandbox, settings, caplog):
    """Nothing listens where the provider should be: the owner's key and platform credentials both fail."""
    caplog.set_level(logging.WARNING, logger="byok.gateway.dataplane")
    settings.BYOK_METRICS_TOKEN = METRICS_TOKEN
    settings.BYOK_ENDPOINTS = {**settings.BYOK_ENDPOINTS,
                               "BYOK_OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/openai/v1"}
    use_platform_account(settings, sandbox, provider="openai")
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("openai"), provider="openai")

    answer = dataplane.openai(member).chat.completions.with_raw_response.create
    with pytest.raises(openai.APIStatusError) as refused:
        answer(**CHAT, extra_headers={"X-Request-Id": "req-closed-port-0001"})
    assert refused.value.status_code == 502 and refused.value.code == "provider_network"

    lines = [r.getMessage() for r in caplog.records if "req-closed-port-0001" in r.getMessage()
             and r.levelno == logging.WARNING]
    assert [line.split(" (")[0] for line in lines] == ["openai call on byok credentials failed",
                                                       "openai call on platform credentials failed"]
    assert all("(network, code " in line for line in lines)
    scrape = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    for source in ("byok", "platform"):
        counted = [line for line in scrape.splitlines() if line.startswith("byok_llm_calls_total{")
                   and 'outcome="network"' in line and 'provider="openai"' in line and f'source="{source}"' in line]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) >= 1, source
    opened = key_events(key, AuditAction.FALLBACK_ACTIVATED)
    assert [(e.details["category"], e.request_id) for e in opened] == [("network", "req-closed-port-0001")]
