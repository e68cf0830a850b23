"""Control-plane API tokens: `POST /api/v1/auth/token/` creates one (an ApiKey with no workspace, stored as its hash),
`Authorization: Token …` or `Bearer …` acts as its user on every endpoint, the user lists and revokes their own at
/api/v1/auth/tokens/, and a revoked or expired token is refused on the next call (the API keys' cached lookup)."""

import hashlib
import importlib
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey
from accounts.services import api_key_create, api_token_create
from audit.models import AuditAction, AuditEvent
from byok.gateway import auth
from tests.byok.routing_helpers import team
from tests.byok.test_no_leaks import database_dump
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PASSWORD = django_settings.BYOK_DEMO_PASSWORD
TOKENS = "/api/v1/auth/tokens/"


@pytest.fixture(autouse=True)
def _empty_key_cache():
    auth.principals.clear()
    yield
    auth.principals.clear()


def obtain(user, **body):
    return APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": PASSWORD, **body},
                            format="json")


def as_token(raw: str, scheme: str = "Token") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw}")
    return client


def test_token_creation_stores_only_a_hash_and_shows_the_token_once():
    user = UserFactory()
    response = obtain(user, name="laptop cli", expires_in_days=7)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == {"token", "id", "expires_at"}
    raw = body["token"]
    assert raw.startswith("byok_") and len(raw) >= 5 + 43
    row = ApiKey.objects.values().get(pk=body["id"])
    assert row["workspace_id"] is None and row["user_id"] == user.pk and row["name"] == "laptop cli"
    assert row["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert row["key_hint"] == f"byok_…{raw[-4:]}"
    assert abs(row["expires_at"] - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert raw not in str(row) and raw[5:] not in database_dump()  # not in any table, audit trail included
    event = AuditEvent.objects.get(action=AuditAction.API_TOKEN_CREATED)
    assert (event.actor_id, event.owner_id, event.workspace_id) == (user.pk, user.pk, None)
    assert event.details["api_key_id"] == body["id"] and event.details["key_hint"] == row["key_hint"]


def test_the_default_expiry_is_byok_api_token_days(settings):
    settings.BYOK_API_TOKEN_DAYS = 12
    user = UserFactory()
    body = obtain(user).json()
    token = ApiKey.objects.get(pk=body["id"])
    assert token.name == "API token"
    assert abs(token.expires_at - (timezone.now() + timedelta(days=12))) < timedelta(minutes=1)
    assert body["expires_at"].startswith(token.expires_at.date().isoformat())


def test_each_sign_in_makes_a_new_token():
    user = UserFactory()
    first, second = obtain(user).json(), obtain(user).json()
    assert first["token"] != second["token"] and first["id"] != second["id"]
    assert as_token(first["token"]).get("/api/v1/me/").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"expires_in_days": 0}, "expires_in_days"),
    ({"expires_in_days": 100_000}, "expires_in_days"),
    ({"expires_in_days": "soon"}, "expires_in_days"),
    ({"name": "x" * 101}, "name"),
    ({"workspace": "acme"}, "workspace"),
])
def test_bad_input_is_a_400_naming_the_field(body, field):
    user = UserFactory()
    response = obtain(user, **body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert not ApiKey.objects.exists()


def test_wrong_password_is_401_and_makes_no_token():
    user = UserFactory()
    response = APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": "nope"},
                                format="json")
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_the_token_acts_as_its_user_on_every_control_plane_endpoint(scheme):
    owner = BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    other = WorkspaceFactory()
    client = as_token(obtain(owner).json()["token"], scheme)
    me = client.get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == owner.username
    assert client.get("/api/v1/provider-keys/").status_code == 200
    assert client.get("/api/v1/workspaces/").json()["count"] == 1
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    assert client.get(f"/api/v1/workspaces/{other.slug}/").status_code == 404  # the user's rights, no more
    # Unlike a workspace API key, a token may manage workspace API keys (it is the user).
    created = client.post(f"/api/v1/workspaces/{workspace.slug}/api-keys/", {"name": "sdk"}, format="json")
    assert created.status_code == 201
    assert client.get(TOKENS).status_code == 200


def test_a_workspace_api_key_stays_limited_to_its_workspace():
    _, workspace, member = team()
    _, raw_key = api_key_create(workspace=workspace, user=member, name="sdk", actor=member)
    for scheme in ("Bearer", "Token"):
        client = as_token(raw_key, scheme)
        assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
        for url in ("/api/v1/me/", "/api/v1/provider-keys/", TOKENS):
            response = client.get(url)
            assert response.status_code == 403, (scheme, url)
            assert response.json()["error"]["code"] == "permission_denied"


def test_the_list_shows_the_callers_own_tokens_and_never_a_token():
    user, stranger = UserFactory(), UserFactory()
    mine = [obtain(user, name=f"t{i}").json() for i in range(2)]
    theirs = obtain(stranger).json()
    response = as_token(mine[0]["token"]).get(TOKENS)
    assert response.status_code == 200
    results = response.json()["results"]
    assert {t["id"] for t in results} == {mine[0]["id"], mine[1]["id"]}
    assert set(results[0]) == {"id", "name", "hint", "created_at", "expires_at", "last_used_at", "revoked_at"}
    text = response.content.decode()
    for token in (*mine, theirs):
        assert token["token"] not in text and token["token"][5:] not in text
    assert str(theirs["id"]) not in [str(t["id"]) for t in results]
    # Workspace API keys of the user are not tokens and are not listed.
    _, workspace, member = team()
    api_key_create(workspace=workspace, user=member, name="sdk", actor=member)
    member_token = api_token_create(user=member, actor=member)[1]
    assert [t["name"] for t in as_token(member_token).get(TOKENS).json()["results"]] == ["API token"]


