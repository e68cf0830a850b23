"""The member gateway's cost: added latency over a direct SDK call, and throughput of one worker process.

Production set-up: gunicorn, one worker process (gthread), production settings, the simulator in its own process
answering instantly. Latency: sequential pairs, interleaved (SDK straight to the simulator, then the same call
through POST /api/v1/workspaces/{slug}/completions/); the added latency is the per-pair difference.
Throughput: 16 concurrent clients for a fixed time.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench._support import database_url, django_setup, percentiles, throwaway_database
from byok.providers.anthropic import CLAUDE_MODELS  # the standard tier's code default, as the gateway calls it

ROOT = Path(__file__).resolve().parent.parent
PAIRS = int(os.environ.get("BENCH_GATEWAY_PAIRS", 1000))
CONCURRENCY = int(os.environ.get("BENCH_GATEWAY_CLIENTS", 16))
THROUGHPUT_SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", 10))
WORKER_THREADS = int(os.environ.get("BENCH_GATEWAY_THREADS", 4))
WORKER_CLASS = os.environ.get("BENCH_GATEWAY_WORKER_CLASS", "gthread")  # or sync
MESSAGES = [{"role": "user", "content": "Say hello."}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> None:
    import httpx2

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    django_setup()
    import anthropic
    import httpx2
    from django.conf import settings
    from django.db import connection

    demo = {a["name"]: a for a in json.loads((ROOT / "byok/simulator/demo_accounts.json").read_text())["accounts"]}
    api_key = demo["demo-anthropic"]["api_key"]
    with throwaway_database("gateway"):
        token, slug = _team(api_key)
        simulator_port, gateway_port = _free_port(), _free_port()
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        env = {
            **os.environ, "DATABASE_URL": database_url(), "DJANGO_ENV": "production", "DEBUG": "false",
            "SECRET_KEY": "bench-" + "s" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
            "BYOK_ENCRYPTION_KEYS": ",".join(settings.BYOK_ENCRYPTION_KEYS), "LOG_LEVEL": "WARNING",
            "BYOK_ANTHROPIC_BASE_URL": f"{simulator_url}/anthropic", "PYTHONPATH": str(ROOT),
        }
        processes = [
            subprocess.Popen([sys.executable, "manage.py", "run_provider_simulator", "--port", str(simulator_port)],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            subprocess.Popen([sys.executable, "-m", "gunicorn", "byok_project.wsgi", "--workers", "1",
                              "--worker-class", WORKER_CLASS, "--threads", str(WORKER_THREADS),
                              "--bind", f"127.0.0.1:{gateway_port}", "--log-level", "warning"],
                             cwd=ROOT, env=env),
        ]
        try:
            _wait_for(f"{simulator_url}/_simulator/stats")
            _wait_for(f"http://127.0.0.1:{gateway_port}/healthz")
            gateway_url = f"http://127.0.0.1:{gateway_port}/api/v1/workspaces/{slug}/completions/"
            headers = {"Authorization": f"Token {token}"}
            direct = anthropic.Anthropic(api_key=api_key, base_url=f"{simulator_url}/anthropic", max_retries=0)
            gateway = httpx2.Client(headers=headers, timeout=30)
            body = {"messages": MESSAGES, "provider": "anthropic", "max_tokens": 64}

            def call_direct():
                direct.messages.create(model=CLAUDE_MODELS["standard"], max_tokens=64, messages=MESSAGES)

            def call_gateway(client=gateway):
                response = client.post(gateway_url, json=body)
                assert response.status_code == 200 and response.headers["X-BYOK-Source"] == "byok", response.text

            for _ in range(50):  # warm both paths: connections, client caches
                call_direct()
                call_gateway()
            differences, direct_ms, gateway_ms = [], [], []
            for _ in range(PAIRS):
                started = time.perf_counter()
                call_direct()
                middle = time.perf_counter()
                call_gateway()
                ended = time.perf_counter()
                direct_ms.append((middle - started) * 1000)
                gateway_ms.append((ended - middle) * 1000)
                differences.append(gateway_ms[-1] - direct_ms[-1])
            d, g, added = percentiles(direct_ms), percentiles(gateway_ms), percentiles(differences)
            print(f"gateway on {connection.vendor}, {PAIRS} interleaved pairs: direct SDK p50 {d['p50']:.2f} ms "
                  f"p99 {d['p99']:.2f} ms; through the gateway p50 {g['p50']:.2f} ms p99 {g['p99']:.2f} ms; "
                  f"added p50 {added['p50']:.2f} ms, p99 {added['p99']:.2f} ms", flush=True)

            counts, stop = [0] * CONCURRENCY, threading.Event()

            def client_loop(index: int) -> None:
                with httpx2.Client(headers=headers, timeout=30) as own:
                    while not stop.is_set():
                        call_gateway(own)
                        counts[index] += 1

            threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CONCURRENCY)]
            for thread in threads:
                thread.start()
            time.sleep(THROUGHPUT_SECONDS)
            stop.set()
            for thread in threads:
                thread.join()
            print(f"throughput: {sum(counts) / THROUGHPUT_SECONDS:.0f} requests/s with {CONCURRENCY} concurrent "
                  f"clients, one gunicorn worker process ({WORKER_CLASS}, {WORKER_THREADS} threads)")
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=10)


def _team(api_key: str) -> tuple[str, str]:
    from accounts.models import User
    from accounts.services import api_token_create, membership_add, workspace_create
    from byok.services.keys import provider_key_create

    owner = User.objects.create(username="bench-owner", plan_id="business")
    member = User.objects.create(username="bench-member")
    workspace = workspace_create(owner=owner, name="Bench")
    membership_add(workspace=workspace, user=member, actor=owner)
    provider_key_create(owner=owner, provider="anthropic", name="main", credentials={"api_key": api_key},
                        skip_test=True)
    return api_token_create(user=member, name="bench", actor=member)[1], workspace.slug
