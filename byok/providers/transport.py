"""How the data plane talks HTTP to providers: one aiohttp session per event loop, shared by every provider client
(each request carries its own authentication), with keep-alive connections to each provider host.

Why not the official SDKs' async clients (httpx underneath), measured side by side (bench/bench_transport.py): a
call through the SDKs' raw POST costs ~1 ms of CPU and through bare httpx ~0.65 ms, through aiohttp ~0.1 ms; with
1,000 calls in flight, httpx's pool re-checks every connection for each request (~5.7 ms of CPU per call) where
aiohttp stays at ~0.3 ms. Every provider call goes through here, connection tests' model checks and model listings
included (`run_sync`); only STS (botocore) and Google's token exchange (google-auth) keep their libraries.

A non-2xx answer raises `HttpStatusError` (status, headers, body), a refused or dropped connection
`TransportFailed`, a connect or read timeout `TimeoutError`; each provider's `classify` reads them. A 2xx answer
(or stream event) that is not a JSON object is the provider failing: `parse_json` raises a provider_unavailable
`Failure`, so the call falls back as for a 5xx.
"""

import asyncio
import ssl
import urllib.request
import weakref
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, contextmanager

import aiohttp
import certifi
from yarl import URL

from core import wire_json

from .outcomes import Category, Failure


class HttpStatusError(Exception):
    """A provider answered with an error status. The body is kept for the classifiers, never put in the message."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> dict:
        try:
            value = wire_json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class TransportFailed(Exception):
    """The connection was refused, reset or cut short (no complete HTTP answer)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(type(cause).__name__)
        self.code = type(cause).__name__


_sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession]" = weakref.WeakKeyDictionary()
_timeouts: dict[float, aiohttp.ClientTimeout] = {}
_proxies: dict[tuple, str | None] = {}


