"""Workspace API keys in the owner console: owners and workspace admins see and revoke every key of their
workspaces; members never get in."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from accounts.services import api_key_create
from audit.models import AuditAction, AuditEvent
from tests.byok.routing_helpers import team
from tests.factories import add_member

pytestmark = pytest.mark.django_db

KEYS = "/manage/accounts/apikey/"


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def keys():
    owner, workspace, member = team()
    admin = add_member(workspace, role=Membership.Role.ADMIN)
    mine, mine_raw = api_key_create(workspace=workspace, user=member, name="member laptop", actor=member)
    theirs, _ = api_key_create(workspace=workspace, user=admin, name="admin ci", actor=admin)
    _, elsewhere, stranger = team()
    foreign, _ = api_key_create(workspace=elsewhere, user=stranger, name="foreign", actor=stranger)
    return owner, admin, member, workspace, mine, mine_raw, theirs, foreign


def test_owners_and_admins_see_every_key_of_their_workspaces(keys):
    owner, admin, member, workspace, mine, mine_raw, theirs, foreign = keys
    for viewer in (owner, admin):
        page = browser(viewer).get(KEYS).content.decode()
        assert mine.key_hint in page and theirs.key_hint in page and "member laptop" in page
        assert "foreign" not in page
        change = browser(viewer).get(f"{KEYS}{mine.pk}/change/")
        assert change.status_code == 200 and f"{KEYS}{mine.pk}/revoke/" in change.content.decode()
        assert mine_raw not in change.content.decode()
        assert browser(viewer).get(f"{KEYS}{foreign.pk}/change/").status_code == 404
        assert browser(viewer).post(f"{KEYS}{foreign.pk}/revoke/").status_code == 404


def test_members_never_see_the_console(keys):
    _, _, member, _, mine, *_ = keys
    for url in (KEYS, f"{KEYS}{mine.pk}/change/", f"{KEYS}{mine.pk}/revoke/"):
        response = browser(member).get(url)
        assert response.status_code == 302 and "/manage/login/" in response["Location"]
    assert browser(member).post(f"{KEYS}{mine.pk}/revoke/").status_code == 302
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is None


def test_revoke_asks_first_then_refuses_the_key_at_once(keys):
    owner, admin, member, workspace, mine, mine_raw, *_ = keys
    url = f"/api/v1/workspaces/{workspace.slug}/"
    assert APIClient().get(url, headers={"x-api-key": mine_raw}).status_code == 200
    confirm = browser(admin).get(f"{KEYS}{mine.pk}/revoke/")
    assert confirm.status_code == 200 and mine.key_hint in confirm.content.decode()
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is None  # a GET changes nothing
    response = browser(admin).post(f"{KEYS}{mine.pk}/revoke/")
    assert response.status_code == 302 and response["Location"].endswith(f"{KEYS}{mine.pk}/change/")
    assert ApiKey.objects.get(pk=mine.pk).revoked_at is not None
    assert APIClient().get(url, headers={"x-api-key": mine_raw}).status_code == 401
    event = AuditEvent.objects.get(action=AuditAction.API_KEY_REVOKED)
    assert (event.actor_label, event.workspace_id) == (admin.username, workspace.pk)
    # Revoked: no button any more, and asking again only leads back to the key.
    assert f"{KEYS}{mine.pk}/revoke/" not in browser(owner).get(f"{KEYS}{mine.pk}/change/").content.decode()
    assert browser(owner).get(f"{KEYS}{mine.pk}/revoke/").status_code == 302
    assert "already revoked" in browser(owner).post(f"{KEYS}{mine.pk}/revoke/", follow=True).content.decode()
