"""Google Vertex AI end to end against the simulator (google-auth's token exchange, Claude and Gemini through the
transport): create → test → save, a member's call, Gemini, streaming, rotate, revert, every failure class, and the
simulator's token endpoint refusing what Google refuses."""

import json
import time
import urllib.parse
import urllib.request

import pytest
from google.auth import crypt, jwt

from audit.models import AuditEvent
from byok.models import ProviderKey, UsageRecord
from byok.providers import transport
from byok.providers.base import Call, CredentialsInvalid
from byok.providers.registry import PROVIDERS
from byok.providers.vertex import CLAUDE_ON_VERTEX, GOOGLE_TOKEN_URI, _stream_failure
from byok.services.connection import connection_test
from byok.simulator.accounts import new_service_account
from tests.byok.routing_helpers import MESSAGES, team
from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads

VERTEX = PROVIDERS["vertex"]
SONNET, OPUS = CLAUDE_ON_VERTEX["standard"], CLAUDE_ON_VERTEX["complex"]  # the current tier models


def key_file(sandbox, account) -> str:
    return sandbox.server.vertex_service_account_json(account.name)


def credentials_of(sandbox, account, location="us-east5"):
    return VERTEX.clean({"service_account_json": key_file(sandbox, account), "location": location}).credentials


def create(client, sandbox, account, **body):
    return client.post("/api/v1/provider-keys/", {
        "provider": "vertex", "name": body.pop("name", "Vertex"),
        "credentials": {"service_account_json": key_file(sandbox, account), "location": "europe-west1"}, **body},
        format="json")


def test_owner_creates_tests_and_saves_a_vertex_key(sandbox, client_for):
    owner = BusinessUserFactory()
    account = sandbox.add_account("vertex")
    response = create(client_for(owner), sandbox, account)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["provider"] == "vertex" and body["status"] == "active" and body["credential_type"] == "api_key"
    assert body["key_hint"].startswith(account.client_email[:10]) and " key " in body["key_hint"]
    assert body["regions"] == ["europe-west1"]
    assert body["last_test"]["status"] == "ok"
    assert "PRIVATE KEY" not in response.content.decode()
    assert account.service_account["private_key_id"] not in response.content.decode()
    checks = {c["name"]: c["ok"] for c in body["last_test"]["summary"]["checks"]}
    assert checks == {"oauth2:token": True, "model:standard": True, "model:complex": True}
    assert body["last_test"]["summary"]["account"] == account.project_id
    assert sandbox.calls("vertex.Token") == {account.name: 1}  # one token, shared by both model checks
    assert sandbox.calls("vertex.RawPredict") == {account.name: 2}
    key = ProviderKey.objects.get()
    assert json.loads(key.get_credentials()["service_account_json"])["client_email"] == account.client_email


@pytest.mark.parametrize("behaviour, models, category, code, words", [
    ("expired", None, "invalid_credentials", "invalid_grant", "Create a new JSON key"),
    ("disabled", None, "invalid_credentials", "account_disabled", "disabled or was deleted"),
    ("api_disabled", None, "permission_denied", "SERVICE_DISABLED", "aiplatform.googleapis.com"),
    ("throttled", None, "rate_limited", "RESOURCE_EXHAUSTED", "quota"),
    ("server_error", None, "provider_unavailable", "INTERNAL", "temporary"),
    ("ok", [SONNET], "model_access", "NOT_FOUND", "Model Garden"),
])
def test_each_vertex_failure_has_its_category_and_hint(sandbox, behaviour, models, category, code, words):
    fields = {"behaviour": behaviour} | ({"models": models} if models else {})
    account = sandbox.add_account("vertex", **fields)
    result = connection_test(provider="vertex", credentials=credentials_of(sandbox, account), actor=None, owner_id=0)
    assert not result.ok
    assert result.category == category, result.as_dict()
    failing = [c for c in result.checks if not c.ok]
    assert failing[0].code == code and words in result.hint
    if models:  # Sonnet works, Opus is the one without access
        assert {c.name: c.ok for c in result.checks} == {"oauth2:token": True, "model:standard": True,
                                                         "model:complex": False}


