"""The data plane's cost, side by side with a direct call to the same simulator upstream, on one uvicorn worker.

Set-up: the simulator in its own process; `uvicorn byok_project.asgi:application` with one worker (uvloop,
httptools), production settings, a throwaway database; an owner's OpenAI key on a simulated account. The client
is the same httpx2 client for both paths (direct: POST {simulator}/openai/v1/chat/completions; through the data
plane: POST /v1/chat/completions with model openai/gpt-5-mini), so the difference is what the data plane adds.

Figures (each of 3 repeats): added latency p50/p99 (interleaved sequential pairs), throughput at 16 concurrent
clients, 1,000 calls kept in flight against an upstream with 1 s latency (share of the ideal 1,000 req/s, errors), streaming
time-to-first-token added, and the worker's RSS. Plus, once: Django async view vs the lean ASGI app, in-process.
"""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench._support import database_url, django_setup, percentiles, throwaway_database
from bench.bench_gateway import _free_port, _wait_for

ROOT = Path(__file__).resolve().parent.parent
REPEATS = int(os.environ.get("BENCH_DP_REPEATS", 3))
PAIRS = int(os.environ.get("BENCH_DP_PAIRS", 500))
CLIENTS = int(os.environ.get("BENCH_DP_CLIENTS", 16))
SECONDS = float(os.environ.get("BENCH_DP_SECONDS", 5))
SLOW_CALLS = int(os.environ.get("BENCH_DP_SLOW_CALLS", 1000))
SLOW_SECONDS = float(os.environ.get("BENCH_DP_SLOW_SECONDS", 10))
LOCKSTEP = os.environ.get("BENCH_DP_LOCKSTEP") == "1"
UPSTREAM_LATENCY = 1.0  # seconds: the stub upstream's answer time (bench._stub_upstream's argument below)
STREAM_PAIRS = int(os.environ.get("BENCH_DP_STREAM_PAIRS", 200))
MESSAGES = [{"role": "user", "content": "Say hello."}]
MODEL = "gpt-5-mini"


