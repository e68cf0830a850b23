"""How the data plane talks HTTP to providers: byok.providers.http_client's keep-alive connections, one pool per
event loop, shared by every provider client (each request carries its own authentication).

Why not the official SDKs' async clients (httpx underneath), nor aiohttp, measured side by side
(bench/bench_transport.py): a call through the SDKs' raw POST costs ~1 ms of CPU, through bare httpx ~0.65 ms; with
1,000 calls in flight, httpx's pool re-checks every connection for each request (~5.7 ms of CPU per call). aiohttp
was the transport until its request path was found to be some 40 % of the data plane's CPU before a stream's first
event. Every provider call goes through here, connection tests' model checks and model listings included
(`run_sync`); only STS (botocore) and Google's token exchange (google-auth) keep their libraries.

A non-2xx answer raises `HttpStatusError` (status, headers, body), a refused or dropped connection
`TransportFailed`, a connect or read timeout `TimeoutError`; each provider's `classify` reads them. A 2xx answer
(or stream event) that is not a JSON object is the provider failing: `parse_json` raises a provider_unavailable
`Failure`, so the call falls back as for a 5xx.
"""

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import contextmanager

import httptools

from core import wire_json

from . import http_client
from .http_client import Response
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


def encode(body: dict) -> bytes:
    return wire_json.dumps(body)


@contextmanager
def _failures():
    """Connection errors (refused, reset, TLS, cut short, not HTTP) as TransportFailed; timeouts stay TimeoutError."""
    try:
        yield
    except TimeoutError:
        raise
    except (OSError, httptools.HttpParserError) as exc:
        raise TransportFailed(exc) from None


async def post(url: str, *, headers: Mapping[str, str], data: bytes, timeout: float,
               method: str = "POST") -> Response:
    """POST `data` (or another `method`); the response with its body unread (release it), or HttpStatusError /
    TransportFailed. `timeout` bounds the connect and each wait for the answer's bytes (a stream may run for minutes:
    the call's deadline covers its start)."""
    with _failures():
        response = await http_client.request(method, url, headers=headers, data=data, timeout=timeout)
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


async def read_json(response: Response, *, verbatim: bool = False) -> dict:
    """The JSON body of a response from `post`. Releases the response."""
    try:
        with _failures():
            content = await response.read()
        return Verbatim(content) if verbatim else parse_json(content)
    finally:
        response.release()


async def chunks(response: Response) -> AsyncIterator[bytes]:
    """The body as it arrives; a connection cut short is TransportFailed. Releases the response."""
    try:
        with _failures():
            while (data := await response.next_chunk()) is not None:
                yield data
    finally:
        response.release()


async def sse_events(response: Response) -> AsyncIterator[tuple[str | None, str]]:
    """(event, data) pairs of a server-sent-event stream; a connection cut short is TransportFailed. Releases the
    response, at once when the caller stops reading.

    Each read's lines are split at once (line by line cost an await per line: three for each event of a Responses or
    Messages stream). A read that ends inside a line, or between its CR and LF, keeps that line for the next; the
    stream's end ends its last line and event. One generator over the response's reads: each layer of generators
    between the provider's bytes and its first event cost the first event's latency."""
    event, data, pending = None, [], b""
    try:
        with _failures():
            while True:
                chunk = await response.next_chunk()
                lines = (pending + (b"\n\n" if chunk is None else chunk)).splitlines(keepends=True)
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
                if chunk is None:
                    return
    finally:
        response.release()


async def close() -> None:
    """Close this loop's connections (the data plane's shutdown)."""
    await http_client.close()


def run_sync(coroutine):
    """Run a provider call from sync code (a connection test's model check, in a thread of its own) on an event loop
    and connections of its own, both closed after."""
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

    async def post(self, path: str, body: dict, extra_headers: Mapping[str, str] | None = None) -> Response:
        headers = {**self._headers, **extra_headers} if extra_headers else self._headers
        return await post(self.base_url + path, headers=headers, data=encode(body), timeout=self.timeout)

    async def get_json(self, path: str) -> dict:
        return await read_json(await post(self.base_url + path, headers=self._headers, data=b"",
                                          timeout=self.timeout, method="GET"))
