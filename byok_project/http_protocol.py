"""The web server's HTTP/1.1 protocol: uvicorn's httptools protocol, with each response's head written together
with its first body bytes.

    uvicorn byok_project.asgi:application --http byok_project.http_protocol:HttpProtocol ...

uvicorn writes `http.response.start` to the socket the moment the app sends it, and each body message as a write of
its own; on a socket with TCP_NODELAY (uvloop sets it) the head and a stream's first event leave as two packets, and
the client wakes for a head it cannot use yet. The app sending both back to back does not help: uvloop writes each
at once. Here the head is held until the response's first body bytes and both leave in one write (one packet);
a response that ends without body bytes (HEAD, 204) writes its head when it ends. Every response gains it: streamed
events and JSON answers alike, with one write (one system call) fewer each. The data plane sends a stream's head
only once the provider's first event is in hand, so holding it costs nothing: an error before that is still a JSON
answer with its own status.

It leans on uvicorn's RequestResponseCycle (its `transport`, `response_started` and `on_response`), pinned in
requirements.txt: tests/test_http_protocol.py fails if an upgrade changes them.
"""

import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class HttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport) -> None:
        # Nagle's algorithm off on every connection, whatever made the socket: asyncio turns it off only on sockets
        # created as TCP (`proto == IPPROTO_TCP`), and a socket uvicorn's --workers or a supervisor hands over is not
        # one of them; each answer then waited ~40 ms for the client's delayed ACK.
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a request to answer (an upgrade makes none); its app has not run yet
            self.cycle.transport = _HeadWithFirstBytes(self.cycle)


class _HeadWithFirstBytes:
    """One response's transport until its head has left: writes before the head (100 Continue) pass, the head waits
    for the first body bytes or the end of the response; then the cycle writes to the connection's transport again."""

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._transport, self._cycle = cycle.transport, cycle
        self._head: bytes | None = None
        completed = cycle.on_response

        def on_response() -> None:
            self._release()
            completed()

        cycle.on_response = on_response

    def write(self, data: bytes) -> None:
        if self._head is None and self._cycle.response_started:  # uvicorn writes the head once the response started
            self._head = data
        elif self._head is None:
            self._transport.write(data)
        elif data:
            self._transport.writelines((self._head, data))  # one writev, no copy of the body
            self._head_sent()

    def close(self) -> None:
        self._release()
        self._transport.close()

    def _release(self) -> None:
        """The response ends, or its connection closes, before any body bytes: the head leaves alone."""
        if self._head is not None:
            self._transport.write(self._head)
            self._head_sent()

    def _head_sent(self) -> None:
        self._head = None
        self._cycle.transport = self._transport

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