def main() -> None:
    django_setup()
    from django.conf import settings

    from byok.simulator.accounts import new_account

    fast = new_account("openai", name="bench-fast")
    with throwaway_database("data_plane"):
        fast_token, stub_token = _teams(fast.api_key)
        simulator_port, port, stub_port = _free_port(), _free_port(), _free_port()
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        env = {
            **os.environ, "DATABASE_URL": database_url(), "DJANGO_ENV": "production", "DEBUG": "false",
            "SECRET_KEY": "bench-" + "s" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
            "BYOK_ENCRYPTION_KEYS": ",".join(settings.BYOK_ENCRYPTION_KEYS), "LOG_LEVEL": "WARNING",
            "BYOK_OPENAI_BASE_URL": f"{simulator_url}/openai/v1", "PYTHONPATH": str(ROOT),
            "BYOK_MISTRAL_BASE_URL": f"http://127.0.0.1:{stub_port}/v1",
        }
        stub = subprocess.Popen([sys.executable, "-m", "bench._stub_upstream", str(stub_port),
                                 str(UPSTREAM_LATENCY)], cwd=ROOT, env=env)
        simulator = subprocess.Popen([sys.executable, "manage.py", "run_provider_simulator", "--port",
                                      str(simulator_port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        worker = subprocess.Popen([sys.executable, "-m", "uvicorn", "byok_project.asgi:application", "--port",
                                   str(port), "--workers", "1", "--loop", "uvloop", "--http", "httptools",
                                   "--no-access-log", "--log-level", "warning", "--backlog", "4096"],
                                  cwd=ROOT, env=env)
        try:
            _wait_for(f"{simulator_url}/_simulator/stats")
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            import httpx2

            httpx2.post(f"{simulator_url}/_simulator/accounts",
                        json={"accounts": [_account_json(fast)]}).raise_for_status()
            bench = Bench(simulator_url, f"http://127.0.0.1:{port}", fast, fast_token)
            bench.stub_url, bench.stub_token = f"http://127.0.0.1:{stub_port}/v1/chat/completions", stub_token
            bench.worker_pid = worker.pid
            for repeat in range(1, REPEATS + 1):
                print(f"-- repeat {repeat}/{REPEATS}", flush=True)
                bench.latency()
                asyncio.run(bench.throughput())
                asyncio.run(bench.concurrency())
                bench.streaming()
                print(f"worker RSS: {_rss_mb(worker.pid):.0f} MB", flush=True)
        finally:
            for process in (worker, simulator, stub):
                process.terminate()
                process.wait(timeout=15)
    django_vs_lean()


class Bench:
    def __init__(self, simulator_url, url, fast, fast_token) -> None:
        self.direct_url = f"{simulator_url}/openai/v1/chat/completions"
        self.url = f"{url}/v1/chat/completions"
        self.fast, self.fast_token = fast, fast_token

    def _direct(self, account, stream=False):
        return self.direct_url, {"Authorization": f"Bearer {account.api_key}"}, \
            {"model": MODEL, "messages": MESSAGES, "stream": stream}

    def _gateway(self, token, stream=False):
        return self.url, {"Authorization": f"Bearer {token}"}, \
            {"model": f"openai/{MODEL}", "messages": MESSAGES, "stream": stream}

    def latency(self) -> None:
        import httpx2

        with httpx2.Client(timeout=30) as client:
            direct, gateway = self._direct(self.fast), self._gateway(self.fast_token)

            def call(target):
                url, headers, body = target
                response = client.post(url, headers=headers, json=body)
                assert response.status_code == 200, response.text

            for _ in range(100):
                call(direct)
                call(gateway)
            differences, direct_ms, gateway_ms = [], [], []
            for _ in range(PAIRS):
                started = time.perf_counter()
                call(direct)
                middle = time.perf_counter()
                call(gateway)
                ended = time.perf_counter()
                direct_ms.append((middle - started) * 1000)
                gateway_ms.append((ended - middle) * 1000)
                differences.append(gateway_ms[-1] - direct_ms[-1])
        d, g, added = percentiles(direct_ms), percentiles(gateway_ms), percentiles(differences)
        print(f"latency, {PAIRS} interleaved pairs: direct p50 {d['p50']:.2f} ms p99 {d['p99']:.2f} ms; data plane "
              f"p50 {g['p50']:.2f} ms p99 {g['p99']:.2f} ms; added p50 {added['p50']:.2f} ms (target <= 1), "
              f"p99 {added['p99']:.2f} ms (target <= 3)", flush=True)

    async def throughput(self) -> None:
        import httpx2

        url, headers, body = self._gateway(self.fast_token)
        count, errors = [0], [0]
        deadline = time.monotonic() + SECONDS

        async def client_loop(client):
            while time.monotonic() < deadline:
                response = await client.post(url, headers=headers, json=body)
                if response.status_code == 200:
                    count[0] += 1
                else:
                    errors[0] += 1

        async with httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=CLIENTS)) as client:
            cpu = _cpu_seconds(self.worker_pid)
            started = time.monotonic()
            await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
            elapsed = time.monotonic() - started
            cpu = _cpu_seconds(self.worker_pid) - cpu
        print(f"throughput: {count[0] / elapsed:.0f} req/s with {CLIENTS} concurrent clients, one worker "
              f"(target >= 500), {errors[0]} errors; worker CPU {cpu * 1000 / max(1, count[0]):.2f} ms per call "
              f"(a worker with a core of its own: ~{count[0] / max(cpu, 1e-9):.0f} req/s)", flush=True)

    async def concurrency(self) -> None:
        """SLOW_CALLS calls kept in flight against an upstream that answers after 1 s: direct, then through the data
        plane. On the asyncio stub upstream: the simulator's thread-per-connection server cannot hold 1,000 open
        connections itself."""
        body = {"model": "mistral-medium-latest", "messages": MESSAGES}
        await self._in_flight("stub upstream, direct", self.stub_url, {"Authorization": "Bearer x"}, body)
        await self._in_flight("stub upstream, through the data plane", self.url,
                              {"Authorization": f"Bearer {self.stub_token}"}, {**body, "model": "mistral/standard"})

    async def _in_flight(self, label: str, url: str, headers: dict, body: dict) -> None:
        """SLOW_CALLS clients, each on its own keep-alive connection (as SDK clients keep theirs), calling back to back
        for SLOW_SECONDS after a first call each: SLOW_CALLS calls are always in flight, so the throughput is
        clients / mean call time (Little's law) and the ideal is SLOW_CALLS / 1 s. Raw sockets: an HTTP client's
        own pool would measure the load generator, not the server. BENCH_DP_LOCKSTEP=1 starts every client in the
        same millisecond instead (a burst of SLOW_CALLS calls every second)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in {**headers, "Host": parts.netloc,
                                                    "Content-Type": "application/json",
                                                    "Content-Length": str(len(payload))}.items())
        request = f"POST {parts.path} HTTP/1.1\r\n{head}\r\n".encode() + payload
        ready, go = asyncio.Semaphore(0), asyncio.Event()
        seconds, calls, errors, durations = [], [0], [0], []

        async def one(reader, writer) -> bool:
            writer.write(request)
            status = await reader.readline()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            return status.split()[1] == b"200"

        async def client(deadline_box, offset: float) -> None:
            try:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                await one(reader, writer)
            except (OSError, IndexError, StopIteration, asyncio.IncompleteReadError):
                errors[0] += 1
                ready.release()
                return
            ready.release()
            await go.wait()
            await asyncio.sleep(offset)
            busy = 0.0
            count = 0
            while time.monotonic() < deadline_box[0]:
                started = time.monotonic()
                try:
                    ok = await one(reader, writer)
                except (OSError, IndexError, StopIteration, asyncio.IncompleteReadError):
                    ok = False
                durations.append(time.monotonic() - started)
                busy += durations[-1]
                count += 1
                if not ok:
                    errors[0] += 1
                    break
            writer.close()
            calls[0] += count
            seconds.append(busy / max(count, 1))

        deadline = [0.0]
        # Starts spread over the first second, as independent callers' are: started in the same millisecond, the
        # calls would stay in lockstep (the upstream answers all of them at once every second) and measure a burst.
        tasks = [asyncio.create_task(client(deadline, 0.0 if LOCKSTEP else index * UPSTREAM_LATENCY / SLOW_CALLS))
                 for index in range(SLOW_CALLS)]
        for _ in range(SLOW_CALLS):
            await ready.acquire()
        cpu = _cpu_seconds(self.worker_pid)
        deadline[0] = time.monotonic() + UPSTREAM_LATENCY + SLOW_SECONDS
        go.set()
        await asyncio.gather(*tasks)
        cpu = _cpu_seconds(self.worker_pid) - cpu
        mean = sum(seconds) / max(len(seconds), 1)
        spread = percentiles(durations) if durations else {"p50": 0.0, "p99": 0.0}
        throughput = len(seconds) / mean if mean else 0.0
        through = "through" in label
        print(f"{SLOW_CALLS} calls in flight for {SLOW_SECONDS:g} s{' in lockstep' if LOCKSTEP else ''}, 1 s provider "
              f"latency, {label}: "
              f"{throughput:.0f} req/s, {100 * throughput / SLOW_CALLS:.0f} % of ideal (target >= 90), call mean "
              f"{mean * 1000:.0f} ms p50 {spread['p50'] * 1000:.0f} ms p99 {spread['p99'] * 1000:.0f} ms, "
              f"{calls[0]} calls, {errors[0]} errors"
              + (f"; worker CPU {cpu * 1000 / max(calls[0], 1):.2f} ms per call" if through else ""), flush=True)

    def streaming(self) -> None:
        import httpx2

        with httpx2.Client(timeout=30) as client:
            def first_token(target) -> float:
                url, headers, body = target
                started = time.perf_counter()
                first = None
                with client.stream("POST", url, headers=headers, json=body) as response:
                    for line in response.iter_lines():
                        if first is None and line.startswith("data: ") and '"content":"' in line \
                                and '"content":""' not in line:
                            first = time.perf_counter()
                assert first is not None, "no content in the stream"
                return (first - started) * 1000

            direct, gateway = self._direct(self.fast, stream=True), self._gateway(self.fast_token, stream=True)
            for _ in range(30):
                first_token(direct)
                first_token(gateway)
            differences, direct_ms = [], []
            for _ in range(STREAM_PAIRS):
                d = first_token(direct)
                differences.append(first_token(gateway) - d)
                direct_ms.append(d)
        added, d = percentiles(differences), percentiles(direct_ms)
        print(f"streaming time to first token: direct p50 {d['p50']:.2f} ms; added p50 {added['p50']:.2f} ms "
              f"(target <= 1), p99 {added['p99']:.2f} ms", flush=True)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (what it cost, whatever else the machine was running)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _account_json(account) -> dict:
    return {"name": account.name, "provider": account.provider, "api_key": account.api_key,
            "models": list(account.models), "latency_ms": account.latency_ms}


def _teams(fast_key: str) -> tuple[str, str]:
    """Two workspaces with an owner's key each, and a member's workspace API key for each (what SDKs send)."""
    from accounts.models import User
    from accounts.services import api_key_create, membership_add, workspace_create
    from byok.services.keys import provider_key_create

    tokens = []
    for name, api_key, provider in (("fast", fast_key, "openai"), ("stub", "S" * 32, "mistral")):
        owner = User.objects.create(username=f"bench-owner-{name}", plan_id="business")
        member = User.objects.create(username=f"bench-member-{name}")
        workspace = workspace_create(owner=owner, name=f"Bench {name}")
        membership_add(workspace=workspace, user=member, actor=owner)
        provider_key_create(owner=owner, provider=provider, name="main", credentials={"api_key": api_key},
                            skip_test=True)
        tokens.append(api_key_create(workspace=workspace, user=member, name="bench", actor=member)[1])
    return tokens[0], tokens[1]


def django_vs_lean(n: int = 5000) -> None:
    """Why the data plane is a lean ASGI app and not Django async views: the framework's own cost per request,
    in-process (no server, no network), for a view that returns a small JSON body."""
    from django.core.handlers.asgi import ASGIHandler
    from django.http import JsonResponse
    from django.test import override_settings
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt  # as an API view would be (DRF's APIView is)
    async def view(request):
        return JsonResponse({"ok": True})

    class Urls:
        urlpatterns = [path("probe", view)]

    async def lean(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps({"ok": True}).encode()})

    async def drive(app) -> float:
        scope = {"type": "http", "method": "POST", "path": "/probe", "raw_path": b"/probe", "query_string": b"",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
                 "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "scheme": "http",
                 "asgi": {"version": "3.0"}, "http_version": "1.1", "root_path": ""}

        def receiver():
            sent = [False]

            async def receive():
                if not sent[0]:
                    sent[0] = True
                    return {"type": "http.request", "body": b"{}", "more_body": False}
                await asyncio.Event().wait()  # the client stays connected

            return receive

        async def send(message):
            pass

        for _ in range(200):
            await app(dict(scope), receiver(), send)
        started = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receiver(), send)
        return (time.perf_counter() - started) / n * 1e6

    with override_settings(ROOT_URLCONF=Urls, ALLOWED_HOSTS=["*"], DEBUG=False):
        django_us = asyncio.run(drive(ASGIHandler()))
    lean_us = asyncio.run(drive(lean))
    print(f"framework cost per request, in-process: Django async view (project middleware) {django_us:.0f} µs, "
          f"lean ASGI {lean_us:.1f} µs", flush=True)


if __name__ == "__main__":
    main()
