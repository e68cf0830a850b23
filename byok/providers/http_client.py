"""The HTTP/1.1 client every provider call goes through (byok.providers.transport is its interface): keep-alive
connections per origin and event loop, requests written in one system call, answers parsed by httptools (llhttp, the
parser uvicorn serves byok with).

Why not aiohttp, which it replaces: a stream's first chunk cost 213 µs of the data plane's CPU through aiohttp's
request path (its request and writer objects, a task to write each body, its stream reader) against 79 µs here, on
the same simulator (bench/bench_transport.py measures both): some 40 % of the data plane's own CPU before a stream's
first event. What a provider call needs is all here: TLS against certifi's CA bundle or SSL_CERT_FILE (as the
official SDKs verify), HTTPS_PROXY / HTTP_PROXY (CONNECT tunnels for https, credentials in the proxy URL), connect
and per-read timeouts, flow control for slow readers, hosts' addresses kept 5 minutes and tried in turn, no
cookies, no compression asked for (providers then send none).

Failures are what the standard library raises: OSError (refused, reset, TLS), `ConnectionLost` (the answer cut
short), httptools.HttpParserError (not HTTP), TimeoutError; transport.py maps them.
"""

import asyncio
import base64
import os
import socket
import ssl
import urllib.request
import weakref
from collections import deque
from functools import lru_cache, partial
from urllib.parse import unquote, urlsplit

import certifi
import httptools

KEEPALIVE_SECONDS = 30.0  # an idle connection is closed after this (providers close theirs after 60 s or more)
DNS_SECONDS = 300.0  # a host's addresses serve new connections this long (aiohttp's cache, before, kept them as long)
HIGH_WATER = 1 << 20  # bytes: a reader this far behind pauses the socket until it has read them all
DEFAULT_PORTS = {"http": 80, "https": 443}


class ConnectionLost(ConnectionError):
    """The provider closed the connection before its answer ended."""


class Headers(dict):
    """An answer's headers, looked up in any case (kept lower-cased; a repeated header's values joined by ", ")."""

    def get(self, name: str, default=None):
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name) -> bool:
        return super().__contains__(name.lower())


@lru_cache(maxsize=4096)
def _target(url: str) -> tuple[tuple[str, str, int], str, str]:
    """(origin, Host header, request target) of a URL; its path and query go out exactly as written (a SigV4
    signature covers them)."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {parts.scheme}://{parts.hostname or ''}")
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host_header = host if port == DEFAULT_PORTS[parts.scheme] else f"{host}:{port}"
    return (parts.scheme, parts.hostname, port), host_header, (parts.path or "/") + (f"?{parts.query}" if parts.query
                                                                                      else "")


def _request_head(method: str, target: str, host: str, headers, length: int, proxy: str | None) -> bytes:
    lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {length}\r\n"]
    agent = False
    for name, value in headers.items():
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"The {name} header holds a line break.")  # the value may be a secret: never shown
        lowered = name.lower()
        if lowered not in _OURS:
            lines.append(f"{name}: {value}\r\n")
        agent = agent or lowered == "user-agent"
    if not agent:
        lines.append("User-Agent: byok\r\n")
    authorization = proxy and _proxy_authorization(proxy)
    if authorization:
        lines.append(f"Proxy-Authorization: {authorization}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode()


_OURS = frozenset({"host", "content-length"})  # written from the URL and the body, whatever the caller passed


_proxies: dict[tuple, str | None] = {}


def _proxy(origin: tuple) -> str | None:
    """The egress proxy for an origin from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as the SDKs' clients honour them;
    read once per origin."""
    if origin not in _proxies:
        proxy = urllib.request.getproxies().get(origin[0])
        _proxies[origin] = None if not proxy or urllib.request.proxy_bypass(origin[1]) else proxy
    return _proxies[origin]


@lru_cache(maxsize=16)
def _proxy_authorization(proxy: str) -> str | None:
    """Basic credentials from the proxy URL's user and password, if it has them."""
    parts = urlsplit(proxy)
    if not parts.username:
        return None
    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return f"Basic {base64.b64encode(credentials).decode()}"


async def request(method: str, url: str, *, headers, data: bytes, timeout: float) -> "Response":
    """Send the request; the answer once its head is in (its body unread: release it). Host and Content-Length are
    written from the URL and the body. `timeout` bounds the connect and each wait for the answer's bytes."""
    origin, host, target = _target(url)
    proxy = _proxy(origin)
    plain_proxy = proxy if proxy is not None and origin[0] == "http" else None
    head = _request_head(method, url if plain_proxy else target, host, headers, len(data), plain_proxy)
    connection = await _pool().connection(origin, proxy, timeout)
    response = connection.response = Response(connection, timeout)
    try:
        if connection.closed:  # lost while it was being made
            raise ConnectionLost("The provider closed the connection before the request was sent.")
        connection.transport.writelines((head, data) if data else (head,))
        await response.head()
    except BaseException:
        response.release()
        raise
    return response


