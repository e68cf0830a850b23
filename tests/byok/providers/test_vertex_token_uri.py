"""A key file's token_uri can point byok's servers nowhere but Google's token endpoint: whatever the spelling, a
refused value opens no connection (a loopback listener records every attempt), is refused with one answer, and a
value saved in sandbox mode is refused at use once the sandbox is gone."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from byok.providers.base import CredentialsInvalid
from byok.providers.outcomes import Category
from byok.providers.registry import PROVIDERS
from byok.providers.vertex import GOOGLE_TOKEN_URI, google_credentials, token_endpoint
from byok.simulator.accounts import new_service_account

VERTEX = PROVIDERS["vertex"]
REFUSAL = f"The token_uri in the key file must be Google's token endpoint ({GOOGLE_TOKEN_URI})."


class Recorder:
    """Listens on 127.0.0.1 (and ::1 when the host has it) and counts every connection attempt."""

    def __init__(self):
        self.attempts = 0
        self.sockets = [socket.create_server(("127.0.0.1", 0))]
        self.port = self.sockets[0].getsockname()[1]
        try:
            self.sockets.append(socket.create_server(("::1", self.port), family=socket.AF_INET6))
        except OSError:
            pass
        for listener in self.sockets:
            listener.settimeout(0.1)
            threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        self.running = True

    def _accept(self, listener):
        while getattr(self, "running", True):
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            self.attempts += 1
            connection.close()

    def close(self):
        self.running = False
        for listener in self.sockets:
            listener.close()


@pytest.fixture
def recorder():
    listener = Recorder()
    yield listener
    listener.close()


def hostile_token_uris(port: int) -> list[str]:
    return [
        f"https://127.0.0.1:{port}\\@oauth2.googleapis.com/token",  # userinfo that urlsplit and urllib3 read apart
        f"https://127.0.0.1:{port}@oauth2.googleapis.com/token",
        f"https://oauth2.googleapis.com@127.0.0.1:{port}/token",
        f"https://oauth2.googleapis.com%2F@127.0.0.1:{port}/token",
        f"https://oauth2.googleapis.com%40127.0.0.1:{port}/token",
        f"https://127.0.0.1:{port}#@oauth2.googleapis.com/token",
        f"https://127.0.0.1:{port}?@oauth2.googleapis.com/token",
        f"https://127.0.0.1:{port}/token",
        f"http://127.0.0.1:{port}/token",
        f"HTTPS://127.0.0.1:{port}/token",
        f"https://LOCALHOST:{port}/token",
        f"https://localhost.:{port}/token",
        f"https://[::1]:{port}/token",
        f"https://[::ffff:127.0.0.1]:{port}/token",
        f"https://2130706433:{port}/token",
        f"https://0x7f.0.0.1:{port}/token",
        f"https://%31%32%37.0.0.1:{port}/token",
        f"https:\\\\127.0.0.1:{port}/token",
        f"https:/127.0.0.1:{port}/token",
        f"//127.0.0.1:{port}/token",
        f"https://oauth2.googleapis.com:{port}/token",
        "https://oauth2.googleapis.com./token",
        f"https://oauth2.googleapis.com.127.0.0.1.nip.io:{port}/token",
        "https://ｏauth2.googleapis.com/token",  # a full-width o (IDNA maps it)
        "https://xn--auth2-tw4b.googleapis.com/token",
        f"https://oauth2.googleapis.com\t@127.0.0.1:{port}/token",
        f"https://oauth2.googleapis.com /token@127.0.0.1:{port}",
        "https://oauth2.googleapis.com/token?redirect=http://127.0.0.1/",
        "https://oauth2.googleapis.com/other",
        "https://metadata.google.internal/computeMetadata/v1/token",
        "file:///etc/passwd",
        "https://oauth2.googleapis.com",
    ]


def key_file(token_uri) -> str:
    return json.dumps(new_service_account(project_id="acme-prod", account_name="byok-caller", token_uri=token_uri))


def stored(token_uri) -> dict:
    """Credentials as a stored row holds them, without today's check (saved earlier, or in sandbox mode)."""
    return {"service_account_json": key_file(token_uri), "location": "global"}


