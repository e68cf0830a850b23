"""The data plane's cost, side by side with a direct call to the same simulator upstream, on one uvicorn worker.

Set-up: the simulator in its own process; `uvicorn byok_project.asgi:application` with one worker (uvloop,
byok_project.http_protocol), production settings, a throwaway database; an owner's OpenAI and Anthropic keys on simulated accounts.
The client is the same httpx2 client for both paths (direct: POST {simulator}/openai/v1/chat/completions; through
the data plane: POST /v1/chat/completions with model openai/gpt-5-mini; likewise /v1/responses, /v1/embeddings and,
on the Anthropic account, /v1/messages), so the difference is what the data plane adds.

Figures (each of 3 repeats): added latency p50/p99 of chat, responses and embeddings (interleaved sequential pairs,
the endpoints in turn) and each one's ratio to chat's; what limits add (chat again, by a member of a second workspace
on the same account whose owner has a limit of every metric, none reached: its added p50 less chat's), throughput at 16 concurrent clients, 1,000 calls kept in
flight against an upstream with 1 s latency (share of the ideal 1,000 req/s, errors), streaming first event and
first token added on chat, messages and responses streams and on messages with a coding agent's 113 KB body, and the
worker's RSS. Plus, once: Django async view vs
the lean ASGI app, in-process.

Streams are measured twice: from a provider that sends its whole answer at once (the simulator's default), and from
one that sends each part after the first BENCH_DP_STREAM_INTERVAL_MS (2) ms after the one before, as a model
generating its answer does (even the fastest send their parts milliseconds apart). On this machine client, server
and provider share two cores: with the whole answer at once, the data plane relays the rest of the stream at the
moment the client reads the first event, and the client waits for a core (the server's write wakes it on the
server's own); a client elsewhere does not. The paced stream measures the first event without that wait.

BENCH_DP_ONLY=latency,streaming (any of latency, throughput, concurrency, streaming, django) runs only those parts:
a short, focused run for a side-by-side comparison on a shared machine.
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
STREAM_INTERVAL_MS = int(os.environ.get("BENCH_DP_STREAM_INTERVAL_MS", 2))
PARTS = set(os.environ.get("BENCH_DP_ONLY", "latency,throughput,concurrency,streaming,django").split(","))
MESSAGES = [{"role": "user", "content": "Say hello."}]
MODEL = "gpt-5-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
CLAUDE_MODEL = "claude-haiku-4-5"


def _agent_body() -> dict:
    """A coding agent's Messages request mid-session, 113 KB as Claude Code sends them: a long system prompt, 20 tools
    with JSON schemas, and 50 rounds of text, a tool call and its result, then the question."""
    tools = [{"name": f"tool_{n}", "description": "Runs a step of the task. " * 20,
              "input_schema": {"type": "object", "properties": {"path": {"type": "string", "description": "A path."},
                                                               "lines": {"type": "array", "items": {"type": "integer"}}},
                               "required": ["path"]}} for n in range(20)]
    source = 'def handler(event):\n    return {"status": "ok", "items": [item["id"] for item in event["items"]]}\n' * 14
    messages = [{"role": "user", "content": "Fix the failing test in the handlers module."}]
    for n in range(50):
        messages += [{"role": "assistant", "content": [
                         {"type": "text", "text": f"Step {n}: reading the file to see what the handler returns."},
                         {"type": "tool_use", "id": f"toolu_{n:04d}", "name": f"tool_{n % 20}",
                          "input": {"path": f"src/handlers_{n}.py", "lines": [1, 40]}}]},
                     {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{n:04d}",
                                                   "content": source}]}]
    messages.append({"role": "user", "content": MESSAGES[0]["content"]})
    return {"model": CLAUDE_MODEL, "max_tokens": 64, "system": "You are a coding agent in the user's terminal. " * 150,
            "tools": tools, "messages": messages}


AGENT_BODY = _agent_body()


def main() -> None:
    django_setup()
    from django.conf import settings

    from byok.simulator.accounts import new_account

    fast, claude = new_account("openai", name="bench-fast"), new_account("anthropic", name="bench-claude")
    with throwaway_database("data_plane"):
        fast_token, stub_token, limited_token = _teams(fast.api_key, claude.api_key)
        simulator_port, port, stub_port = _free_port(), _free_port(), _free_port()
        simulator_url = f"http://127.0.0.1:{simulator_port}"
        env = {
            **os.environ, "DATABASE_URL": database_url(), "DJANGO_ENV": "production", "DEBUG": "false",
            "SECRET_KEY": "bench-" + "s" * 50, "ALLOWED_HOSTS": "127.0.0.1", "SECURE_SSL_REDIRECT": "false",
            "BYOK_ENCRYPTION_KEYS": ",".join(settings.BYOK_ENCRYPTION_KEYS), "LOG_LEVEL": "WARNING",
            "BYOK_OPENAI_BASE_URL": f"{simulator_url}/openai/v1", "PYTHONPATH": str(ROOT),
            "BYOK_ANTHROPIC_BASE_URL": f"{simulator_url}/anthropic",
            "BYOK_MISTRAL_BASE_URL": f"http://127.0.0.1:{stub_port}/v1",
        }
        stub = subprocess.Popen([sys.executable, "-m", "bench._stub_upstream", str(stub_port),
                                 str(UPSTREAM_LATENCY)], cwd=ROOT, env=env)
        simulator = subprocess.Popen([sys.executable, "manage.py", "run_provider_simulator", "--port",
                                      str(simulator_port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        worker = subprocess.Popen(_uvicorn("byok_project.asgi:application", port), cwd=ROOT, env=env)
        relay_port = _free_port()
        relay = subprocess.Popen(_uvicorn("bench._relay_floor:app", relay_port), cwd=ROOT,
                                 env={**env, "RELAY_UPSTREAM": simulator_url})
        try:
            _wait_for(f"{simulator_url}/_simulator/stats")
            _wait_for(f"http://127.0.0.1:{port}/healthz")
            _wait_for(f"http://127.0.0.1:{relay_port}/_simulator/stats")
            _post_accounts(simulator_url, [fast, claude])
            bench = Bench(simulator_url, f"http://127.0.0.1:{port}", fast, claude, fast_token)
            bench.stub_url, bench.stub_token = f"http://127.0.0.1:{stub_port}/v1/chat/completions", stub_token
            bench.limited_token = limited_token
            bench.relay_url = f"http://127.0.0.1:{relay_port}"
            bench.worker_pid = worker.pid
            for repeat in range(1, REPEATS + 1):
                print(f"-- repeat {repeat}/{REPEATS}", flush=True)
                if "latency" in PARTS:
                    bench.latency()
                if "throughput" in PARTS:
                    asyncio.run(bench.throughput())
                if "concurrency" in PARTS:
                    asyncio.run(bench.concurrency())
                if "streaming" in PARTS:
                    for interval in (0, STREAM_INTERVAL_MS):
                        _post_accounts(simulator_url, [fast, claude], stream_interval_ms=interval)
                        bench.streaming("whole answer at once" if not interval else f"parts {interval} ms apart")
                print(f"worker RSS: {_rss_mb(worker.pid):.0f} MB", flush=True)
        finally:
            for process in (worker, simulator, stub, relay):
                process.terminate()
                process.wait(timeout=15)
    if "django" in PARTS:
        django_vs_lean()


def _uvicorn(app: str, port: int) -> list[str]:
    """The data plane's server command (one worker, uvloop, byok_project.http_protocol), for `app` on `port`."""
    return [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", "1", "--loop", "uvloop", "--http",
            "byok_project.http_protocol:HttpProtocol", "--no-access-log", "--log-level", "warning", "--backlog",
            "4096"]