class Response:
    """An answer: `status` and `headers` once returned by `request`; the body through `chunks()` or `read()`;
    `release()` gives the connection back for the next request (or closes it if the body was not read to its end)."""

    def __init__(self, connection: "_Connection", timeout: float) -> None:
        self._connection, self._timeout = connection, timeout
        self._parser = httptools.HttpResponseParser(self)
        self.status = 0
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._headers: Headers | None = None
        self._has_head = self._complete = self._reusable = self._released = self._paused = False
        self._body: deque[bytes] = deque()
        self._buffered = 0
        self._error: BaseException | None = None
        self._waiter: asyncio.Future | None = None

    @property
    def headers(self) -> Headers:
        """Read when asked for (most answers are used without a look at their headers)."""
        if self._headers is None:
            self._headers = Headers()
            for name, value in self._raw_headers:
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                previous = self._headers.get(key)
                self._headers[key] = text if previous is None else f"{previous}, {text}"
        return self._headers

    # httptools' callbacks, during `feed` (which wakes the reader once they are done: a read of a stream sent at once
    # holds dozens of chunks)
    def on_header(self, name: bytes, value: bytes) -> None:
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self._parser.get_status_code()
        self._has_head = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused:
            self._paused = True
            self._connection.transport.pause_reading()

    def on_message_complete(self) -> None:
        self._complete = True
        self._reusable = self._parser.should_keep_alive()  # read here: llhttp forgets it once the message ended

    # the connection's
    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(exc)
            self._connection.transport.abort()
        else:
            self._wake()

    def ended(self) -> None:
        """The connection closed: the end of a body that runs until then (neither a length nor chunks), else the
        answer cut short."""
        if self._complete:
            return
        if self._has_head and "content-length" not in self.headers and "transfer-encoding" not in self.headers:
            self._complete = True
            self._wake()
        else:
            self._fail(ConnectionLost("The provider closed the connection before its answer ended."))

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        """Until the connection brings something (bytes, its end, a failure), at most `timeout` seconds."""
        if self._error is not None:
            raise self._error
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(self._timeout, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    # the caller's
    async def head(self) -> None:
        while not self._has_head:
            await self._wait()

    async def next_chunk(self) -> bytes | None:
        """The body's bytes in since the last call (all of them, joined), once there are some; None at its end."""
        body = self._body
        while not body:
            if self._complete:
                return None
            await self._wait()
        data = body.popleft() if len(body) == 1 else b"".join(body)
        body.clear()
        self._buffered = 0
        if self._paused:
            self._paused = False
            self._connection.transport.resume_reading()
        return data

    async def read(self) -> bytes:
        parts = []
        while (data := await self.next_chunk()) is not None:
            parts.append(data)
        return b"".join(parts)

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        connection = self._connection
        connection.response = None
        if self._reusable and self._error is None and not self._body:
            if self._paused:
                connection.transport.resume_reading()
            connection.pool.keep(connection)
        else:
            connection.transport.abort()


def _time_out(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    """One keep-alive connection: a request at a time, its answer fed to `response`."""

    def __init__(self, pool: "_Pool", origin: tuple, proxy: str | None) -> None:
        self.pool, self.origin, self.proxy = pool, origin, proxy
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.closed = False
        self.idle_timer: asyncio.TimerHandle | None = None
        self.tunnel: asyncio.Future | None = None  # a CONNECT answer awaited through a proxy
        self._tunnel_head = b""

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.pool.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.response is not None:
            self.response.feed(data)
        elif self.tunnel is not None:
            self._tunnel_answer(data)
        else:  # bytes nobody asked for: the connection is out of step
            self.transport.abort()

    def eof_received(self) -> bool:
        return False  # closed: connection_lost ends any answer in progress

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.pool.forget(self)
        if self.response is not None:
            self.response.ended()
        if self.tunnel is not None and not self.tunnel.done():
            self.tunnel.set_exception(ConnectionLost("The proxy closed the connection."))

    def _tunnel_answer(self, data: bytes) -> None:
        self._tunnel_head += data
        if b"\r\n\r\n" in self._tunnel_head and not self.tunnel.done():
            status_line = self._tunnel_head.split(b"\r\n", 1)[0].split()
            if len(status_line) >= 2 and status_line[1] == b"200":
                self.tunnel.set_result(None)
            else:
                self.tunnel.set_exception(ConnectionRefusedError(
                    f"The proxy refused the tunnel: {b' '.join(status_line[1:]).decode('latin-1')[:100]}"))


class _Pool:
    """This event loop's connections: idle ones by origin (the most recently used first), and all of them."""

    def __init__(self) -> None:
        self.idle: dict[tuple, list[_Connection]] = {}
        self.connections: set[_Connection] = set()
        self.addresses: dict[tuple[str, int], tuple[float, list[str]]] = {}  # (host, port) -> (until, addresses)
        self.lookups: dict[tuple[str, int], asyncio.Task] = {}  # in progress, shared by every connection waiting

    async def connection(self, origin: tuple, proxy: str | None, timeout: float) -> _Connection:
        idle = self.idle.get((origin, proxy))
        while idle:
            connection = idle.pop()
            connection.idle_timer.cancel()
            if not connection.closed and not connection.transport.is_closing():
                return connection
        async with asyncio.timeout(timeout):
            return await self._connect(origin, proxy)

    def keep(self, connection: _Connection) -> None:
        connection.idle_timer = asyncio.get_running_loop().call_later(KEEPALIVE_SECONDS, connection.transport.close)
        self.idle.setdefault((connection.origin, connection.proxy), []).append(connection)

    def forget(self, connection: _Connection) -> None:
        self.connections.discard(connection)
        if connection.idle_timer is not None:
            connection.idle_timer.cancel()
        idle = self.idle.get((connection.origin, connection.proxy))
        if idle and connection in idle:
            idle.remove(connection)

    def close(self) -> None:
        for connection in list(self.connections):
            connection.transport.abort()

    async def _connect(self, origin: tuple, proxy: str | None) -> _Connection:
        loop = asyncio.get_running_loop()
        scheme, host, port = origin
        tls = _tls() if scheme == "https" else None

        def made() -> _Connection:
            return _Connection(self, origin, proxy)

        if proxy is None:
            return await self._open(made, host, port, tls)
        parts = urlsplit(proxy)
        connection = await self._open(made, parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme, 80),
                                      _tls() if parts.scheme == "https" else None)
        if tls is None:
            return connection  # plain http: each request names its whole URL to the proxy
        try:
            connection.tunnel = loop.create_future()
            authorization = _proxy_authorization(proxy)
            connection.transport.write(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode() + (
                f"Proxy-Authorization: {authorization}\r\n".encode() if authorization else b"") + b"\r\n")
            await connection.tunnel
            connection.tunnel = None
            connection.transport = await loop.start_tls(connection.transport, connection, tls, server_hostname=host)
        except BaseException:
            connection.transport.abort()
            raise
        return connection

    async def _open(self, made, host: str, port: int, tls: ssl.SSLContext | None) -> _Connection:
        """A new connection to host:port, its addresses tried in turn."""
        loop = asyncio.get_running_loop()
        failure: OSError | None = None
        for address in await self._addresses(host, port):
            try:
                _, connection = await loop.create_connection(made, address, port, ssl=tls,
                                                             server_hostname=tls and host)
                return connection
            except OSError as exc:
                failure = exc
        raise failure or OSError(f"No address for {host}.")

    async def _addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses, looked up once per DNS_SECONDS: a burst of new connections (a cold start, a thousand
        calls at once) makes one lookup, not one each in the resolver's few threads."""
        loop = asyncio.get_running_loop()
        known = self.addresses.get((host, port))
        if known is not None and known[0] > loop.time():
            return known[1]
        lookup = self.lookups.get((host, port))
        if lookup is None:
            lookup = self.lookups[(host, port)] = loop.create_task(self._lookup(host, port))
            lookup.add_done_callback(partial(self._looked_up, (host, port)))
        return await asyncio.shield(lookup)  # a caller that gives up does not cancel the others' lookup

    async def _lookup(self, host: str, port: int) -> list[str]:
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(info[4][0] for info in found))
        self.addresses[(host, port)] = (loop.time() + DNS_SECONDS, addresses)
        return addresses

    def _looked_up(self, key: tuple[str, int], lookup: asyncio.Task) -> None:
        del self.lookups[key]
        if not lookup.cancelled():
            lookup.exception()  # a failure is its waiters' to raise; with none left, it is not an orphan to report


def _tls() -> ssl.SSLContext:
    """The trust store the official SDKs (httpx) verify providers against: SSL_CERT_FILE when set (a company's CA in
    front of the providers), else certifi's bundle."""
    return _tls_context(os.environ.get("SSL_CERT_FILE") or certifi.where())


@lru_cache(maxsize=4)
def _tls_context(cafile: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)  # ~25 ms to load a bundle: once per file


_pools: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool]" = weakref.WeakKeyDictionary()


def _pool() -> _Pool:
    loop = asyncio.get_running_loop()
    pool = _pools.get(loop)
    if pool is None:
        pool = _pools[loop] = _Pool()
    return pool


async def close() -> None:
    """Close this event loop's connections (the data plane's shutdown, the end of `transport.run_sync`)."""
    pool = _pools.pop(asyncio.get_running_loop(), None)
    if pool is not None:
        pool.close()
        await asyncio.sleep(0)  # their sockets are released on the loop's next turn
