"""The data plane's HTTP client, measured against the alternatives on the same upstream, side by side in one run:
the official OpenAI SDK's raw POST (httpx2 underneath), bare httpx2, aiohttp (the transport until it was measured
here), and the transport the data plane uses (byok/providers/transport.py over byok/providers/http_client.py). CPU
of this process per call (the client's own cost), at 16 concurrent calls on an upstream that answers at once and
with 1,000 calls in flight on one that answers after 1 s.
"""

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from bench._support import django_setup
from bench.bench_gateway import _free_port

ROOT = Path(__file__).resolve().parent.parent
CALLS = int(os.environ.get("BENCH_TRANSPORT_CALLS", 3000))
IN_FLIGHT = int(os.environ.get("BENCH_TRANSPORT_IN_FLIGHT", 1000))
BODY = {"model": "mistral-medium-latest", "messages": [{"role": "user", "content": "Say hello."}]}


def main() -> None:
    django_setup()
    fast_port, slow_port = _free_port(), _free_port()
    upstreams = [subprocess.Popen([sys.executable, "-m", "bench._stub_upstream", str(port), latency], cwd=ROOT)
                 for port, latency in ((fast_port, "0"), (slow_port, "1.0"))]
    try:
        time.sleep(1.5)
        asyncio.run(_compare(f"http://127.0.0.1:{fast_port}/v1", f"http://127.0.0.1:{slow_port}/v1"))
    finally:
        for upstream in upstreams:
            upstream.terminate()
            upstream.wait(timeout=10)


async def _compare(fast: str, slow: str) -> None:
    clients = {"openai SDK raw POST": _sdk, "httpx2": _httpx, "aiohttp": _aiohttp, "transport": _transport}
    for repeat in range(2):  # interleaved: the machine is shared
        for label, make in clients.items():
            await _run(label, make, fast, CALLS, 16)
    for label, make in clients.items():
        await _run(label, make, slow, 2 * IN_FLIGHT, IN_FLIGHT)


async def _run(label: str, make, base_url: str, calls: int, concurrency: int) -> None:
    call, close = make(base_url)
    for _ in range(min(concurrency, 50)):
        await call()
    remaining = [calls]

    async def loop() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            await call()

    cpu, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    cpu, elapsed = time.process_time() - cpu, time.perf_counter() - started
    await close()
    print(f"{label:20s} {concurrency:5d} in flight: {calls / elapsed:6.0f} calls/s, client CPU "
          f"{cpu * 1e6 / calls:5.0f} µs per call", flush=True)


def _sdk(base_url: str):
    import httpx2
    import openai

    client = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0, timeout=30)

    async def call():
        response = await client.post("/chat/completions", cast_to=httpx2.Response, body=BODY,
                                     options={"headers": {"X-Stainless-Raw-Response": "stream"}})
        await response.aread()
        await response.aclose()

    return call, client.close


def _httpx(base_url: str):
    import httpx2

    client = httpx2.AsyncClient(timeout=30, limits=httpx2.Limits(max_connections=None,
                                                                 max_keepalive_connections=2 * IN_FLIGHT))

    async def call():
        (await client.post(f"{base_url}/chat/completions", json=BODY, headers={"Authorization": "Bearer x"})).json()

    return call, client.aclose


def _aiohttp(base_url: str):
    """aiohttp as the transport used it: one session, no cookie jar, no connection limit."""
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), cookie_jar=aiohttp.DummyCookieJar())

    async def call():
        async with session.post(f"{base_url}/chat/completions", json=BODY,
                                headers={"Authorization": "Bearer x"}) as response:
            await response.json()

    return call, session.close


def _transport(base_url: str):
    from byok.providers import transport

    client = transport.ApiClient(base_url, headers={"Authorization": "Bearer x"}, timeout=30)

    async def call():
        await client.post_json("/chat/completions", BODY)

    return call, transport.close


if __name__ == "__main__":
    main()