# What each endpoint's first streamed event and first token look like (a line of the SSE body), to time them.
FIRST_TOKEN = {
    "chat": lambda line: '"content":"' in line and '"content":""' not in line,
    "messages": lambda line: '"text_delta"' in line,
    "responses": lambda line: '"response.output_text.delta"' in line,
}
FIRST_TOKEN["messages, agent body"] = FIRST_TOKEN["messages"]


class Bench:
    def __init__(self, simulator_url, url, fast, claude, fast_token) -> None:
        self.simulator_url, self.base_url = simulator_url, url
        self.url = f"{url}/v1/chat/completions"
        self.fast, self.claude, self.fast_token = fast, claude, fast_token

    def _direct(self, endpoint: str, stream=False):
        """The same call straight to the simulator: (url, headers, body)."""
        openai = {"Authorization": f"Bearer {self.fast.api_key}"}
        if endpoint == "chat":
            return f"{self.simulator_url}/openai/v1/chat/completions", openai, \
                {"model": MODEL, "messages": MESSAGES, "stream": stream}
        if endpoint == "responses":
            return f"{self.simulator_url}/openai/v1/responses", openai, \
                {"model": MODEL, "input": MESSAGES[0]["content"], "stream": stream}
        if endpoint.startswith("embeddings"):  # base64: what the OpenAI SDKs ask for unless told otherwise
            return f"{self.simulator_url}/openai/v1/embeddings", openai, \
                {"model": EMBEDDING_MODEL, "input": MESSAGES[0]["content"],
                 "encoding_format": "float" if endpoint.endswith("float") else "base64"}
        claude = {"model": CLAUDE_MODEL, "max_tokens": 64, "messages": MESSAGES}
        return f"{self.simulator_url}/anthropic/v1/messages", \
            {"x-api-key": self.claude.api_key, "anthropic-version": "2023-06-01"}, \
            {**(AGENT_BODY if endpoint == "messages, agent body" else claude), "stream": stream}

    def _gateway(self, endpoint: str, stream=False):
        """The same call through the data plane, on the member's workspace API key ("chat limited": the member's whose
        owner has limits)."""
        _, headers, body = self._direct(endpoint.removesuffix(" limited"), stream)
        token = self.limited_token if endpoint.endswith(" limited") else self.fast_token
        headers = {k: v for k, v in headers.items() if k != "x-api-key"} | {"Authorization": f"Bearer {token}"}
        family = "anthropic" if endpoint.startswith("messages") else "openai"
        path = {"chat": "chat/completions", "chat limited": "chat/completions", "embeddings float": "embeddings",
                "messages, agent body": "messages"}.get(endpoint, endpoint)
        return f"{self.base_url}/v1/{path}", headers, {**body, "model": f"{family}/{body['model']}"}

    def latency(self) -> None:
        """Interleaved sequential pairs (direct, then through the data plane), the endpoints in turn, so that the
        machine's noise falls alike on each; the pair's order is reversed every other round (`in_turn`), and chat and
        chat under limits swap places: a call right after a large answer (the float embeddings) is slower, and each
        side takes that place half the time."""
        import httpx2

        endpoints = ("chat", "responses", "embeddings", "embeddings float", "chat limited")
        rounds = (("chat", "chat limited", *endpoints[1:4]), ("chat limited", *endpoints[:4]))
        with httpx2.Client(timeout=30) as client:
            targets = {e: (self._direct(e.removesuffix(" limited")), self._gateway(e)) for e in endpoints}

            def call(target) -> float:
                url, headers, body = target
                started = time.perf_counter()
                response = client.post(url, headers=headers, json=body)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.text
                return elapsed

            for _ in range(100):
                for direct, gateway in targets.values():
                    call(direct)
                    call(gateway)
            direct_ms = {e: [] for e in endpoints}
            gateway_ms = {e: [] for e in endpoints}
            for number in range(PAIRS):
                for endpoint in rounds[number % 2]:
                    direct, gateway = targets[endpoint]
                    d, g = in_turn(number, lambda: call(direct), lambda: call(gateway))
                    direct_ms[endpoint].append(d)
                    gateway_ms[endpoint].append(g)
        added = {e: percentiles([b - a for a, b in zip(direct_ms[e], gateway_ms[e])]) for e in endpoints}
        for endpoint in endpoints[:-1]:
            d, g, a = percentiles(direct_ms[endpoint]), percentiles(gateway_ms[endpoint]), added[endpoint]
            ratio = "" if endpoint == "chat" else f"; {a['p50'] / max(added['chat']['p50'], 1e-9):.2f}x chat's " \
                                                  "(target <= 1.10)"
            print(f"latency {endpoint}, {PAIRS} interleaved pairs: direct p50 {d['p50']:.2f} ms p99 "
                  f"{d['p99']:.2f} ms; data plane p50 {g['p50']:.2f} ms p99 {g['p99']:.2f} ms; added p50 "
                  f"{a['p50']:.2f} ms (target <= 1), p99 {a['p99']:.2f} ms (target <= 3){ratio}", flush=True)
        limited = added["chat limited"]
        print(f"latency chat under limits of every metric ({'Redis' if os.environ.get('CACHE_URL') else 'embedded'} "
              f"counters), {PAIRS} interleaved pairs: added p50 {limited['p50']:.2f} ms; limits add p50 "
              f"{limited['p50'] - added['chat']['p50']:+.2f} ms (target <= 0.10), p99 "
              f"{limited['p99'] - added['chat']['p99']:+.2f} ms", flush=True)

    async def throughput(self) -> None:
        import httpx2

        url, headers, body = self._gateway("chat")
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

    def streaming(self, provider: str) -> None:
        """Time to the first event (the first `data:` line: the response head and the first chunk) and to the first
        token, direct and through the data plane, interleaved pairs (see `in_turn`), the streaming endpoints in turn.
        Beside them, pairs of direct and the relay floor (bench._relay_floor): the first event's cost of the hop
        itself, which any relay on this server and client pays. `provider` says how the simulator sends its streams
        now (whole, or paced), for the figures' lines."""
        import httpx2

        endpoints = tuple(FIRST_TOKEN)
        with httpx2.Client(timeout=30) as client:
            def first_times(endpoint, target) -> tuple[float, float]:
                url, headers, body = target
                is_token = FIRST_TOKEN[endpoint]
                started = time.perf_counter()
                event = token = None
                with client.stream("POST", url, headers=headers, json=body) as response:
                    assert response.status_code == 200, response.read()
                    for line in response.iter_lines():
                        if event is None and line.startswith("data: "):
                            event = time.perf_counter()
                        if token is None and line.startswith("data: ") and is_token(line):
                            token = time.perf_counter()
                assert token is not None, f"no token in the {endpoint} stream"
                return (event - started) * 1000, (token - started) * 1000

            def relayed(endpoint):
                url, headers, body = self._direct(endpoint, stream=True)
                return url.replace(self.simulator_url, self.relay_url), headers, body

            targets = {e: (self._direct(e, stream=True), self._gateway(e, stream=True), relayed(e)) for e in endpoints}
            for _ in range(30):
                for endpoint, calls in targets.items():
                    for target in calls:
                        first_times(endpoint, target)
            events, tokens, direct_ms, floor = ({e: [] for e in endpoints} for _ in range(4))
            for number in range(STREAM_PAIRS):
                for endpoint, (direct, gateway, relay) in targets.items():
                    (d_event, d_token), (g_event, g_token) = in_turn(
                        number, lambda: first_times(endpoint, direct), lambda: first_times(endpoint, gateway))
                    events[endpoint].append(g_event - d_event)
                    tokens[endpoint].append(g_token - d_token)
                    direct_ms[endpoint].append(d_token)
                    (d_event, _), (r_event, _) = in_turn(
                        number, lambda: first_times(endpoint, direct), lambda: first_times(endpoint, relay))
                    floor[endpoint].append(r_event - d_event)
        for endpoint in endpoints:
            event, token, d = percentiles(events[endpoint]), percentiles(tokens[endpoint]), \
                percentiles(direct_ms[endpoint])
            print(f"streaming {endpoint} ({provider}), {STREAM_PAIRS} interleaved pairs: first token direct p50 "
                  f"{d['p50']:.2f} ms; "
                  f"first event added p50 {event['p50']:.2f} ms (target <= 1) p99 {event['p99']:.2f} ms; first "
                  f"token added p50 {token['p50']:.2f} ms p99 {token['p99']:.2f} ms; the relay floor's first event "
                  f"added p50 {percentiles(floor[endpoint])['p50']:.2f} ms", flush=True)