def test_a_failed_test_saves_nothing(sandbox, client_for):
    owner = BusinessUserFactory()
    response = create(client_for(owner), sandbox, sandbox.add_account("vertex", behaviour="api_disabled"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "connection_test_failed"
    assert response.json()["error"]["test"]["category"] == "permission_denied"
    assert not ProviderKey.objects.exists()


def test_wrong_project_in_the_key_file_is_permission_denied(sandbox):
    account = sandbox.add_account("vertex")
    info = json.loads(key_file(sandbox, account)) | {"project_id": "someone-elses-project"}
    credentials = VERTEX.clean({"service_account_json": json.dumps(info), "location": "us-east5"}).credentials
    result = connection_test(provider="vertex", credentials=credentials, actor=None, owner_id=0)
    assert result.category == "permission_denied" and "roles/aiplatform.user" in result.hint


def test_a_key_signed_by_another_private_key_is_refused_at_the_token_exchange(sandbox):
    account = sandbox.add_account("vertex")
    impostor = new_service_account(project_id=account.project_id, account_name="x")
    info = json.loads(key_file(sandbox, account)) | {"private_key": impostor["private_key"]}
    credentials = VERTEX.clean({"service_account_json": json.dumps(info), "location": "us-east5"}).credentials
    result = connection_test(provider="vertex", credentials=credentials, actor=None, owner_id=0)
    assert (result.category, [c.name for c in result.checks]) == ("invalid_credentials", ["oauth2:token"])
    assert sandbox.calls("vertex.RawPredict") == {}


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop, in another thread
def test_member_call_through_the_gateway_runs_on_claude_on_vertex(sandbox, client_for):
    owner, workspace, member = team()
    account = sandbox.add_account("vertex")
    assert create(client_for(owner), sandbox, account, skip_test=True).status_code == 201
    response = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                       {"messages": MESSAGES, "provider": "vertex", "task": "complex"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["source"], body["provider"], body["model"]) == ("byok", "vertex", OPUS)
    assert body["output"].startswith(f"Simulated vertex reply from {OPUS}")
    assert body["usage"]["input_tokens"] > 0 and body["credits_charged"] == 0
    assert sandbox.calls("vertex.RawPredict") == {account.name: 1}
    status = client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/byok/?provider=vertex").json()
    assert (status["provider"], status["region"]) == ("vertex", "europe-west1")
    assert status["models"] == {"standard": SONNET, "complex": OPUS}
    assert UsageRecord.objects.get().provider == "vertex"


@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop, in another thread
def test_a_failing_vertex_key_falls_back_to_platform_vertex_credentials(sandbox, client_for, settings):
    owner, workspace, member = team()
    mine = sandbox.add_account("vertex", behaviour="throttled")
    platform = sandbox.add_account("vertex")
    settings.BYOK_PLATFORM_ENV = {**settings.BYOK_PLATFORM_ENV,
                                  "PLATFORM_VERTEX_SERVICE_ACCOUNT_JSON": key_file(sandbox, platform),
                                  "PLATFORM_VERTEX_LOCATION": "europe-west4"}  # the key's geography: the EU
    assert create(client_for(owner), sandbox, mine, skip_test=True).status_code == 201
    body = client_for(member).post(f"/api/v1/workspaces/{workspace.slug}/completions/",
                                   {"messages": MESSAGES, "provider": "vertex"}, format="json").json()
    assert (body["source"], body["fallback_reason"], body["model"]) == ("platform", "rate_limited", SONNET)
    assert sandbox.calls("vertex.RawPredict") == {mine.name: 1, platform.name: 1}


def chat(credentials, model: str, body: dict, *, stream: bool = False) -> list[dict]:
    """One chat call through the provider's client and acall, as the data plane makes it: its output dicts."""
    async def call():
        client = VERTEX.async_client(credentials, timeout=5)
        return [item async for item in VERTEX.acall(client, Call(api="chat", body=body, model=model, stream=stream))]
    return transport.run_sync(call())


def test_gemini_is_callable_through_the_provider(sandbox):
    account = sandbox.add_account("vertex")
    credentials = credentials_of(sandbox, account, "europe-west4")
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name three colours please"}]
    for model in VERTEX.models_extra:
        [completion] = chat(credentials, model, {"messages": messages, "max_tokens": 100})
        choice = completion["choices"][0]
        assert choice["message"]["content"] == f"Simulated vertex reply from {model}: I read 6 words of your prompt."
        assert (completion["model"], choice["finish_reason"]) == (model, "stop")
        assert completion["usage"]["prompt_tokens"] == 8 and completion["usage"]["completion_tokens"] > 0
    [short] = chat(credentials, "gemini-2.5-flash", {"messages": messages, "max_tokens": 3})
    assert short["choices"][0]["finish_reason"] == "length"
    assert sandbox.calls("vertex.GenerateContent") == {account.name: 3}
    assert sandbox.calls("vertex.Token") == {account.name: 1}  # the token is reused until it expires
    assert VERTEX.describe()["models_extra"] == ["gemini-2.5-pro", "gemini-2.5-flash"]


def test_gemini_without_access_is_classified(sandbox):
    account = sandbox.add_account("vertex", models=[SONNET, OPUS])
    with pytest.raises(transport.HttpStatusError) as raised:
        chat(credentials_of(sandbox, account), "gemini-2.5-pro", {"messages": MESSAGES, "max_tokens": 10})
    failure = VERTEX.classify(raised.value, model="gemini-2.5-pro")
    assert (failure.category, failure.status) == ("model_access", 404) and "gemini-2.5-pro" in failure.hint


@pytest.mark.parametrize(("error", "category"), [
    ({"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Quota exceeded."}, "rate_limited"),
    ({"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable."},
     "provider_unavailable"),
    ({"status": "INTERNAL", "message": "Internal error."}, "provider_unavailable"),
])
def test_an_error_inside_a_gemini_stream_is_classified_by_its_code(error, category):
    failure = _stream_failure({"error": error}, model="gemini-2.5-pro", location="us-east5")
    assert (failure.category, failure.code) == (category, error["status"])


def streamed_text(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def test_streaming_claude_and_gemini(sandbox):
    account = sandbox.add_account("vertex")
    credentials = credentials_of(sandbox, account)
    for model in (SONNET, "gemini-2.5-flash"):
        chunks = chat(credentials, model, {"messages": [{"role": "user", "content": "Hello there"}],
                                           "max_tokens": 100}, stream=True)
        assert len(chunks) > 4
        assert streamed_text(chunks) == f"Simulated vertex reply from {model}: I read 2 words of your prompt."
        assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0
    assert sandbox.calls("vertex.StreamRawPredict") == {account.name: 1}
    assert sandbox.calls("vertex.StreamGenerateContent") == {account.name: 1}


@pytest.mark.parametrize(("model", "category"), [(SONNET, "provider_unavailable"), ("gemini-2.5-flash", "network")])
def test_streams_that_fail_midway_raise(sandbox, model, category):
    # Claude ends its stream with an overloaded_error event; Gemini's connection drops with the body unfinished.
    account = sandbox.add_account("vertex", behaviour="mid_stream_failure")
    pieces = []

    async def call():
        client = VERTEX.async_client(credentials_of(sandbox, account), timeout=5)
        body = {"messages": MESSAGES, "max_tokens": 100}
        async for item in VERTEX.acall(client, Call(api="chat", body=body, model=model, stream=True)):
            pieces.append(item)

    with pytest.raises(Exception) as raised:
        transport.run_sync(call())
    assert streamed_text(pieces)  # some text came first
    assert VERTEX.classify(raised.value, model=model).category == category


def test_rotate_then_revert(sandbox, client_for):
    owner = BusinessUserFactory()
    client = client_for(owner)
    first, second = sandbox.add_account("vertex"), sandbox.add_account("vertex")
    key_id = create(client, sandbox, first).json()["id"]
    response = client.post(f"/api/v1/provider-keys/{key_id}/rotate/",
                           {"credentials": {"service_account_json": key_file(sandbox, second)}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["key_hint"].startswith(second.client_email[:10])
    assert response.json()["regions"] == ["europe-west1"]  # the location is kept
    key = ProviderKey.objects.get(pk=key_id)
    assert json.loads(key.get_credentials()["service_account_json"])["client_email"] == second.client_email
    rotated = AuditEvent.objects.get(action="KEY_ROTATED")
    assert "PRIVATE KEY" not in json.dumps(rotated.details)
    response = client.post("/api/v1/byok/revert/", {"confirm": True}, format="json")
    assert response.json() == {"deleted_keys": 1}
    assert not ProviderKey.objects.exists()


def test_platform_credentials_come_from_the_environment():
    platform = VERTEX.platform_credentials({"PLATFORM_VERTEX_SERVICE_ACCOUNT_JSON": "{…}",
                                            "PLATFORM_VERTEX_LOCATION": "europe-west1"})
    assert platform.configured and platform.region == "europe-west1"
    assert not VERTEX.platform_credentials({}).configured
    assert VERTEX.platform_credentials({}).region == "global"


def test_a_loopback_token_uri_is_accepted_only_in_sandbox_mode(settings):
    info = json.loads(VERTEX_FILE) | {"token_uri": "http://127.0.0.1:8100/vertex/token"}
    raw = {"service_account_json": json.dumps(info), "location": "global"}
    settings.BYOK_ENDPOINTS = {}
    with pytest.raises(CredentialsInvalid) as raised:
        VERTEX.clean(raw)
    assert "https://" in raised.value.fields["credentials.service_account_json"][0]
    settings.BYOK_ENDPOINTS = {"BYOK_VERTEX_BASE_URL": "http://127.0.0.1:8100/vertex"}
    assert VERTEX.clean(raw).credentials["location"] == "global"


VERTEX_FILE = json.dumps(new_service_account(project_id="acme-prod", account_name="byok-caller", token_uri=GOOGLE_TOKEN_URI))


# --- the simulator's token endpoint refuses what Google refuses ---------------------------------------------


def token_request(sandbox, account, *, claims=None, private_key=None, grant_type=None) -> tuple[int, dict]:
    now = int(time.time())
    payload = {"iss": account.client_email, "scope": "https://www.googleapis.com/auth/cloud-platform",
               "aud": GOOGLE_TOKEN_URI, "iat": now, "exp": now + 3600, **(claims or {})}
    signer = crypt.RSASigner.from_string(private_key or account.service_account["private_key"],
                                         account.private_key_id)
    form = {"grant_type": grant_type or "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt.encode(signer, payload).decode()}
    request = urllib.request.Request(sandbox.server.vertex_token_url, urllib.parse.urlencode(form).encode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_token_endpoint_issues_a_token_for_a_well_signed_assertion(sandbox):
    status, body = token_request(sandbox, sandbox.add_account("vertex"))
    assert status == 200 and body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["access_token"].startswith("ya29.")


@pytest.mark.parametrize("change, description", [
    ({"claims": {"aud": "https://example.com/token"}}, "Failed audience check"),
    ({"claims": {"iat": int(time.time()) - 7300, "exp": int(time.time()) - 3700}}, "short-lived token"),
    ({"claims": {"exp": int(time.time()) + 7200}}, "short-lived token"),
    ({"claims": {"iss": "nobody@acme-prod.iam.gserviceaccount.com"}}, "account not found"),
    ({"other_key": True}, "Invalid JWT Signature."),
    ({"grant_type": "client_credentials"}, "grant_type"),
])
def test_token_endpoint_refuses_like_google(sandbox, change, description):
    account = sandbox.add_account("vertex")
    if change.pop("other_key", False):
        change["private_key"] = new_service_account(project_id="x-project", account_name="xx")["private_key"]
    status, body = token_request(sandbox, account, **change)
    assert status == 400
    assert body["error"] in ("invalid_grant", "unsupported_grant_type")
    assert description in body["error_description"]


def test_vertex_api_refuses_a_missing_or_unknown_token(sandbox):
    request = urllib.request.Request(
        f"{sandbox.server.vertex_base_url}/v1/projects/p/locations/us-east5/publishers/google/models/"
        "gemini-2.5-pro:generateContent", b"{}", headers={"Authorization": "Bearer ya29.made-up"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=5)
    assert raised.value.code == 401
    assert json.loads(raised.value.read())["error"]["status"] == "UNAUTHENTICATED"


def test_demo_key_files_are_served_with_this_servers_token_uri(sandbox):
    with urllib.request.urlopen(f"{sandbox.url}/_simulator/vertex/demo-vertex.json", timeout=5) as response:
        info = json.loads(response.read())
    assert info["token_uri"] == sandbox.server.vertex_token_url and info["type"] == "service_account"
    result = connection_test(provider="vertex", credentials=VERTEX.clean(
        {"service_account_json": json.dumps(info), "location": "global"}).credentials, actor=None, owner_id=0)
    assert result.ok, result.as_dict()
