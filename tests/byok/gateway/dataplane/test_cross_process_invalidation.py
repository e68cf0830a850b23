"""A data-plane process in another OS process caches resolutions; a write here reaches it through the shared
generation number within the watcher's interval (250 ms), not after the cache's 60 s safety net."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from byok.services.keys import provider_key_disable
from tests.byok.gateway.test_cross_process import database_url
from tests.byok.routing_helpers import key_for, team, use_platform_account
from tests.fixtures.dataplane import DataPlaneServer

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(sandbox, settings):
    """uvicorn in its own process, on the test database and the simulator (as production runs it)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def start():
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONPATH": str(ROOT),
               **{name: url for name, url in sandbox.server.env().items()}, **settings.BYOK_PLATFORM_ENV}
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "byok_project.asgi:application", "--port",
                                    str(port), "--log-level", "warning"], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                return process, f"http://127.0.0.1:{port}"
            except httpx2.HTTPError:
                time.sleep(0.2)
        process.kill()
        raise AssertionError("uvicorn did not start")

    started = []
    yield lambda: started.append(start()) or started[-1][1]
    for process, _ in started:
        process.terminate()
        process.wait(timeout=15)


def test_a_disabled_key_reaches_another_process_within_the_watch_interval(worker, sandbox, settings):
    owner, workspace, member = team()
    key = key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    use_platform_account(settings, sandbox, provider="anthropic")
    url = worker()
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