def test_last_used_at_is_recorded():
    user = UserFactory()
    body = obtain(user).json()
    assert as_token(body["token"]).get("/api/v1/me/").status_code == 200
    assert ApiKey.objects.get(pk=body["id"]).last_used_at is not None


def test_revoked_is_401_on_the_next_call_and_only_your_own_can_be_revoked():
    user, stranger = UserFactory(), UserFactory()
    keep, doomed = obtain(user).json(), obtain(user).json()
    theirs = obtain(stranger).json()
    client, doomed_client = as_token(keep["token"]), as_token(doomed["token"], "Bearer")
    assert doomed_client.get("/api/v1/me/").status_code == 200  # cached as valid now

    assert client.delete(f"{TOKENS}{theirs['id']}/").json()["error"]["code"] == "not_found"
    assert client.delete(f"{TOKENS}999999/").status_code == 404
    assert as_token(theirs["token"]).get("/api/v1/me/").status_code == 200

    assert client.delete(f"{TOKENS}{doomed['id']}/").status_code == 204
    refused = doomed_client.get("/api/v1/me/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"
    again = client.delete(f"{TOKENS}{doomed['id']}/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "api_key_already_revoked"
    listed = {t["id"]: t for t in client.get(TOKENS).json()["results"]}
    assert listed[doomed["id"]]["revoked_at"] is not None and listed[keep["id"]]["revoked_at"] is None
    event = AuditEvent.objects.get(action=AuditAction.API_TOKEN_REVOKED)
    assert (event.actor_id, event.owner_id, event.details["api_key_id"]) == (user.pk, user.pk, doomed["id"])


def test_a_token_can_revoke_itself():
    user = UserFactory()
    body = obtain(user).json()
    client = as_token(body["token"])
    assert client.delete(f"{TOKENS}{body['id']}/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_an_expired_token_is_401(monkeypatch):
    user = UserFactory()
    body = obtain(user, expires_in_days=1).json()
    client = as_token(body["token"])
    assert client.get("/api/v1/me/").status_code == 200  # and cached
    later = timezone.now() + timedelta(days=1, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    refused = client.get("/api/v1/me/")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "authentication_failed"


def test_a_deactivated_user_s_token_is_401():
    user = UserFactory()
    client = as_token(obtain(user).json()["token"])
    assert client.get("/api/v1/me/").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert client.get("/api/v1/me/").status_code == 401


def test_the_lockout_still_guards_the_token_endpoint(settings):
    settings.BYOK_LOGIN_FAILURE_LIMIT = 3
    settings.BYOK_LOGIN_LOCKOUT_SECONDS = 60
    user = UserFactory(username=f"u{uuid.uuid4().hex[:12]}")
    raw = uuid.uuid4().bytes
    ip = f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"

    def attempt(password):
        return APIClient().post("/api/v1/auth/token/", {"username": user.username, "password": password},
                                format="json", REMOTE_ADDR=ip)

    assert [attempt("wrong").status_code for _ in range(3)] == [401, 401, 401]
    locked = attempt(PASSWORD)
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"
    assert int(locked["Retry-After"]) > 0
    assert not ApiKey.objects.filter(user=user).exists()


def test_a_malformed_token_header_is_401():
    for header in ("Token", "Token a b", "Token " + "0" * 40, "Token byok_nope"):
        response = APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401, header
        assert response.json()["error"]["code"] == "authentication_failed"


# --- the migration from DRF's authtoken ------------------------------------------------------------------------

def test_authtoken_rows_become_hashed_tokens_that_keep_working(settings):
    settings.BYOK_API_TOKEN_DAYS = 30
    migration = importlib.import_module("accounts.migrations.0005_authtoken_to_api_tokens")
    user = UserFactory()
    legacy = "0123456789abcdef0123456789abcdef01234567"
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp, user_id integer)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, %s)", [legacy, "2026-01-02 03:04:05", user.pk])
    try:
        from django.apps import apps

        migration.authtokens_to_api_tokens(apps, SimpleNamespace(connection=connection))
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM authtoken_token")
            assert cursor.fetchone() == (0,)  # no plain-text token left behind
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
    token = ApiKey.objects.get(user=user)
    assert token.workspace_id is None and token.key_hash == hashlib.sha256(legacy.encode()).hexdigest()
    assert token.key_hint == "…4567" and token.created_at.year == 2026 and token.created_at.month == 1
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    response = as_token(legacy).get("/api/v1/me/")
    assert response.status_code == 200 and response.json()["username"] == user.username
    # Only as `Token`, as before: a Bearer value without the byok_ prefix is left to other schemes (none here).
    assert as_token(legacy, "Bearer").get("/api/v1/me/").json()["error"]["code"] == "not_authenticated"
    assert as_token(legacy).get(TOKENS).json()["results"][0]["hint"] == "…4567"
