"""Google Vertex AI with a service-account key file: Claude (rawPredict / streamRawPredict, the Anthropic Messages
API) and Gemini (generateContent / streamGenerateContent) through the shared transport, with OAuth2 access tokens
that `google-auth` obtains from the key file (a JWT signed with its private key, exchanged at its `token_uri`)."""

import asyncio
import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

import google.auth.exceptions
import google.auth.transport.requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.views.decorators.debug import sensitive_variables
from google.oauth2 import service_account
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from . import transport
from .http_sdk import with_reason
from .anthropic import count_tokens_acall, messages_acall
from .base import (
    Call,
    CleanedKey,
    CredentialField,
    Credentials,
    CredentialsInvalid,
    EndpointOverride,
    PlatformCredentials,
    Provider,
    endpoint,
)
from .outcomes import Category, CheckResult, Failure, check_timeout, run_concurrently
from .translate import RequestInvalid
from .translate.embeddings import EMBEDDINGS_ON_VERTEX, embeddings_request, embeddings_response
from .translate.messages import MESSAGES_ON_VERTEX
from .translate.gemini_chat import GeminiStreamToChat, chat_to_gemini, gemini_to_chat

CLAUDE_ON_VERTEX = {"standard": "claude-sonnet-5-5", "complex": "claude-opus-5-5"}
GEMINI_MODELS = ("gemini-2.5-pro", "gemini-2.5-flash")
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# Vertex AI without its version; when overridden, Google's token exchange goes to <override>/token too.
ENDPOINT = EndpointOverride("BYOK_VERTEX_BASE_URL", simulator_path="/vertex")
CONSOLE = "the Google Cloud console"
# Where Vertex AI serves Claude and Gemini; `global` routes each request to any region with capacity.
LOCATIONS = (
    "global", "us-east5", "us-central1", "us-east1", "us-east4", "us-south1", "us-west1", "us-west4",
    "northamerica-northeast1", "southamerica-east1", "europe-west1", "europe-west2", "europe-west3", "europe-west4",
    "europe-west6", "europe-west8", "europe-west9", "europe-north1", "europe-southwest1", "asia-east1",
    "asia-northeast1", "asia-northeast3", "asia-south1", "asia-southeast1", "australia-southeast1", "me-central1",
)
_PROJECT_ID = re.compile(r"(?:[a-z0-9.-]{1,63}:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_CLIENT_EMAIL = re.compile(r"[a-z][a-z0-9-]{4,62}@[a-z0-9.:-]{1,100}\.iam\.gserviceaccount\.com")
_KEY_ID = re.compile(r"[0-9a-fA-F]{16,64}")
# The token endpoints Google has written into key files, by host and path (the exchange always goes to the value).
GOOGLE_TOKEN_ENDPOINTS = {"oauth2.googleapis.com/token": GOOGLE_TOKEN_URI,
                          "accounts.google.com/o/oauth2/token": "https://accounts.google.com/o/oauth2/token",
                          "www.googleapis.com/oauth2/v4/token": "https://www.googleapis.com/oauth2/v4/token"}
_URL_CHARACTERS = re.compile(r"[A-Za-z0-9:/._~\[\]-]{1,200}")  # no userinfo, escapes, backslashes, spaces, queries
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_FILE = "the key file"


def _reject(reason: str) -> None:
    raise ValueError(f"{reason} Download a new JSON key (IAM & Admin → Service accounts → Keys → Add key → JSON) "
                     "and paste the whole file.")


def _string(info: dict, name: str) -> str:
    value = info.get(name)
    if value is None:
        _reject(f"{_FILE.capitalize()} has no {name}.")
    if not isinstance(value, str):
        _reject(f"The {name} in {_FILE} must be a string.")
    if not value.strip():
        _reject(f"The {name} in {_FILE} is blank.")
    return value


def token_endpoint(value: object, *, sandbox: bool) -> str:
    """The URL byok POSTs a key file's signed assertion to, for the file's `token_uri`: Google's token endpoint only
    (a pasted file is no way to point byok's servers at another host). The value is parsed once, by urllib3 (the
    parser under google-auth's transport), matched against the allowlist, and what is handed on is the allowlisted
    constant, never the pasted text. In sandbox mode a loopback URL is accepted too (its exchange goes to the
    simulator). Every refusal is the same ValueError, before any connection, whatever the address."""
    parts = None
    if isinstance(value, str) and _URL_CHARACTERS.fullmatch(value):
        try:
            parts = parse_url(value)
        except LocationParseError:
            pass
    if parts is not None and parts.auth is None and parts.query is None and parts.fragment is None:
        if parts.scheme == "https" and parts.port in (None, 443):
            allowed = GOOGLE_TOKEN_ENDPOINTS.get(f"{parts.host}{parts.path}")
            if allowed:
                return allowed
        if sandbox and parts.scheme in ("http", "https") and parts.host in _LOOPBACK_HOSTS:
            return value
    _reject(f"The token_uri in {_FILE} must be Google's token endpoint ({GOOGLE_TOKEN_URI}).")


@sensitive_variables()
def _check_private_key(value: str) -> None:
    if not value.lstrip().startswith("-----BEGIN") or "PRIVATE KEY-----" not in value:
        _reject(f"The private_key in {_FILE} is not a PEM private key (-----BEGIN PRIVATE KEY----- …).")
    key, problem = None, ""
    try:
        key = serialization.load_pem_private_key(value.encode(), password=None)
    except TypeError:  # the PEM is encrypted: service-account keys never are
        problem = "is encrypted; Google's key files hold an unencrypted key."
    except Exception:  # noqa: BLE001 -- any parse failure: damaged or truncated (its text is never repeated)
        problem = "cannot be read: it is damaged or truncated."
    if problem:
        _reject(f"The private_key in {_FILE} {problem}")
    if not isinstance(key, rsa.RSAPrivateKey):
        _reject(f"The private_key in {_FILE} is not an RSA key, which Google's service-account keys always are.")


@sensitive_variables()
def parse_service_account(value: str) -> dict:
    """The key file as a dict, or ValueError naming what is wrong with it (never quoting it)."""
    try:
        info = json.loads(value)
    except ValueError as exc:
        position = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
        raise ValueError(f"Not JSON{position}: paste the whole service-account key file, from {{ to }}.") from None
    if not isinstance(info, dict):
        raise ValueError("The key file must be a JSON object ({ … }); paste the whole service-account key file.")
    kind = info.get("type")
    if kind != "service_account":
        known = {"authorized_user": "a user's credentials (gcloud auth application-default login)",
                 "external_account": "a workload identity federation configuration",
                 "impersonated_service_account": "an impersonation configuration"}
        what = known.get(kind) if isinstance(kind, str) else None
        _reject(f"This is {what}, not a service-account key." if what
                else 'The key file\'s type must be "service_account".')
    project_id = _string(info, "project_id")
    if not _PROJECT_ID.fullmatch(project_id):
        _reject(f"The project_id in {_FILE} is not a Google Cloud project id (6–30 lower-case letters, digits, "
                "hyphens).")
    email = _string(info, "client_email")
    if not _CLIENT_EMAIL.fullmatch(email):
        _reject(f"The client_email in {_FILE} is not a service account's e-mail (name@project.iam.gserviceaccount"
                ".com).")
    key_id = _string(info, "private_key_id")
    if not _KEY_ID.fullmatch(key_id):
        _reject(f"The private_key_id in {_FILE} is not a key id (hexadecimal).")
    _check_private_key(_string(info, "private_key"))
    token_endpoint(_string(info, "token_uri"), sandbox=bool(api_base_url()))
    return info


@sensitive_variables()
def _service_account_json(value: str) -> str:
    parse_service_account(value)
    return value  # stored exactly as pasted


def _location(value: str) -> str:
    if value not in LOCATIONS:
        raise ValueError("Unknown Vertex AI location; use a region such as us-east5 or europe-west1, or global.")
    return value


def _hint_of(info: Mapping[str, Any]) -> str:
    """`byok@acme-prod.iam.gserviceaccount.com key 3f9a01c2…`: who and which key, never the key (≤ 64 chars)."""
    key = f" key {str(info.get('private_key_id', ''))[:8]}…"
    email = str(info.get("client_email", ""))
    if len(email) + len(key) > 64:
        email = email.removesuffix(".iam.gserviceaccount.com")[: 63 - len(key)] + "…"
    return email + key


# --- clients --------------------------------------------------------------------------------------------------


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's transport with a deadline: google-auth refreshes tokens without one (requests would wait 120 s)."""

    def __init__(self, timeout: float):
        super().__init__()
        self._timeout = timeout

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        # A redirect is an answer, never followed: it could name any host.
        return super().__call__(url, method=method, body=body, headers=headers, timeout=timeout or self._timeout,
                                allow_redirects=False, **kwargs)


class _ServiceAccountCredentials(service_account.Credentials):
    """Refreshes through a transport with byok's timeout, one refresh at a time."""

    byok_timeout: float = 10.0
    byok_token_uri_refused: bool = False

    def refresh(self, request):
        if self.byok_token_uri_refused:  # before any connection: the same refusal whatever the address
            raise google.auth.exceptions.RefreshError(
                f"The token_uri in {_FILE} is not Google's token endpoint.", {"error": "token_uri_refused"})
        with self.__dict__.setdefault("_byok_refresh_lock", threading.Lock()):  # setdefault is atomic
            if not self.valid:
                super().refresh(_TimedRequest(self.byok_timeout))


def api_base_url() -> str | None:
    """The Vertex AI endpoint override without its version (`…/vertex`), or None for Google's regional hosts."""
    return endpoint(ENDPOINT.setting)


@sensitive_variables("info")
def google_credentials(info: Mapping[str, Any], *, timeout: float) -> _ServiceAccountCredentials:
    """Refreshable Google credentials of a key file. The stored token_uri is checked again here (a file saved in
    sandbox mode may hold a loopback one): outside the allowlist, the credentials refuse to refresh. In sandbox mode
    the token endpoint is the override's."""
    base = api_base_url()
    refused = False
    if base:  # sandbox mode: every Google endpoint is the override, as STS is for Bedrock; nothing leaves
        token_uri = f"{base}/token"
    else:
        try:
            token_uri = token_endpoint(info.get("token_uri"), sandbox=False)
        except ValueError:
            token_uri, refused = GOOGLE_TOKEN_URI, True
    credentials = _ServiceAccountCredentials.from_service_account_info({**info, "token_uri": token_uri},
                                                                       scopes=[SCOPE])
    credentials.byok_timeout = timeout
    credentials.byok_token_uri_refused = refused
    return credentials


class TokenClient:
    """A key's Google credentials, for the connection test's token exchange (calls go through AsyncVertexClient)."""

    @sensitive_variables("info")
    def __init__(self, info: Mapping[str, Any], *, location: str, timeout: float):
        self.project_id = info["project_id"]
        self.location = location
        self.google_credentials = _shared_credentials(info, timeout=timeout)  # the model checks' token too

    def __repr__(self) -> str:
        return f"<TokenClient {self.project_id} {self.location}>"

    def access_token(self) -> str:
        """A valid access token (the token exchange, when there is none yet or it expired)."""
        self.google_credentials.refresh(None)
        return self.google_credentials.token


def is_gemini(model: str) -> bool:
    return model.startswith("gemini-")


# --- the data plane (async) -----------------------------------------------------------------------------------

_SHARED_MAX = 256
_shared: OrderedDict[tuple, _ServiceAccountCredentials] = OrderedDict()
_shared_lock = threading.Lock()


@sensitive_variables("info", "text")
def _shared_credentials(info: Mapping[str, Any], *, timeout: float) -> _ServiceAccountCredentials:
    """One set of Google credentials per key file (and endpoint), shared by the data plane's client shards, so a
    key's access token is exchanged once, not once per connection pool."""
    text = json.dumps(dict(info), sort_keys=True)
    cache_key = (hashlib.sha256(text.encode()).hexdigest(), api_base_url(), timeout)
    with _shared_lock:
        credentials = _shared.get(cache_key)
        if credentials is None:
            credentials = _shared[cache_key] = google_credentials(info, timeout=timeout)
            while len(_shared) > _SHARED_MAX:
                _shared.popitem(last=False)
        else:
            _shared.move_to_end(cache_key)
        return credentials


VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"  # the Messages API version Claude on Vertex takes in the body


class AsyncVertexClient:
    """One key on the data plane: Claude on Vertex (rawPredict / streamRawPredict) and Gemini (generateContent /
    streamGenerateContent) through the transport, each request with an OAuth2 bearer token. The key's Google
    credentials are shared; their token refresh (a blocking JWT exchange) runs in a worker thread: the event loop
    never waits on Google's token endpoint, and the credentials' own lock makes concurrent refreshes one exchange."""

    @sensitive_variables("info")
    def __init__(self, info: Mapping[str, Any], *, location: str, timeout: float):
        self.project_id = info["project_id"]
        self.location = location
        self.timeout = timeout
        self.google_credentials = _shared_credentials(info, timeout=timeout)
        host = api_base_url() or ("https://aiplatform.googleapis.com" if location == "global"
                                  else f"https://{location}-aiplatform.googleapis.com")
        publishers = f"{host}/v1/projects/{quote(self.project_id, safe='')}/locations/{location}/publishers"
        self._claude_models = f"{publishers}/anthropic/models/"
        self._gemini_models = f"{publishers}/google/models/"

    def __repr__(self) -> str:
        return f"<AsyncVertexClient {self.project_id} {self.location}>"

    async def _headers(self) -> dict[str, str]:
        credentials = self.google_credentials
        if not credentials.valid:
            await asyncio.to_thread(credentials.refresh, None)
        return {"Authorization": f"Bearer {credentials.token}", "Content-Type": "application/json"}

    async def claude_post(self, body: dict, extra_headers: Mapping[str, str] | None = None):
        """A Messages body to Claude on Vertex: the model goes in the URL, the version in the body (beta flags in
        the `anthropic-beta` header, as on the Anthropic API)."""
        payload = {**{k: v for k, v in body.items() if k != "model"}, "anthropic_version": VERTEX_ANTHROPIC_VERSION}
        action = "streamRawPredict" if body.get("stream") else "rawPredict"
        return await transport.post(f"{self._claude_models}{quote(body['model'], safe='@')}:{action}",
                                    headers={**await self._headers(), **(extra_headers or {})},
                                    data=transport.encode(payload), timeout=self.timeout)

    async def claude_count_post(self, body: dict, extra_headers: Mapping[str, str] | None = None):
        """A token-counting body for Claude on Vertex: the model stays in the body, the URL is count-tokens'."""
        payload = {**body, "anthropic_version": VERTEX_ANTHROPIC_VERSION}
        return await transport.post(f"{self._claude_models}count-tokens:rawPredict",
                                    headers={**await self._headers(), **(extra_headers or {})},
                                    data=transport.encode(payload), timeout=self.timeout)

    async def predict(self, model: str, body: dict) -> dict:
        """`:predict` on a Google model (text embeddings)."""
        return await transport.post_json(f"{self._gemini_models}{quote(model, safe='@')}:predict",
                                         headers=await self._headers(), data=transport.encode(body),
                                         timeout=self.timeout)

    async def gemini_post(self, model: str, body: dict, *, stream: bool):
        """A generateContent body to Gemini; streaming, its answers come as server-sent events (`alt=sse`)."""
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return await transport.post(f"{self._gemini_models}{quote(model, safe='@')}:{action}",
                                    headers=await self._headers(), data=transport.encode(body), timeout=self.timeout)


async def vertex_acall(client: AsyncVertexClient, call: Call):
    """Claude on Vertex through the Anthropic Messages translations (chat and messages, streaming and not, token
    counting); Gemini through the generateContent translation, on chat only; text embeddings on `:predict`."""
    if call.api == "embeddings":
        yield await _embeddings(client, call)
        return
    if call.api == "count_tokens":
        if is_gemini(call.model):
            raise RequestInvalid(f"{call.model} is a Gemini model: /v1/messages/count_tokens counts Claude's tokens "
                                 "only.", param="model")
        async for item in count_tokens_acall(client.claude_count_post, call, rules=MESSAGES_ON_VERTEX,
                                             name="Vertex AI"):
            yield item
        return
    if is_gemini(call.model):
        async for item in _gemini_acall(client, call):
            yield item
        return
    async for item in messages_acall(client.claude_post, call, rules=MESSAGES_ON_VERTEX, name="Vertex AI",
                                     console=CONSOLE):
        yield item


# Instances per `:predict` call: Gemini embedding models take one, the text-embedding models up to 250.
PREDICT_BATCH = {"gemini-embedding": 1}
DEFAULT_PREDICT_BATCH = 250


async def _embeddings(client: AsyncVertexClient, call: Call) -> dict:
    """Text embeddings on `:predict` in batches the model takes (sent concurrently), in OpenAI's shape; usage is the
    tokens Vertex counted per instance."""
    fields, texts = embeddings_request(call.body, EMBEDDINGS_ON_VERTEX, family="Vertex AI")
    size = next((n for prefix, n in PREDICT_BATCH.items() if call.model.startswith(prefix)), DEFAULT_PREDICT_BATCH)
    batches = [texts[start:start + size] for start in range(0, len(texts), size)]
    answers = await asyncio.gather(*(client.predict(call.model, {
        "instances": [{"content": text} for text in batch], **fields}) for batch in batches))
    predictions = [p["embeddings"] for answer in answers for p in answer["predictions"]]
    return embeddings_response([p["values"] for p in predictions], model=call.model,
                               input_tokens=sum(int(p.get("statistics", {}).get("token_count") or 0)
                                                for p in predictions),
                               encoding_format=call.body.get("encoding_format"))


async def _gemini_acall(client: AsyncVertexClient, call: Call):
    if call.api != "chat":
        raise RequestInvalid(f"{call.model} is a Gemini model, which /v1/messages does not serve (it serves Claude): "
                             "call it on /v1/chat/completions.", param="model")
    body = chat_to_gemini(call.body)
    if not call.stream:
        response = await transport.read_json(await client.gemini_post(call.model, body, stream=False))
        yield gemini_to_chat(response, model=call.model)
        return
    translator = GeminiStreamToChat(model=call.model)
    async for _, data in transport.sse_events(await client.gemini_post(call.model, body, stream=True)):
        response = transport.parse_json(data)
        if "error" in response:
            raise _stream_failure(response, model=call.model, location=client.location)
        for item in translator.feed(response):
            yield item
    for item in translator.finish():
        yield item


# --- errors ---------------------------------------------------------------------------------------------------

_HINTS = {
    "invalid_key": "Google refused this service-account key (invalid_grant): it was deleted, has expired, or the "
                   "file is damaged. Create a new JSON key for the service account in the Google Cloud console "
                   "(IAM & Admin → Service accounts → Keys) and paste it.",
    "account_disabled": "The service account is disabled or was deleted: enable it in the Google Cloud console "
                        "(IAM & Admin → Service accounts), or use another service account's key.",
    "token_rejected": "Vertex AI rejected the access token obtained with this key: check that the key file belongs "
                      "to the project it names, then create a new key.",
    "service_disabled": "The Vertex AI API is not enabled in the key's project: enable aiplatform.googleapis.com "
                        "(APIs & Services → Library → Vertex AI API), wait a few minutes, and test again.",
    "permission": "The service account may not call Vertex AI models: grant it the Vertex AI User role "
                  "(roles/aiplatform.user) on the project in IAM & Admin → IAM.",
    "model_access": "This project cannot use {model} in {location}: enable the model in Vertex AI Model Garden "
                    "(Claude models need the publisher's terms accepted), or choose a location that serves it.",
    "quota": "Vertex AI quota is exhausted for {model} (429 RESOURCE_EXHAUSTED): retry later, or request a higher "
             "quota in IAM & Admin → Quotas (online prediction requests per base model).",
    "unavailable": "Vertex AI answered with a server error; this is usually temporary: retry shortly.",
    "timeout": "Google did not answer in time. Retry; if it persists, check the Google Cloud status page.",
    "network": "Could not reach Google (the token endpoint or Vertex AI). Check the network path.",
    "bad_request": "Vertex AI rejected the request as invalid ({code}).",
}


def _failure(category: str, hint_key: str, *, code: str, status: int | None = None, model: str = "",
             location: str = "") -> Failure:
    text = _HINTS[hint_key].format(model=model or "this model", location=location or "this location", code=code)
    return Failure(category, text, code=code, status=status)


def _google_error(body: Any) -> tuple[str, str, str]:
    """(status, reason, message) of a Google API error body `{"error": {"code", "status", "details": [...]}}`."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", "", ""
    reasons = [d.get("reason", "") for d in error.get("details") or [] if isinstance(d, dict)]
    return str(error.get("status") or ""), next((r for r in reasons if r), ""), str(error.get("message") or "")


def _by_status(status: int, google_status: str, reason: str, message: str, *, model: str, location: str) -> Failure:
    code = reason or google_status or str(status)
    if status == 401:
        return _failure(Category.INVALID_CREDENTIALS, "token_rejected", code=code, status=status)
    if status == 403 and (reason == "SERVICE_DISABLED" or "has not been used" in message or "is disabled" in message):
        return _failure(Category.PERMISSION_DENIED, "service_disabled", code="SERVICE_DISABLED", status=status)
    if status == 403 and ("model" in message.lower() and "permission" not in message.lower()):
        return _failure(Category.MODEL_ACCESS, "model_access", code=code, status=status, model=model,
                        location=location)
    if status == 403:
        return _failure(Category.PERMISSION_DENIED, "permission", code=code, status=status)
    if status == 404:
        return _failure(Category.MODEL_ACCESS, "model_access", code=code, status=status, model=model,
                        location=location)
    if status == 429:
        return _failure(Category.RATE_LIMITED, "quota", code=code or "RESOURCE_EXHAUSTED", status=status, model=model)
    if status >= 500:
        return _failure(Category.PROVIDER_UNAVAILABLE, "unavailable", code=code, status=status)
    return with_reason(_failure(Category.BAD_REQUEST, "bad_request", code=code, status=status), message,
                       name="Vertex AI")


def _stream_failure(body: dict, *, model: str, location: str) -> Failure:
    """An error after a stream began (`data: {"error": {"code", "message", "status"}}`), read as its status is."""
    code = body["error"].get("code") if isinstance(body["error"], dict) else None
    status = code if isinstance(code, int) and 400 <= code < 600 else 500
    google_status, reason, message = _google_error(body)
    return _by_status(status, google_status, reason, message, model=model, location=location)


def classify(exc: BaseException, *, model: str = "", location: str = "") -> Failure:
    """A token-exchange or Vertex AI error as a categorised Failure with what to do about it (re-raises anything
    else)."""
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, google.auth.exceptions.RefreshError):
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error, description = str(data.get("error", "")), str(data.get("error_description", "")).lower()
        if getattr(exc, "retryable", False) or error in ("internal_failure", "server_error",
                                                         "temporarily_unavailable"):
            return _failure(Category.PROVIDER_UNAVAILABLE, "unavailable", code=error or "token_endpoint")
        if "account not found" in description or "disabled" in description:
            return _failure(Category.INVALID_CREDENTIALS, "account_disabled", code="account_disabled")
        return _failure(Category.INVALID_CREDENTIALS, "invalid_key", code=error or "invalid_grant")
    if isinstance(exc, google.auth.exceptions.TransportError):
        timed_out = "timed out" in str(exc).lower() or "timeout" in type(exc.__cause__).__name__.lower()
        return _failure(Category.TIMEOUT if timed_out else Category.NETWORK, "timeout" if timed_out else "network",
                        code=type(exc).__name__)
    if isinstance(exc, transport.HttpStatusError):
        google_status, reason, message = _google_error(exc.json())
        return _by_status(exc.status, google_status, reason, message or exc.body.decode(errors="replace"),
                          model=model, location=location)
    if isinstance(exc, TimeoutError):
        return _failure(Category.TIMEOUT, "timeout", code=type(exc).__name__)
    if isinstance(exc, transport.TransportFailed):
        return _failure(Category.NETWORK, "network", code=exc.code)
    raise exc


# --- the provider ---------------------------------------------------------------------------------------------


class VertexProvider(Provider):
    id = "vertex"
    name = "Google Vertex AI"
    family = "vertex"
    gen_ai_provider = "gcp.vertex_ai"
    account_label = "Google Cloud project / service account"
    models = CLAUDE_ON_VERTEX
    models_extra = GEMINI_MODELS
    embedding_models = ("text-embedding-005",)
    docs_url = "https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude"
    regions = LOCATIONS
    endpoints = (ENDPOINT,)
    credential_fields = (
        CredentialField(
            "service_account_json", "Service account key (JSON)", secret=True, kind="textarea", max_length=8192,
            validate=_service_account_json,
            help="The whole JSON key file of a service account with the Vertex AI User role (IAM & Admin → "
                 "Service accounts → Keys → Add key → JSON).",
        ),
        CredentialField("location", "Location", secret=False, validate=_location, kind="choice", choices=LOCATIONS,
                        help="The Vertex AI region calls go to (e.g. us-east5, europe-west1), or global."),
    )

    @sensitive_variables()
    def hint(self, credentials: Mapping[str, Any]) -> str:
        return _hint_of(json.loads(credentials["service_account_json"]))

    @sensitive_variables()
    def clean(self, raw, *, keep: Credentials | None = None, inference_profile: str = "",
              regional_credentials: list | None = None) -> CleanedKey:
        cleaned = super().clean(raw, keep=keep, regional_credentials=regional_credentials)
        cleaned.regions = [cleaned.credentials["location"]]
        return cleaned

    def region_for(self, *, inference_profile: str, regions: tuple[str, ...] | list[str] = ()) -> str:
        return regions[0] if regions else ""

    def platform_credentials(self, env: Mapping[str, str]) -> PlatformCredentials:
        values = {"service_account_json": env.get("PLATFORM_VERTEX_SERVICE_ACCOUNT_JSON", ""),
                  "location": env.get("PLATFORM_VERTEX_LOCATION") or "global"}
        return PlatformCredentials(values=values, configured=bool(values["service_account_json"]),
                                   region=values["location"])

    @sensitive_variables("credentials", "info")
    def token_client(self, credentials: Mapping[str, Any], *, timeout: float) -> TokenClient:
        info = json.loads(credentials["service_account_json"])
        return TokenClient(info, location=credentials["location"], timeout=timeout)

    @sensitive_variables("credentials", "info")
    def async_client(self, credentials: Mapping[str, Any], *, region: str = "", timeout: float) -> AsyncVertexClient:
        info = json.loads(credentials["service_account_json"])
        return AsyncVertexClient(info, location=region or credentials["location"], timeout=timeout)

    def acall(self, client: AsyncVertexClient, call: Call):
        return vertex_acall(client, call)

    def classify(self, exc: BaseException, *, model: str = "", **context) -> Failure:
        return classify(exc, model=model, location=context.get("location", ""))

    @sensitive_variables("credentials")
    def check(self, credentials: Credentials, *, inference_profile: str = "",
              models: Mapping[str, str] | None = None) -> list[CheckResult]:
        """The token exchange (is the key valid, is the account enabled?), then one minimal call per tier model."""
        try:
            client = self.token_client(credentials, timeout=check_timeout())
        except (ValueError, KeyError):
            raise CredentialsInvalid("The service-account key cannot be used.", fields={
                "credentials.service_account_json": ["The key file cannot be read; paste it again."]}) from None
        location = client.location
        token_uri = client.google_credentials._token_uri
        token = CheckResult.from_call(
            "oauth2:token", lambda: client.access_token() and {"account": client.project_id},
            target=f"POST {urlsplit(token_uri).path or '/'} (JWT bearer)", region=location,
            classify=lambda exc: self.classify(exc, location=location))
        if not token.ok:
            return [token]

        def model_check(tier: str, model: str) -> CheckResult:
            call = partial(self.probe, credentials, region=location, model=model)
            return CheckResult.from_call(f"model:{tier}", call, target=model, region=location,
                                         classify=lambda exc: self.classify(exc, model=model, location=location))

        return [token] + run_concurrently([partial(model_check, tier, model)
                                    for tier, model in (models or self.models).items()])

    def describe(self) -> dict:
        return {**super().describe(), "locations": list(LOCATIONS)}