def in_turn(number: int, direct, gateway) -> tuple:
    """(direct(), gateway()), called in that order in even rounds and the other way round in odd ones. A call right
    after another to the same upstream is slower (the provider call after a float embedding took ~0.1 ms longer,
    measured in the data plane): always calling direct first charged that to the data plane, by 0.1–0.3 ms on float
    embeddings."""
    if number % 2:
        through = gateway()
        return direct(), through
    return direct(), gateway()


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (what it cost, whatever else the machine was running)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _post_accounts(simulator_url: str, accounts, stream_interval_ms: int = 0) -> None:
    """The accounts (again: the same name and keys replace an account in place) with their streams' pacing."""
    import httpx2

    httpx2.post(f"{simulator_url}/_simulator/accounts", json={"accounts": [
        {**_account_json(account), "stream_interval_ms": stream_interval_ms} for account in accounts]}
    ).raise_for_status()


def _account_json(account) -> dict:
    return {"name": account.name, "provider": account.provider, "api_key": account.api_key,
            "models": list(account.models), "latency_ms": account.latency_ms}


def _teams(fast_key: str, claude_key: str) -> tuple[str, str, str]:
    """Three workspaces with an owner's key each (two in the first: OpenAI and Anthropic; the third's owner, on the
    first's OpenAI account, has limits), and a member's workspace API key for each (what SDKs send)."""
    from accounts.models import User
    from accounts.services import api_key_create, membership_add, workspace_create
    from byok.services.keys import provider_key_create

    tokens = []
    for name, api_key, provider in (("fast", fast_key, "openai"), ("stub", "S" * 32, "mistral"),
                                    ("limited", fast_key, "openai")):
        owner = User.objects.create(username=f"bench-owner-{name}", plan_id="business")
        member = User.objects.create(username=f"bench-member-{name}")
        workspace = workspace_create(owner=owner, name=f"Bench {name}")
        membership_add(workspace=workspace, user=member, actor=owner)
        provider_key_create(owner=owner, provider=provider, name="main", credentials={"api_key": api_key},
                            skip_test=True)
        if name == "fast":
            provider_key_create(owner=owner, provider="anthropic", name="claude",
                                credentials={"api_key": claude_key}, skip_test=True)
        if name == "limited":
            _limits(owner)
        tokens.append(api_key_create(workspace=workspace, user=member, name="bench", actor=member)[1])
    return tokens[0], tokens[1], tokens[2]


def _limits(owner) -> None:
    """A limit of every metric on the owner, none of which the bench reaches: admitting and counting cost in full."""
    from byok.models import UsageLimit
    from byok.services.limits import usage_limit_set

    for metric in UsageLimit.Metric.values:
        usage_limit_set(owner=owner, actor=owner, subject="owner", metric=metric, value=2_000_000_000,
                        thresholds=[80])


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