def test_every_spelling_of_another_host_is_refused_with_one_answer_and_no_connection(settings, recorder):
    settings.BYOK_ENDPOINTS = {}
    refusals, slowest = set(), 0.0
    for token_uri in hostile_token_uris(recorder.port):
        with pytest.raises(CredentialsInvalid) as raised:
            VERTEX.clean({"service_account_json": key_file(token_uri), "location": "global"})
        refusals.add(raised.value.fields["credentials.service_account_json"][0].split(" Download")[0])
        started = time.perf_counter()
        with pytest.raises(ValueError):
            token_endpoint(token_uri, sandbox=False)
        slowest = max(slowest, time.perf_counter() - started)
    assert refusals == {REFUSAL}
    assert slowest < 0.05  # parsing only: no lookup, no connection, whatever the address
    assert recorder.attempts == 0


def test_a_stored_token_uri_is_checked_again_at_use_and_opens_no_connection(settings, recorder):
    settings.BYOK_ENDPOINTS = {}
    for token_uri in hostile_token_uris(recorder.port):
        token, *_ = VERTEX.check(stored(token_uri))
        assert (token.ok, token.category, token.code) == (False, Category.INVALID_CREDENTIALS, "token_uri_refused")
    assert recorder.attempts == 0


def test_a_loopback_token_uri_saved_in_sandbox_mode_does_not_outlive_the_sandbox(settings, recorder):
    loopback = f"http://127.0.0.1:{recorder.port}/token"
    settings.BYOK_ENDPOINTS = {"BYOK_VERTEX_BASE_URL": "http://127.0.0.1:9/vertex"}
    credentials = VERTEX.clean({"service_account_json": key_file(loopback), "location": "global"}).credentials
    settings.BYOK_ENDPOINTS = {}
    token, *_ = VERTEX.check(credentials)
    assert (token.ok, token.code) == (False, "token_uri_refused")
    assert recorder.attempts == 0


@pytest.mark.parametrize("token_uri", ["https://OAUTH2.GoogleAPIs.com/token", "https://oauth2.googleapis.com:443/token"])
def test_google_spelled_another_way_is_exchanged_at_the_allowlisted_url_itself(settings, token_uri):
    settings.BYOK_ENDPOINTS = {}
    info = json.loads(VERTEX.clean({"service_account_json": key_file(token_uri),
                                    "location": "global"}).credentials["service_account_json"])
    assert google_credentials(info, timeout=1)._token_uri == GOOGLE_TOKEN_URI


def test_a_token_endpoint_answering_a_redirect_to_an_internal_host_is_not_followed(settings, recorder):
    target = f"http://127.0.0.1:{recorder.port}/token"

    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings.BYOK_ENDPOINTS = {"BYOK_VERTEX_BASE_URL": f"http://127.0.0.1:{server.server_port}/vertex"}
        token, *_ = VERTEX.check(stored(GOOGLE_TOKEN_URI))
    finally:
        server.shutdown()
        server.server_close()
    assert (token.ok, token.category) == (False, Category.INVALID_CREDENTIALS)
    assert recorder.attempts == 0


@pytest.mark.parametrize("region", ["127.0.0.1:8799#", "evil.example/x?", "x@127.0.0.1", "us-east-1.evil.example"])
def test_a_stored_bedrock_region_that_is_no_region_never_becomes_a_host(settings, region):
    from byok.providers.bedrock.aws_async import BedrockAsyncClient
    from byok.providers.outcomes import Failure

    settings.BYOK_ENDPOINTS = {}
    with pytest.raises(Failure) as refused:
        BedrockAsyncClient({"access_key_id": "AKIAEXAMPLE", "secret_access_key": "x"}, region=region, timeout=1)
    assert (refused.value.category, refused.value.code) == (Category.INVALID_CREDENTIALS, "InvalidRegion")
