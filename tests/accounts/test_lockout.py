"""Brute-force protection on the three sign-in surfaces: API token, owner console, staff admin (accounts/lockout.py).

Lockout state is in the shared cache (Redis in CI, kept across runs): each test signs in with usernames and client
addresses of its own.
"""

import uuid

import pytest
from django.conf import settings as django_settings
from django.test import Client
from rest_framework.test import APIClient

from accounts import lockout
from audit.models import AuditAction, AuditEvent
from tests.factories import BusinessUserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PASSWORD = django_settings.BYOK_DEMO_PASSWORD
WRONG = "not-the-password-9"
LOCKED_TEXT = "Too many failed sign-in attempts"


@pytest.fixture(autouse=True)
def _real_limits(settings):
    settings.BYOK_LOGIN_FAILURE_LIMIT = 20
    settings.BYOK_LOGIN_LOCKOUT_SECONDS = 60
    settings.BYOK_LOGIN_LOCKOUT_MAX_SECONDS = 3600


def fresh_ip() -> str:
    raw = uuid.uuid4().bytes
    return f"10.{raw[0]}.{raw[1]}.{raw[2] or 1}"  # an address string for REMOTE_ADDR; nothing is sent there


def fresh_user(surface: str):
    user = BusinessUserFactory(username=f"u{uuid.uuid4().hex[:12]}", is_staff=surface == "admin")
    if surface == "console":
        WorkspaceFactory(owner=user)  # the console is for workspace owners
    return user


def attempt(surface: str, username: str, password: str, ip: str):
    """One sign-in; returns (signed_in, response)."""
    if surface == "api":
        response = APIClient().post("/api/v1/auth/token/", {"username": username, "password": password},
                                    format="json", REMOTE_ADDR=ip)
        return response.status_code == 200, response
    path = "/manage/login/" if surface == "console" else "/admin/login/"
    client = Client()
    response = client.post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)
    return "_auth_user_id" in client.session, response


def assert_locked(surface: str, response):
    if surface == "api":
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "locked_out"
        assert LOCKED_TEXT in response.json()["error"]["message"]
        assert 0 < int(response["Retry-After"]) <= 60
    else:
        page = response.content.decode()
        assert response.status_code == 200 and LOCKED_TEXT in page
        # The message never says which of username or password was wrong.
        assert "correct username" not in page and "password" not in page.split(LOCKED_TEXT)[1].split("</")[0]


def assert_wrong_credentials(surface: str, response):
    if surface == "api":
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "authentication_failed"
    else:
        assert response.status_code == 200 and "correct username and password" in response.content.decode()


SURFACES = ["api", "console", "admin"]


@pytest.mark.parametrize("surface", SURFACES)
def test_twenty_failures_lock_the_account_and_the_address_until_the_cool_off(surface, monkeypatch):
    user, other, ip = fresh_user(surface), fresh_user(surface), fresh_ip()
    for _ in range(20):
        signed_in, response = attempt(surface, user.username, WRONG, ip)
        assert not signed_in
        assert_wrong_credentials(surface, response)

    # The right password is refused while locked: on the account from anywhere, and from the address for anyone.
    signed_in, response = attempt(surface, user.username, PASSWORD, ip)
    assert not signed_in
    assert_locked(surface, response)
    signed_in, response = attempt(surface, user.username, PASSWORD, fresh_ip())
    assert not signed_in
    assert_locked(surface, response)
    signed_in, response = attempt(surface, other.username, PASSWORD, ip)
    assert not signed_in
    assert_locked(surface, response)

    events = AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, details__username=user.username)
    assert sorted(e.details["locked"] for e in events) == ["account", "address"]
    for event in events:
        assert event.details["ip"] == ip and event.details["surface"] == surface
        assert event.details["failures"] == 20 and event.details["lockout_seconds"] == 60
        assert event.actor_label == "system:login-guard"
        assert PASSWORD not in str(event.details) and WRONG not in str(event.details)

    # After the cool-off both sign in again.
    later = lockout._now() + 61
    monkeypatch.setattr(lockout, "_now", lambda: later)
    assert attempt(surface, user.username, PASSWORD, ip)[0]
    assert attempt(surface, other.username, PASSWORD, ip)[0]


def test_refused_attempts_during_a_lockout_are_not_counted_and_the_next_lockout_lasts_twice_as_long(monkeypatch):
    user, ip = fresh_user("api"), fresh_ip()
    start = lockout._now()
    for _ in range(20):
        attempt("api", user.username, WRONG, ip)
    for _ in range(5):
        assert attempt("api", user.username, WRONG, ip)[1].status_code == 429
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, details__username=user.username).count() == 2

    monkeypatch.setattr(lockout, "_now", lambda: start + 61)
    for _ in range(19):
        assert attempt("api", user.username, WRONG, ip)[1].status_code == 401
    assert attempt("api", user.username, WRONG, ip)[1].status_code == 401  # the 20th: locked again, for 120 s
    response = attempt("api", user.username, PASSWORD, ip)[1]
    assert response.status_code == 429 and 60 < int(response["Retry-After"]) <= 120
    second = AuditEvent.objects.filter(action=AuditAction.LOGIN_LOCKED_OUT, details__username=user.username,
                                       details__lockout_number=2)
    assert {e.details["lockout_seconds"] for e in second} == {120}


def test_a_successful_sign_in_clears_the_account_count_but_not_the_address_count():
    user, ip = fresh_user("api"), fresh_ip()
    for _ in range(19):
        attempt("api", user.username, WRONG, ip)
    assert attempt("api", user.username, PASSWORD, fresh_ip())[0]
    # The account starts over; the address still holds its 19 failures: one more locks it.
    assert attempt("api", user.username, WRONG, fresh_ip())[1].status_code == 401
    assert attempt("api", f"nobody-{uuid.uuid4().hex}", WRONG, ip)[1].status_code == 401
    assert attempt("api", user.username, PASSWORD, ip)[1].status_code == 429
    assert attempt("api", user.username, PASSWORD, fresh_ip())[0]


def test_unknown_usernames_are_locked_like_real_ones():
    ip = fresh_ip()
    name = f"ghost-{uuid.uuid4().hex[:8]}"
    for _ in range(20):
        assert attempt("api", name, WRONG, fresh_ip())[1].status_code == 401
    assert attempt("api", name, WRONG, ip)[1].status_code == 429


def test_the_client_address_is_remote_addr_unless_proxies_are_trusted(settings):
    from django.test import RequestFactory

    from core.request_context import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_ip(request) == "10.0.0.5"  # X-Forwarded-For is anyone's to forge
    settings.BYOK_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"  # what our one proxy saw; the forged entry before it is ignored
    settings.BYOK_TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.5"  # fewer entries than proxies: not behind them after all
