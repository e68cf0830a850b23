"""The data plane's HTTP transport against a raw HTTP server on loopback: what it sends (the path exactly as built, no
cookies between calls, through a proxy), how it keeps connections, and how it fails (error statuses, refused
connections, answers cut short, read timeouts)."""

import asyncio
import base64
import socket
from contextlib import aclosing

import pytest

from byok.providers import transport


class Upstream:
    """A one-route HTTP/1.1 server that records each request head and answers from a list of canned responses (a
    list of parts: sent 0.2 s apart)."""

    def __init__(self, responses: list[bytes], delay: float = 0.0, keep_alive: bool = True) -> None:
        self.responses, self.delay, self.heads, self.connections = list(responses), delay, [], 0
        self.keep_alive = keep_alive  # False: each connection is closed once its answer is sent, without saying so

    async def handle(self, reader, writer) -> None:
        self.connections += 1
        try:
            while self.responses:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.heads.append(head.decode())
                await asyncio.sleep(self.delay)
                response = self.responses.pop(0)
                for number, part in enumerate(response if isinstance(response, list) else [response]):
                    await asyncio.sleep(0.2 if number else 0)
                    writer.write(part)
                    await writer.drain()
                if not self.keep_alive:
                    break
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


def test_connections_are_kept_for_the_next_call_unless_the_provider_closes_them():
    upstream = Upstream([answer("200 OK", b'{"n": 1}'), answer("200 OK", b'{"n": 2}', "Connection: close"),
                         answer("200 OK", b'{"n": 3}')])

    async def three_calls(base):
        client = transport.ApiClient(base, headers={}, timeout=5)
        return [await client.post_json("/v1/x", {}) for _ in range(3)]

    assert asyncio.run(serve(upstream, three_calls)) == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert upstream.connections == 2  # the second answer closed the first connection


def test_a_kept_connection_the_provider_closed_while_idle_is_not_used_again():
    upstream = Upstream([answer("200 OK", b'{"n": 1}'), answer("200 OK", b'{"n": 2}')], keep_alive=False)

    async def two_calls(base):
        first = await transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)
        await asyncio.sleep(0.1)  # idle: the provider's close arrives meanwhile
        return first, await transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)

    assert asyncio.run(serve(upstream, two_calls)) == ({"n": 1}, {"n": 2})
    assert upstream.connections == 2


def test_a_stream_is_read_as_it_comes_and_a_reader_that_stops_early_leaves_no_connection_behind():
    events = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in (b"data: 1\n\n", b"data: 2\n\n")) + b"0\r\n\r\n"
    stream = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + events
    cut = stream.index(b"data: 2") - 4  # the second event comes later
    upstream = Upstream([stream, [stream[:cut], stream[cut:]], answer("200 OK", b"{}")])

    async def calls(base):
        read = [data async for _, data in transport.sse_events(await transport.post(
            f"{base}/v1/s", headers={}, data=b"{}", timeout=5))]
        async with aclosing(transport.sse_events(await transport.post(f"{base}/v1/s", headers={}, data=b"{}",
                                                                      timeout=5))) as events:
            first = await anext(events)
        return read, first, await transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)

    assert asyncio.run(serve(upstream, calls)) == (["1", "2"], (None, "1"), {})
    assert upstream.connections == 2  # the first kept; the stream left unread closed


def test_an_answer_cut_short_is_transport_failed():
    upstream = Upstream([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\": 1"])

    async def call(base):
        with pytest.raises(transport.TransportFailed) as raised:
            await transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)
        return raised.value.code

    assert asyncio.run(serve(upstream, call)) == "ConnectionLost"


def test_a_reader_far_behind_pauses_the_connection_and_loses_nothing():
    body = bytes(range(256)) * 12_000  # 3 MB: past the point where the connection stops reading
    upstream = Upstream([answer("200 OK", body)])

    async def call(base):
        response = await transport.post(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)
        await asyncio.sleep(0.3)  # the answer arrives meanwhile
        return b"".join([data async for data in transport.chunks(response)])

    assert asyncio.run(serve(upstream, call)) == body


