"""A data-plane process in another OS process caches resolutions; a write here reaches it through the shared
generation number within the watcher's interval (250 ms), not after the cache's 60 s safety net."""

import time

import httpx2
import pytest

from byok.services.keys import provider_key_disable
from tests.byok.routing_helpers import key_for, team, use_platform_account
from tests.fixtures.dataplane import DataPlaneServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_disabled_key_reaches_another_process_within_the_watch_interval(dataplane_processes, sandbox, settings):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    [server] = dataplane_processes()
    url = server.url
    headers = {"Authorization": f"Bearer {DataPlaneServer.token(member)}"}
    body = {"model": "anthropic/standard", "messages": [{"role": "user", "content": "Hi"}]}
    with httpx2.Client(base_url=url, headers=headers, timeout=30) as client:
        assert client.post("/v1/chat/completions", json=body).headers["x-byok-source"] == "byok"
        assert client.post("/v1/chat/completions", json=body).headers["x-byok-source"] == "byok"  # cached
        provider_key_disable(key=key, actor=owner)
        time.sleep(0.6)  # the watcher reads the shared number every 250 ms
        response = client.post("/v1/chat/completions", json=body)
    assert (response.headers["x-byok-source"], response.headers["x-byok-fallback-reason"]) == \
        ("platform", "key_disabled")
