"""Workspace API keys: the REST API, storage, authentication on the member endpoints, and refusal on the very next
call in this process after anything that stops a key working."""

import hashlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from accounts.selectors import api_key_principal
from accounts.services import api_key_create, api_key_mark_used, api_key_revoke, membership_remove
from audit.models import AuditAction, AuditEvent
from byok.gateway import auth
from byok.gateway.auth import NOT_CACHED, PrincipalCache, authenticate_api_key, cached_principal
from tests.byok.routing_helpers import MESSAGES, key_for, team
from tests.byok.test_no_leaks import database_dump
from tests.factories import WorkspaceFactory, add_member

pytestmark = pytest.mark.django_db


def keys_url(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.slug}/api-keys/"


def completions(workspace, headers: dict, **body):
    return APIClient().post(f"/api/v1/workspaces/{workspace.slug}/completions/", {"messages": MESSAGES, **body},
                            format="json", headers=headers)


def bearer(raw_key: str) -> dict:
    return {"Authorization": f"Bearer {raw_key}"}


@pytest.fixture(autouse=True)
def _empty_key_cache():
    auth.principals.clear()
    yield
    auth.principals.clear()


# --- the REST API --------------------------------------------------------------------------------------------------

def test_create_list_and_revoke_through_the_api(client_for):
    owner, workspace, member = team()
    admin = add_member(workspace, role=Membership.Role.ADMIN)
    other = add_member(workspace)

    created = client_for(member).post(keys_url(workspace), {"name": "laptop"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert set(body) == {"id", "name", "key", "hint", "expires_at", "created_at"}
    raw_key = body["key"]
    assert raw_key.startswith("byok_") and len(raw_key) >= 5 + 43  # 32 random bytes, urlsafe base64
    assert body["hint"] == f"byok_…{raw_key[-4:]}" and body["expires_at"] is None
    expires = (timezone.now() + timedelta(days=30)).isoformat()
    assert client_for(other).post(keys_url(workspace), {"name": "ci", "expires_at": expires},
                                  format="json").status_code == 201

    mine = client_for(member).get(keys_url(workspace)).json()["results"]
    assert [(k["name"], k["user"]["username"]) for k in mine] == [("laptop", member.username)]
    assert "key" not in mine[0] and raw_key not in str(mine)
    for manager in (owner, admin):
        listed = client_for(manager).get(keys_url(workspace)).json()["results"]
        assert {(k["name"], k["user"]["username"]) for k in listed} == {("laptop", member.username),
                                                                        ("ci", other.username)}

    # Another member's key is invisible to a member: 404, and it keeps working.
    assert client_for(other).delete(f"{keys_url(workspace)}{body['id']}/").status_code == 404
    assert client_for(member).delete(f"{keys_url(workspace)}{body['id']}/").status_code == 204
    again = client_for(member).delete(f"{keys_url(workspace)}{body['id']}/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "api_key_already_revoked"
    assert client_for(member).get(keys_url(workspace)).json()["results"][0]["revoked_at"] is not None

    ci = ApiKey.objects.get(name="ci")
    assert client_for(admin).delete(f"{keys_url(workspace)}{ci.pk}/").status_code == 204  # a manager revokes any
    actions = list(AuditEvent.objects.filter(workspace=workspace, action__startswith="API_KEY").order_by("id")
                   .values_list("action", "actor_label"))
    assert actions == [(AuditAction.API_KEY_CREATED, member.username), (AuditAction.API_KEY_CREATED, other.username),
                       (AuditAction.API_KEY_REVOKED, member.username), (AuditAction.API_KEY_REVOKED, admin.username)]
    assert raw_key not in str(list(AuditEvent.objects.values_list("details", flat=True)))


def test_non_members_get_404(client_for):
    _, workspace, member = team()
    _, elsewhere, stranger = team()
    assert client_for(stranger).get(keys_url(workspace)).status_code == 404
    assert client_for(stranger).post(keys_url(workspace), {"name": "x"}, format="json").status_code == 404
    key, _ = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    assert client_for(stranger).delete(f"{keys_url(workspace)}{key.pk}/").status_code == 404
    assert client_for(member).delete(f"{keys_url(elsewhere)}{key.pk}/").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "ok", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ({"name": "ok", "expires_at": "next tuesday"}, "expires_at"),
])
def test_bad_input_is_a_400_naming_the_field(client_for, body, field):
    _, workspace, member = team()
    response = client_for(member).post(keys_url(workspace), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == [field]
    assert not ApiKey.objects.filter(workspace=workspace).exists()


def test_the_key_is_stored_only_as_its_hash(client_for):
    _, workspace, member = team()
    raw_key = client_for(member).post(keys_url(workspace), {"name": "k"}, format="json").json()["key"]
    row = ApiKey.objects.filter(workspace=workspace).values().get()
    assert row["key_hash"] == hashlib.sha256(raw_key.encode()).hexdigest()
    assert raw_key not in str(row) and raw_key[5:] not in str(row)
    assert raw_key[5:] not in database_dump()  # nowhere in any table, not even in the audit trail


def test_only_members_get_keys_and_only_the_right_people_revoke():
    from accounts.errors import ApiKeyNotAllowed, NotAMember
    from tests.factories import UserFactory

    owner, workspace, member = team()
    with pytest.raises(NotAMember):
        api_key_create(workspace=workspace, user=UserFactory(), name="k", actor=owner)
    key, _ = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    with pytest.raises(ApiKeyNotAllowed):
        api_key_revoke(key=key, actor=add_member(workspace))
    api_key_revoke(key=key, actor=owner)


# --- authentication ------------------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)  # the call runs on the data plane's loop, in other threads
def test_bearer_and_x_api_key_both_call_completions(sandbox):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("bedrock"))
    _, raw_key = api_key_create(workspace=workspace, user=member, name="sdk", actor=member)
    for headers in (bearer(raw_key), {"x-api-key": raw_key}):
        response = completions(workspace, headers)
        assert response.status_code == 200, response.json()
        assert response.json()["source"] == "byok"
    from byok.models import UsageRecord

    assert list(UsageRecord.objects.values_list("user_id", flat=True)) == [member.pk, member.pk]
    assert ApiKey.objects.get().last_used_at is not None


def test_drf_tokens_still_work_and_wrong_keys_are_401(client_for):
    _, workspace, member = team()
    assert client_for(member).get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    for headers in (bearer("byok_" + "x" * 43), {"x-api-key": "byok_nope"}):
        response = APIClient().get(f"/api/v1/workspaces/{workspace.slug}/", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "authentication_failed"


def test_a_key_acts_only_in_its_own_workspace(client_for):
    owner, workspace, member = team()
    other = WorkspaceFactory(owner=owner)
    add_member(other, member)  # a member of both: the key still only opens its own
    _, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get(f"/api/v1/workspaces/{workspace.slug}/").status_code == 200
    assert client.get(f"/api/v1/workspaces/{other.slug}/").status_code == 404
    response = client.post(f"/api/v1/workspaces/{other.slug}/completions/", {"messages": MESSAGES}, format="json")
    assert response.status_code == 404
    assert client.get("/api/v1/me/").status_code == 403  # outside any workspace
    # A key cannot manage keys (a leaked key must not be able to mint more).
    assert client.post(keys_url(workspace), {"name": "more"}, format="json").status_code == 403
    assert client.get(keys_url(workspace)).status_code == 403


def revoke(ctx):
    api_key_revoke(key=ctx.key, actor=ctx.member)


def remove_member(ctx):
    membership_remove(workspace=ctx.workspace, user=ctx.member, actor=ctx.owner)


def delete_workspace(ctx):
    ctx.workspace.delete()


def deactivate_user(ctx):
    ctx.member.is_active = False
    ctx.member.save()


def expire(ctx):
    # No write at all: the clock passes the key's expires_at while its principal is cached.
    later = timezone.now() + timedelta(hours=2)
    ctx.monkeypatch.setattr(auth, "timezone", SimpleNamespace(now=lambda: later))


@pytest.mark.django_db(transaction=True)  # the calls run on the data plane's loop, in other threads
@pytest.mark.parametrize("change", [revoke, remove_member, delete_workspace, deactivate_user, expire])
def test_refused_on_the_very_next_call_in_this_process(sandbox, monkeypatch, change):
    owner, workspace, member = team()
    # An API-key provider: a Bedrock AKIA key's first call refreshes its session, which drops every gateway cache.
    key_for(owner, sandbox.add_account("anthropic"), provider="anthropic")
    key, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member,
                                  expires_at=timezone.now() + timedelta(hours=1))
    assert completions(workspace, bearer(raw_key)).status_code == 200
    # The next call would be served from the cache…
    assert auth.principals.get(ApiKey.hash_of(raw_key), timezone.now()) is not NOT_CACHED
    change(SimpleNamespace(owner=owner, workspace=workspace, member=member, key=key, monkeypatch=monkeypatch))
    response = completions(workspace, {"x-api-key": raw_key})  # …yet it is refused
    assert response.status_code == 401, response.json()
    assert completions(workspace, bearer(raw_key)).status_code == 401


def test_a_re_added_member_s_key_works_again(client_for):
    owner, workspace, member = team()
    _, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    url = f"/api/v1/workspaces/{workspace.slug}/"
    membership_remove(workspace=workspace, user=member, actor=owner)
    assert APIClient().get(url, headers=bearer(raw_key)).status_code == 401  # refusal cached…
    add_member(workspace, member)
    assert APIClient().get(url, headers=bearer(raw_key)).status_code == 200  # …and dropped by the membership


# --- the selector and the cache ------------------------------------------------------------------------------------

def test_the_principal_is_one_query(django_assert_num_queries):
    _, workspace, member = team()
    key, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    with django_assert_num_queries(1):
        principal = api_key_principal(raw_key)
    assert (principal.api_key_id, principal.user_id, principal.workspace_id, principal.workspace_slug,
            principal.key_hint) == (key.pk, member.pk, workspace.pk, workspace.slug, key.key_hint)
    with django_assert_num_queries(1):
        assert api_key_principal("byok_unknown") is None
    with django_assert_num_queries(0):
        assert api_key_principal("sk-not-ours") is None


def test_hits_need_no_query_and_the_cache_is_keyed_by_hash(django_assert_num_queries, monkeypatch):
    # As if the data plane polled just now (and another test process's bumps cannot drop this one's cache).
    monkeypatch.setattr(auth, "generation_checked_within", lambda topic, seconds: True)
    _, workspace, member = team()
    _, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    assert cached_principal(raw_key) is NOT_CACHED
    principal = authenticate_api_key(raw_key)
    assert authenticate_api_key("byok_made_up") is None
    with django_assert_num_queries(0):
        assert cached_principal(raw_key) == principal
        assert cached_principal("byok_made_up") is None
    assert raw_key not in repr(auth.principals.__dict__)


def test_the_cache_is_bounded_lru_and_refuses_fills_that_raced_a_drop():
    cache = PrincipalCache(max_valid=2, max_invalid=1)
    now = timezone.now()
    p = [SimpleNamespace(valid_at=lambda now: True, n=i) for i in range(3)]
    cache.put("a", p[0], cache.epoch)
    cache.put("b", p[1], cache.epoch)
    assert cache.get("a", now) is p[0]  # a is now the most recently used
    cache.put("c", p[2], cache.epoch)
    assert cache.get("b", now) is NOT_CACHED and cache.get("a", now) is p[0]
    cache.put("x", None, cache.epoch)
    cache.put("y", None, cache.epoch)  # refusals are bounded apart: they never evict valid keys
    assert cache.get("x", now) is NOT_CACHED and cache.get("y", now) is None and len(cache) == 3
    epoch = cache.epoch  # a lookup starts…
    cache.clear()  # …a revocation drops the cache…
    cache.put("a", p[0], epoch)  # …and the lookup's (possibly stale) answer is not stored
    assert cache.get("a", now) is NOT_CACHED


def test_cached_principal_does_not_trust_a_cache_this_process_has_not_checked(monkeypatch):
    _, workspace, member = team()
    _, raw_key = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    authenticate_api_key(raw_key)
    monkeypatch.setattr(auth, "generation_checked_within", lambda topic, seconds: False)
    assert cached_principal(raw_key) is NOT_CACHED


def test_last_used_is_written_at_most_once_a_minute():
    _, workspace, member = team()
    key, _ = api_key_create(workspace=workspace, user=member, name="k", actor=member)
    now = timezone.now()
    assert api_key_mark_used([key.pk, key.pk]) == 1
    assert api_key_mark_used([key.pk]) == 0
    assert api_key_mark_used([key.pk], now=now + timedelta(minutes=2)) == 1
    assert api_key_mark_used([]) == 0
