"""One threaded HTTP/1.1 server on loopback that answers as AWS (Bedrock Runtime, STS), Anthropic and
OpenAI(-compatible) providers do, so the official SDKs run their real code paths against it.

URL layout (one port):
    /model/{modelId}/converse[-stream]     Bedrock Runtime (SigV4 or Bedrock API key)
    /model/{modelId}/invoke[-with-response-stream]
    POST /                                 STS query API (GetCallerIdentity, GetSessionToken)
    /anthropic/v1/messages, /v1/models     Anthropic
    /{provider id}/v1                      OpenAI Chat Completions and Models, for OpenAI and each compatible provider;
                                           Embeddings (openai, mistral, zai); the Responses API (openai)
    /vertex/token, /vertex/v1/projects/…   Google OAuth2 (JWT bearer) and Vertex AI (Claude rawPredict, Gemini)
    /_simulator/stats|calls|reset|accounts control, for tests and benchmarks
Each prefix is the `simulator_path` the provider plug-in declares (`EndpointOverride`); `simulator_env` gives the
settings that point byok here.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from byok.providers import anthropic, vertex
from byok.providers.registry import PROVIDERS as BYOK_PROVIDERS
from byok.providers.registry import endpoint_overrides

from .accounts import (
    OPENAI_COMPATIBLE,
    Account,
    AccountRegistry,
    AccountsError,
    accounts_from_json,
    load_accounts,
)
from .anthropic_api import handle_anthropic
from .aws import handle_bedrock, handle_sts
from .openai_api import handle_openai_compatible
from .tls import write_self_signed_certificate
from .vertex import handle_vertex
from .wire import ConnectionDropped, SimRequest, SimResponse, SimulatorState, StreamAborted, json_response, logger

AccountsSource = str | Path | Iterable[Account | dict[str, Any]] | dict[str, Any] | None

ANTHROPIC_PATH = anthropic.ENDPOINT.simulator_path
VERTEX_PATH = vertex.ENDPOINT.simulator_path
OPENAI_COMPATIBLE_PATHS = {BYOK_PROVIDERS[provider].endpoint.simulator_path: provider for provider in OPENAI_COMPATIBLE}


def simulator_env(url: str) -> dict[str, str]:
    """The endpoint settings that point byok at a simulator serving on `url`: one per setting a provider reads."""
    return {setting: url + path for setting, path in endpoint_overrides().items()}


def _to_accounts(source: AccountsSource) -> list[Account]:
    """Accounts from a file path, `{"accounts": [...]}`, or a list of Account objects / dicts; None: the demo."""
    if source is None:
        return load_accounts()
    if isinstance(source, (str, Path)):
        return load_accounts(source)
    if isinstance(source, dict):
        return accounts_from_json(source)
    items = list(source)
    return [item if isinstance(item, Account) else accounts_from_json([item])[0] for item in items]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a keep-alive connection left open by a client must not block shutdown
    request_queue_size = 4096  # benchmarks open many connections at once (1,000 concurrent calls and more)
    ssl_context: ssl.SSLContext | None = None
    simulator: SimulatorServer

    def finish_request(self, request: socket.socket, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, so a slow client never stalls accept().
        if self.ssl_context is None:
            super().finish_request(request, client_address)
            return
        with self.ssl_context.wrap_socket(request, server_side=True) as tls_socket:
            super().finish_request(tls_socket, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients dropping connections is normal; keep it out of stderr.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: SDK connection pools reuse connections
    disable_nagle_algorithm = True  # headers and body go out in two writes; don't let Nagle delay the second
    timeout = 60  # idle keep-alive connections free their thread eventually
    server_version = "byok-provider-simulator"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._respond()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        request = SimRequest(method=self.command, path=path, query=query, headers=self.headers, body=body)
        try:
            response = self.server.simulator.route(request)
        except ConnectionDropped:
            logger.info("connection on %s closed without an answer (simulated network failure)", path)
            self.close_connection = True
            return
        except Exception:  # noqa: BLE001 -- a simulator bug must answer 500, not drop the keep-alive connection
            logger.exception("simulator failed on %s %s", self.command, path)
            response = json_response(500, {"message": "provider simulator internal error"})
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._write_chunked(response.stream)
            return
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _write_chunked(self, stream: Iterable[bytes]) -> None:
        """Each part as one chunk, sent at once; StreamAborted drops the connection with the body unfinished."""
        try:
            for part in stream:
                if part:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        except StreamAborted:
            logger.info("stream on %s aborted mid-body (simulated failure)", self.path.partition("?")[0])
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry paths only, never credentials; DEBUG keeps benchmarks quiet.
        logger.debug("%s " + format, self.address_string(), *args)


class SimulatorServer:
    """The provider simulator. `with SimulatorServer() as sim: boto3.client(..., endpoint_url=sim.url)`.

    accounts: a path to an accounts JSON file, its parsed content, a list of Account objects or dicts, or None for
    the demo accounts. port=0 picks a free port. tls=True serves HTTPS with a self-signed certificate (`ca_file`),
    which boto3 needs to send Bedrock API keys.
    """

    def __init__(
        self, accounts: AccountsSource = None, host: str = "127.0.0.1", port: int = 0, *, tls: bool = False
    ) -> None:
        self.state = SimulatorState(accounts=AccountRegistry(_to_accounts(accounts)), tls=tls)
        self._httpd = _HTTPServer((host, port), _RequestHandler)
        self._httpd.simulator = self
        self._thread: threading.Thread | None = None
        self._tls_dir: Path | None = None
        self.ca_file: Path | None = None
        if tls:
            self._tls_dir = Path(tempfile.mkdtemp(prefix="byok-simulator-tls-"))
            self.ca_file, key_file = write_self_signed_certificate(self._tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, key_file)
            self._httpd.ssl_context = context

    # --- addresses ------------------------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """The base URL; also the Bedrock Runtime and STS endpoint_url."""
        scheme = "https" if self._httpd.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def anthropic_base_url(self) -> str:
        return self.url + ANTHROPIC_PATH

    def openai_base_url(self, provider: str = "openai") -> str:
        """Base URL of OpenAI or an OpenAI-compatible provider (mistral, deepseek, xai, zai, groq, …)."""
        if provider not in OPENAI_COMPATIBLE:
            raise ValueError(f"Not an OpenAI-compatible provider: {provider}")
        return self.url + BYOK_PROVIDERS[provider].endpoint.simulator_path

    @property
    def vertex_base_url(self) -> str:
        """Vertex AI without its version: AnthropicVertex's base_url is this + /v1, google-genai's this + /."""
        return self.url + VERTEX_PATH

    @property
    def vertex_token_url(self) -> str:
        """Google's OAuth2 token endpoint (the `token_uri` of the key files this server accepts)."""
        return f"{self.vertex_base_url}/token"

    def vertex_service_account_json(self, name: str) -> str:
        """A vertex account's whole key file, as an owner pastes it, with this server's token_uri."""
        return self.account(name).service_account_json(self.vertex_token_url)

    def env(self) -> dict[str, str]:
        """The environment variables that point byok at this simulator."""
        return simulator_env(self.url)

    # --- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Serve in a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="provider-simulator", daemon=True
            )
            self._thread.start()
            logger.info("provider simulator listening on %s", self.url)
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the management command)."""
        logger.info("provider simulator listening on %s", self.url)
        try:
            self._httpd.serve_forever(poll_interval=0.1)
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._httpd.server_close()
        if self._tls_dir is not None:
            shutil.rmtree(self._tls_dir, ignore_errors=True)
            self._tls_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- control --------------------------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """{"calls": {operation: {access key id or account name: n}}, "by_account": {name: {operation: n}},
        "statuses": {operation: {"200": n, ...}}, "total": n}."""
        return self.state.stats.snapshot()

    def calls(self) -> list[dict[str, Any]]:
        """The call log, oldest first: one entry per call (operation, account, principal, status, endpoint, and
        where known region, model, betas and cache tokens)."""
        return self.state.stats.log()

    def reset(self) -> None:
        """Zero the call counters and empty the call log (accounts, issued session credentials, the prompt cache
        and stored responses stay)."""
        self.state.stats.reset()

    def forget_sessions(self) -> int:
        """Forget the STS sessions issued so far: calls signed with them are refused (InvalidClientTokenId)."""
        return self.state.accounts.forget_sessions()

    def add_accounts(self, accounts: AccountsSource) -> list[Account]:
        """Add accounts, replacing any with the same name; returns them."""
        added = _to_accounts(accounts)
        self.state.accounts.add(added)
        return added

    def account(self, name: str) -> Account:
        found = self.state.accounts.by_name(name)
        if found is None:
            raise KeyError(name)
        return found

    # --- routing --------------------------------------------------------------------------------------------------

    def route(self, request: SimRequest) -> SimResponse:
        path = request.path
        if path.startswith("/_simulator/"):
            return self._control(request, path.removeprefix("/_simulator"))
        if path.startswith(ANTHROPIC_PATH + "/"):
            return handle_anthropic(request, self.state, path.removeprefix(ANTHROPIC_PATH))
        if path.startswith(VERTEX_PATH + "/"):
            return handle_vertex(request, self.state, path.removeprefix(VERTEX_PATH))
        if path.startswith("/model/"):
            return handle_bedrock(request, self.state)
        if path == "/" and request.method == "POST":
            return handle_sts(request, self.state)
        prefix = "/".join(path.split("/", 3)[:3])  # /groq/v1/chat/completions -> /groq/v1
        provider = OPENAI_COMPATIBLE_PATHS.get(prefix)
        if provider and path.startswith(prefix + "/"):
            return handle_openai_compatible(request, self.state, provider, path.removeprefix(prefix))
        return json_response(404, {"message": f"No simulated API at {request.method} {path}"})

    def _control(self, request: SimRequest, path: str) -> SimResponse:
        if request.method == "GET" and path == "/stats":
            return json_response(200, self.stats())
        if request.method == "GET" and path == "/calls":
            return json_response(200, {"calls": self.calls()})
        if request.method == "GET" and path.startswith("/vertex/") and path.endswith(".json"):
            try:
                key_file = self.vertex_service_account_json(path.removeprefix("/vertex/").removesuffix(".json"))
            except (KeyError, ValueError):
                return json_response(404, {"error": "No vertex account with a key file by that name."})
            return SimResponse(status=200, body=key_file.encode(), headers={"Content-Type": "application/json"})
        if request.method == "POST" and path == "/reset":
            self.reset()
            return json_response(200, {"reset": True})
        if request.method == "POST" and path == "/forget-sessions":
            return json_response(200, {"forgotten": self.forget_sessions()})
        if request.method == "POST" and path == "/accounts":
            try:
                added = self.add_accounts(json.loads(request.body or b"null"))
            except (AccountsError, ValueError, TypeError) as error:
                return json_response(400, {"error": str(error)})
            return json_response(200, {"accounts": [account.name for account in added]})
        return json_response(404, {"error": f"No control endpoint {request.method} /_simulator{path}"})