def test_a_header_with_a_line_break_is_refused_before_anything_is_sent():
    upstream = Upstream([answer("200 OK", b"{}")])

    async def call(base):
        with pytest.raises(ValueError) as raised:
            await transport.post_json(f"{base}/v1/x", headers={"Authorization": "Bearer sk-1\r\nX-Evil: 1"},
                                      data=b"{}", timeout=5)
        return str(raised.value)

    message = asyncio.run(serve(upstream, call))
    assert "Authorization" in message and "sk-1" not in message and upstream.heads == []


def test_plain_http_goes_through_the_proxy_with_its_credentials(monkeypatch):
    proxy = Upstream([answer("200 OK", b'{"via": "proxy"}')])

    async def call(base):
        monkeypatch.setenv("HTTP_PROXY", base.replace("http://", "http://relay%40corp:p%3Ass@"))
        return await transport.post_json("http://plain-provider.invalid:8080/v1/x?a=1", headers={}, data=b"{}",
                                         timeout=5)

    assert asyncio.run(serve(proxy, call)) == {"via": "proxy"}
    head = proxy.heads[0]
    assert head.startswith("POST http://plain-provider.invalid:8080/v1/x?a=1 HTTP/1.1")
    assert "Host: plain-provider.invalid:8080" in head
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'relay@corp:p:ss').decode()}" in head


def test_https_goes_through_a_tunnel_and_a_refused_tunnel_is_transport_failed(monkeypatch):
    proxy = Upstream([b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"])

    async def call(base):
        monkeypatch.setenv("HTTPS_PROXY", base.replace("http://", "http://relay:secret@"))
        with pytest.raises(transport.TransportFailed) as raised:
            await transport.post_json("https://tls-provider.invalid/v1/x", headers={}, data=b"{}", timeout=5)
        return raised.value.code

    assert asyncio.run(serve(proxy, call)) == "ConnectionRefusedError"
    assert proxy.heads[0].startswith("CONNECT tls-provider.invalid:443 HTTP/1.1\r\nHost: tls-provider.invalid:443")
    assert f"Proxy-Authorization: Basic {base64.b64encode(b'relay:secret').decode()}" in proxy.heads[0]


def test_a_host_is_looked_up_once_for_a_burst_of_new_connections():
    upstream = Upstream([answer("200 OK", b'{"n": 1}')] * 20, delay=0.05)  # slow enough to need 20 connections
    lookups = []

    async def burst(base):
        loop = asyncio.get_running_loop()
        resolve = loop.getaddrinfo

        async def counted(host, *args, **kwargs):  # the platform's resolver, counted
            lookups.append(host)
            return await resolve(host, *args, **kwargs)

        loop.getaddrinfo = counted
        return await asyncio.gather(*(transport.post_json(f"{base}/v1/x", headers={}, data=b"{}", timeout=5)
                                      for _ in range(20)))

    assert asyncio.run(serve(upstream, burst, host="localhost")) == [{"n": 1}] * 20
    assert upstream.connections == 20 and lookups == ["localhost"]  # /etc/hosts: no query leaves the machine


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


def test_a_provider_over_tls_is_verified_against_certifi_or_ssl_cert_file(simulator_tls, monkeypatch):
    """The simulator's certificate is self-signed: refused against certifi's bundle, trusted once SSL_CERT_FILE names
    its CA (as the official SDKs' httpx honours it), and the stream then comes over TLS."""
    key = simulator_tls.account("demo-openai").api_key
    body = {"model": "gpt-5-mini", "messages": [{"role": "user", "content": "Say hello."}], "stream": True}

    async def stream():
        client = transport.ApiClient(f"{simulator_tls.url}/openai/v1", headers={"Authorization": f"Bearer {key}"},
                                     timeout=5)
        try:
            return [data async for _, data in transport.sse_events(await client.post("/chat/completions", body))]
        finally:
            await transport.close()

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with pytest.raises(transport.TransportFailed) as refused:
        asyncio.run(stream())
    assert refused.value.code == "SSLCertVerificationError"
    monkeypatch.setenv("SSL_CERT_FILE", str(simulator_tls.ca_file))
    events = asyncio.run(stream())
    assert events[-1] == "[DONE]" and any('"content":"' in event for event in events)
