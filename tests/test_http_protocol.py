"""The web server's HTTP protocol (byok_project.http_protocol): a response's head leaves in the same write as its
first body bytes, on a transport that records each write as the socket would see it."""

import asyncio
import socket

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from byok_project.http_protocol import HttpProtocol

EVENTS = [b"data: {\"n\":1}\n\n", b"data: {\"n\":2}\n\n"]


class RecordingTransport:
    """Each write (a writelines is one writev) as one entry, and whether the connection was closed after them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        if data:
            self.writes.append(data)

    def writelines(self, chunks) -> None:
        self.writes.append(b"".join(chunks))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    sock: socket.socket | None = None

    def get_extra_info(self, name: str, default=None):
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000), "socket": self.sock}.get(name,
                                                                                                         default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def stream(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for event in EVENTS:
        await send({"type": "http.response.body", "body": event, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def no_content(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def serve(app, request: bytes, sock: socket.socket | None = None) -> RecordingTransport:
    async def run() -> RecordingTransport:
        transport = RecordingTransport()
        transport.sock = sock
        protocol = HttpProtocol(Config(app=app, lifespan="off", log_level="warning"), ServerState(), {},
                                asyncio.get_running_loop())
        protocol.connection_made(transport)
        protocol.data_received(request)
        for _ in range(100):
            if protocol.cycle.response_complete:
                break
            await asyncio.sleep(0.001)
        protocol.connection_lost(None)
        return transport

    return asyncio.run(run())


def head_of(write: bytes) -> bytes:
    head, _, _ = write.partition(b"\r\n\r\n")
    return head


def test_a_streams_head_leaves_with_its_first_event_and_each_event_after_in_its_own_write():
    transport = serve(stream, b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}")
    first, second, end = transport.writes
    assert head_of(first).startswith(b"HTTP/1.1 200 OK") and b"transfer-encoding: chunked" in head_of(first)
    assert first.endswith(b"\r\n\r\n" + b"%x\r\n" % len(EVENTS[0]) + EVENTS[0] + b"\r\n")
    assert second == b"%x\r\n" % len(EVENTS[1]) + EVENTS[1] + b"\r\n"
    assert end == b"0\r\n\r\n"


@pytest.mark.parametrize("request_line", [b"HEAD /v1/models HTTP/1.1", b"DELETE /v1/anything HTTP/1.1"])
def test_a_response_without_body_bytes_writes_its_head_when_it_ends(request_line):
    app = stream if request_line.startswith(b"HEAD") else no_content
    transport = serve(app, request_line + b"\r\nHost: t\r\n\r\n")
    [head] = transport.writes
    assert head.startswith(b"HTTP/1.1 204" if app is no_content else b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")


def test_a_closing_connection_writes_the_head_before_it_closes():
    transport = serve(no_content, b"GET /v1/models HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    [head] = transport.writes
    assert head.startswith(b"HTTP/1.1 204") and b"connection: close" in head and transport.closed


def test_100_continue_is_not_held_back():
    transport = serve(stream, b"POST /v1/messages HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                              b"Content-Length: 2\r\n\r\n{}")
    assert transport.writes[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert transport.writes[1].startswith(b"HTTP/1.1 200 OK") and transport.writes[1].endswith(EVENTS[0] + b"\r\n")


def test_nagle_is_off_on_a_connection_whatever_made_its_socket():
    """A listening socket made without naming TCP (as one handed over by uvicorn --workers or a supervisor is):
    asyncio leaves Nagle on for what it accepts, and each answer waited ~40 ms for the client's delayed ACK."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
                serve(no_content, b"GET /v1/models HTTP/1.1\r\nHost: t\r\n\r\n", sock=accepted)
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