def _http() -> aiohttp.ClientSession:
    """This event loop's session (a new loop, e.g. a restarted server in tests, gets its own)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        # certifi's CA bundle: the same trust store the official SDKs (httpx) verify providers against.
        tls = ssl.create_default_context(cafile=certifi.where())
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30, ssl=tls)
        # No cookie jar: one session serves every tenant, and a provider's cookies must not travel between them.
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                                          headers={"User-Agent": "byok"})
    return session


def _proxy(url: URL) -> str | None:
    """The egress proxy for this URL's origin from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as the SDKs' clients honour
    them; read once per origin (aiohttp's trust_env reads the environment in a thread on every request)."""
    origin = (url.scheme, url.host)
    if origin not in _proxies:
        proxy = urllib.request.getproxies().get(url.scheme)
        _proxies[origin] = None if not proxy or urllib.request.proxy_bypass(url.host or "") else proxy
    return _proxies[origin]


def _timeout(seconds: float) -> aiohttp.ClientTimeout:
    """Connect and per-read limits; no total (a stream may run for minutes; the call's deadline covers its start)."""
    timeout = _timeouts.get(seconds)
    if timeout is None:
        timeout = _timeouts[seconds] = aiohttp.ClientTimeout(total=None, sock_connect=seconds, sock_read=seconds)
    return timeout


def encode(body: dict) -> bytes:
    return wire_json.dumps(body)


@contextmanager
def _failures():
    """aiohttp's connection errors as TransportFailed; timeouts stay TimeoutError."""
    try:
        yield
    except TimeoutError:
        raise
    except aiohttp.ClientError as exc:
        raise TransportFailed(exc) from None


async def post(url: str, *, headers: Mapping[str, str], data: bytes, timeout: float,
               method: str = "POST") -> aiohttp.ClientResponse:
    """POST `data` (or another `method`); the response with its body unread (release it), or HttpStatusError /
    TransportFailed."""
    with _failures():
        # encoded=True: the path goes out exactly as given (a SigV4 signature covers it; yarl would re-quote it).
        target = URL(url, encoded=True)
        response = await _http().request(method, target, data=data, headers=headers, timeout=_timeout(timeout),
                                         proxy=_proxy(target))
        if response.status >= 300:
            try:
                content = await response.read()
            finally:
                response.release()
            raise HttpStatusError(response.status, response.headers, content)
    return response


def parse_json(data: bytes | str) -> dict:
    """A provider's JSON object (a body or a stream event), or a provider_unavailable Failure."""
    try:
        value = wire_json.loads(data)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise Failure(Category.PROVIDER_UNAVAILABLE, "The provider answered with a body that is not a JSON object; "
                      "this is usually temporary: retry shortly.", code="MalformedBody")
    return value


class Verbatim(dict):
    """A provider's JSON answer that byok passes on unchanged: written back as the bytes that came, and read for its
    usage only. OpenAI-compatible providers write `usage` last, so it is read from the end of a body of the form
    `{…,"usage":{…}}` rather than by parsing the whole answer (an embedding's 1,536 floats cost ~60 µs to parse, and
    their memory); a body of any other form is parsed whole (not a JSON object: a provider failure, as for any
    answer)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        super().__init__(_usage_at_end(raw) or parse_json(raw))
        self.raw = raw


def _usage_at_end(raw: bytes) -> dict | None:
    """{"usage": {…}} when the body is an object whose last member is a `usage` object, else None."""
    body = raw.strip()
    at = body.rfind(b'"usage"')
    start = body.find(b"{", at)
    if not body.startswith(b"{") or not body.endswith(b"}") or at < 0 or start < 0 \
            or body[at + len(b'"usage"'):start].strip() != b":":
        return None
    try:
        usage = wire_json.loads(body[start:-1])
    except ValueError:  # "usage" was not the last member, or the body is not JSON: parsed whole
        return None
    return {"usage": usage} if isinstance(usage, dict) else None


async def post_json(url: str, *, headers: Mapping[str, str], data: bytes, timeout: float,
                    verbatim: bool = False) -> dict:
    """POST `data` and read the JSON answer (a `Verbatim` one if asked)."""
    return await read_json(await post(url, headers=headers, data=data, timeout=timeout), verbatim=verbatim)


async def read_json(response: aiohttp.ClientResponse, *, verbatim: bool = False) -> dict:
    """The JSON body of a response from `post`. Releases the response."""
    try:
        with _failures():
            content = await response.read()
        return Verbatim(content) if verbatim else parse_json(content)
    finally:
        response.release()


async def chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The body as it arrives; a connection cut short is TransportFailed. Releases the response."""
    try:
        with _failures():
            async for data in response.content.iter_any():
                yield data
    finally:
        response.release()


async def sse_events(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str | None, str]]:
    """(event, data) pairs of a server-sent-event stream (`chunks`: releases the response).

    Each read's lines are split at once (line by line cost an await per line: three for each event of a Responses or
    Messages stream). A read that ends inside a line, or between its CR and LF, keeps that line for the next."""
    event, data, pending = None, [], b""
    async with aclosing(chunks(response)) as body:  # released at once when the caller stops reading
        async for chunk in _ended(body):
            lines = (pending + chunk).splitlines(keepends=True)
            pending = lines.pop() if not lines[-1].endswith(b"\n") else b""
            for line in lines:
                line = line.rstrip(b"\r\n")
                if not line:
                    if data:
                        yield event, "\n".join(data)
                    event, data = None, []
                elif line.startswith(b"data:"):
                    data.append(line[5:].lstrip().decode())
                elif line.startswith(b"event:"):
                    event = line[6:].strip().decode()


async def _ended(body: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The body, then a blank line: the stream's end ends its last line and event."""
    async for chunk in body:
        yield chunk
    yield b"\n\n"


async def close() -> None:
    """Close this loop's session (the data plane's shutdown)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()


def run_sync(coroutine):
    """Run a provider call from sync code (a connection test's model check, in a thread of its own) on an event loop
    and session of its own, both closed after."""
    async def run():
        try:
            return await coroutine
        finally:
            await close()

    return asyncio.run(run())


class ApiClient:
    """One key's JSON API: its base URL and authentication headers (the secret is in the headers, never in repr)."""

    def __init__(self, base_url: str, *, headers: Mapping[str, str], timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", **headers}
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<ApiClient {self.base_url}>"

    async def post_json(self, path: str, body: dict, *, verbatim: bool = False) -> dict:
        return await post_json(self.base_url + path, headers=self._headers, data=encode(body), timeout=self.timeout,
                               verbatim=verbatim)

    async def post(self, path: str, body: dict, extra_headers: Mapping[str, str] | None = None) -> aiohttp.ClientResponse:
        headers = {**self._headers, **extra_headers} if extra_headers else self._headers
        return await post(self.base_url + path, headers=headers, data=encode(body), timeout=self.timeout)

    async def get_json(self, path: str) -> dict:
        return await read_json(await post(self.base_url + path, headers=self._headers, data=b"",
                                          timeout=self.timeout, method="GET"))
