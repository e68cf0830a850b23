"""The data plane's HTTP transport against a raw HTTP server on loopback: what it sends (the path exactly as built, no
cookies between calls), and how it fails (error statuses, refused connections, read timeouts)."""

import asyncio
import socket

import pytest

from byok.providers import transport


class Upstream:
    """A one-route HTTP/1.1 server that records each request head and answers from a list of canned responses."""

    def __init__(self, responses: list[bytes], delay: float = 0.0) -> None:
        self.responses, self.delay, self.heads = list(responses), delay, []

    async def handle(self, reader, writer) -> None:
        try:
            while self.responses:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.heads.append(head.decode())
                await asyncio.sleep(self.delay)
                writer.write(self.responses.pop(0))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def answer(status: str, body: bytes, *headers: str) -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


async def serve(upstream: Upstream, exercise, host: str = "127.0.0.1"):
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await exercise(f"http://{host}:{port}")
    finally:
        await transport.close()
        server.close()


def test_a_providers_cookie_never_travels_to_the_next_call():
    upstream = Upstream([answer("200 OK", b"{}", "Set-Cookie: __cf_bm=tenant-a; Path=/"), answer("200 OK", b"{}")])

    async def two_tenants(base):
        first = transport.ApiClient(base, headers={"Authorization": "Bearer tenant-a"}, timeout=5)
        second = transport.ApiClient(base, headers={"Authorization": "Bearer tenant-b"}, timeout=5)
        return await first.post_json("/v1/x", {}), await second.post_json("/v1/x", {})

    # A host name: cookie jars keep no cookies for bare IP addresses, which would hide a shared jar.
    assert asyncio.run(serve(upstream, two_tenants, host="localhost")) == ({}, {})
    assert "Bearer tenant-b" in upstream.heads[1] and "cookie" not in upstream.heads[1].lower()


def test_the_path_goes_out_exactly_as_built():
    upstream = Upstream([answer("200 OK", b'{"ok": true}')])

    async def call(base):
        return await transport.post_json(f"{base}/model/us.anthropic.claude%3A0/converse", headers={},
                                         data=b"{}", timeout=5)

    assert asyncio.run(serve(upstream, call)) == {"ok": True}
    assert upstream.heads[0].startswith("POST /model/us.anthropic.claude%3A0/converse HTTP/1.1")


def test_an_error_status_keeps_its_body_for_the_classifier_but_not_in_its_message():
    body = b'{"error": {"type": "invalid_request_error", "message": "echoes sk-secret"}}'
    upstream = Upstream([answer("400 Bad Request", body)])

    async def call(base):
        with pytest.raises(transport.HttpStatusError) as raised:
            await transport.ApiClient(base, headers={}, timeout=5).post_json("/v1/x", {})
        return raised.value

    error = asyncio.run(serve(upstream, call))
    assert (error.status, str(error)) == (400, "HTTP 400")
    assert error.json()["error"]["type"] == "invalid_request_error"


def test_a_refused_connection_is_transport_failed():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def call():
        try:
            await transport.post_json(f"http://127.0.0.1:{port}/v1/x", headers={}, data=b"{}", timeout=5)
        finally:
            await transport.close()

    with pytest.raises(transport.TransportFailed):
        asyncio.run(call())


def test_a_provider_slower_than_the_read_timeout_is_a_timeout():
    upstream = Upstream([answer("200 OK", b"{}")], delay=1.0)

    async def call(base):
        with pytest.raises(TimeoutError):
            await transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=0.2)
        return True

    assert asyncio.run(serve(upstream, call))


@pytest.mark.parametrize("body", [b'{"id":"chatcmpl-1","choi', b"", b"[]", b'"text"', b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_the_provider_failing(body):
    from byok.providers.outcomes import Category, Failure

    with pytest.raises(Failure) as failed:
        transport.parse_json(body)
    assert failed.value.category == Category.PROVIDER_UNAVAILABLE and failed.value.fallback_eligible
    assert failed.value.code == "MalformedBody"


EMBEDDINGS = b'{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"m",' \
             b'"usage":{"prompt_tokens":3,"total_tokens":3,"prompt_tokens_details":{"cached_tokens":0}}}'


@pytest.mark.parametrize("body", [EMBEDDINGS, b" \n" + EMBEDDINGS.replace(b":", b": ") + b"\n"])
def test_a_passed_through_answer_is_read_for_its_usage_from_its_end_and_kept_as_it_came(body):
    answer = transport.Verbatim(body)
    assert answer["usage"] == {"prompt_tokens": 3, "total_tokens": 3, "prompt_tokens_details": {"cached_tokens": 0}}
    assert answer.raw is body


def test_an_answer_whose_usage_is_not_last_is_read_whole():
    body = b'{"usage":{"prompt_tokens":3,"total_tokens":3},"data":[{"embedding":[0.5]}]}'
    answer = transport.Verbatim(body)
    assert answer["usage"]["prompt_tokens"] == 3 and answer["data"] == [{"embedding": [0.5]}]
    assert transport.Verbatim(b'{"error":{"message":"no"}}') == {"error": {"message": "no"}}


@pytest.mark.parametrize("body", [b"<html>" + EMBEDDINGS + b"</html>", EMBEDDINGS[:-1], b'"usage":{"x":1}}',
                                  b'{"data":[1,,2],"usage":[1]}', b""])
def test_a_passed_through_body_of_another_form_that_is_not_a_json_object_is_the_provider_failing(body):
    from byok.providers.outcomes import Category, Failure

    with pytest.raises(Failure) as failed:
        transport.Verbatim(body)
    assert failed.value.category == Category.PROVIDER_UNAVAILABLE



def events_streamed(pieces: list[bytes]) -> list[tuple]:
    """What sse_events reads from a chunked event stream whose pieces are sent and flushed one by one (each its own
    read on our side)."""
    async def handle(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.02)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def read():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x"
        try:
            return [event async for event in transport.sse_events(await transport.post(url, headers={}, data=b"{}",
                                                                                      timeout=5))]
        finally:
            await transport.close()
            server.close()

    return asyncio.run(read())


@pytest.mark.parametrize("pieces", [
    [b"event: a\ndata: 1\n\n", b"data: 2\n\n"],  # each event whole in its read
    # cut anywhere: inside a field name, between a CR and its LF, before a blank line; a comment between events
    [b"event: a\r", b"\ndat", b"a: 1\r\n", b"\r\n: a comment\r\ndata: 2", b"\r\n", b"\r\n"],
    [b"event: a\ndata: 1\n\n", b"data: 2"],  # the stream ends without the last event's blank line
])
def test_stream_events_are_the_same_wherever_the_reads_cut_them(pieces):
    assert events_streamed(pieces) == [("a", "1"), (None, "2")]


def test_a_data_field_on_several_lines_is_one_event():
    assert events_streamed([b'data: {"a":\ndata: 1}\n\n']) == [(None, '{"a":\n1}')]
