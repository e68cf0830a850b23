"""Every error under /api/ is JSON in the documented shape; elsewhere Django's HTML pages are kept."""

import json

import pytest
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) >= {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body


@pytest.mark.parametrize("method, url", [
    ("get", "/api/v1/provider-keys/abc/"),
    ("get", "/api/nope"),
    ("get", "/api/v1/nope/"),
    ("post", "/api/v1/provider-keys/1/nope/"),
    ("delete", "/api/v2/workspaces/"),
])
def test_unmatched_api_routes_are_json_404s(client_for, method, url):
    assert_error(getattr(client_for(BusinessUserFactory()), method)(url), 404, "not_found")
    assert_error(getattr(APIClient(), method)(url), 404, "not_found")


def test_unmatched_api_routes_are_json_even_with_debug_pages_on(settings):
    settings.DEBUG = True
    assert_error(APIClient().get("/api/v1/provider-keys/abc/"), 404, "not_found")


def test_other_unmatched_routes_keep_the_html_page():
    response = Client().get("/nope/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_an_html_error_from_the_browsable_api_is_json_too(client_for):
    response = APIClient().get("/api/v1/me/", HTTP_ACCEPT="text/html")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'  # headers of the replaced response are kept


def database_down(execute, sql, params, many, context):
    raise OperationalError("could not connect to server: Connection refused")


@pytest.mark.parametrize("call", [
    lambda client: APIClient().post("/api/v1/auth/token/", {"username": "a", "password": "b"}, format="json"),
    lambda client: client.get("/api/v1/provider-keys/"),
    lambda client: client.get("/api/v1/me/"),
], ids=["token (anonymous)", "provider keys", "me"])
def test_a_database_outage_is_a_503_with_retry_after(client_for, call, settings):
    settings.BYOK_RETRY_AFTER_SECONDS = 7
    client = client_for(BusinessUserFactory())
    with connection.execute_wrapper(database_down):
        response = call(client)
    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == "7"
    assert "connect" not in response.content.decode()  # the driver's message stays in the logs


@pytest.mark.urls("tests.api.urls_with_failures")
def test_a_database_outage_outside_drf_is_a_503_too(settings):
    response = Client(raise_request_exception=False).get("/api/v1/test-database-down/")
    assert_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == str(settings.BYOK_RETRY_AFTER_SECONDS)


@pytest.mark.urls("tests.api.urls_with_failures")
@pytest.mark.parametrize("debug", [False, True])
def test_an_uncaught_exception_under_api_is_a_json_500(settings, debug):
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).get("/api/v1/test-crash/")
    body = assert_error(response, 500, "server_error")
    assert "boom" not in response.content.decode()
    assert body["error"]["fields"] == {}


@pytest.mark.urls("tests.api.urls_with_failures")
def test_an_uncaught_exception_elsewhere_keeps_the_html_page():
    response = Client(raise_request_exception=False).get("/test-crash/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls("tests.api.urls_with_failures")
def test_the_project_wires_the_json_handlers(rf):
    from django.urls import get_resolver

    resolver = get_resolver()
    not_found = resolver.resolve_error_handler(404)(rf.get("/api/v1/nope"), exception=None)
    assert not_found.status_code == 404 and json.loads(not_found.content)["error"]["code"] == "not_found"
    assert resolver.resolve_error_handler(500).__module__ == "core.api"



@pytest.mark.django_db
def test_an_invalid_usage_date_is_a_400_in_the_error_shape(client_for):
    from tests.factories import WorkspaceFactory

    workspace = WorkspaceFactory()
    response = client_for(workspace.owner).get(f"/api/v1/workspaces/{workspace.slug}/usage/", {"until": "2026-13-45"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and "until" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_revert_requires_confirm_true(client_for):
    from tests.factories import BusinessUserFactory

    client = client_for(BusinessUserFactory())
    for body in ({}, {"confirm": False}):
        response = client.post("/api/v1/byok/revert/", body, format="json")
        assert response.status_code == 400, body
        assert "confirm" in response.json()["error"]["fields"]
    assert client.post("/api/v1/byok/revert/", {"confirm": True}, format="json").json() == {"deleted_keys": 0}
