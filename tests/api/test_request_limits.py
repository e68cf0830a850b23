"""Request bodies are bounded before they are parsed: JSON depth (400 malformed_request) and size (413)."""

import json

import pytest

from core.parsers import NestedTooDeep, nested_deeper_than, read_json
from tests.byok.routing_helpers import MESSAGES, team
from tests.factories import BusinessUserFactory

pytestmark = pytest.mark.django_db(transaction=True)  # LLM calls run on the data plane's loop, in other threads

DEEP = "[" * 1000 + "]" * 1000  # 2 KB: enough to make Python's json recurse past its limit


def _endpoints(client_for, api_client):
    """(client, url) for an anonymous call, an owner's call and the gateway (which has its own parser list)."""
    owner, workspace, member = team()
    return {
        "token (anonymous)": (api_client, "/api/v1/auth/token/"),
        "provider keys": (client_for(BusinessUserFactory()), "/api/v1/provider-keys/"),
        "gateway": (client_for(member), f"/api/v1/workspaces/{workspace.slug}/completions/"),
    }


ENDPOINTS = ["token (anonymous)", "provider keys", "gateway"]


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["fields"] == {}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_deeply_nested_json_is_a_400_not_a_500(client_for, api_client, endpoint):
    client, url = _endpoints(client_for, api_client)[endpoint]
    for body in (DEEP, '{"messages": ' + DEEP + "}", "[" * 5000):  # nested, nested in a field, unclosed
        response = client.generic("POST", url, body, content_type="application/json")
        assert_error(response, 400, "malformed_request")
        assert "32" in response.json()["error"]["message"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_nesting_up_to_the_limit_is_parsed_and_validated(client_for, api_client, endpoint):
    client, url = _endpoints(client_for, api_client)[endpoint]
    at_limit = {"messages": json.loads("[" * 31 + "]" * 31)}  # depth 32 with the outer object
    response = client.post(url, at_limit, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"  # reached the serializer, not refused by the parser


def test_the_depth_limit_is_a_setting(client_for, settings):
    settings.BYOK_JSON_MAX_DEPTH = 3
    client = client_for(BusinessUserFactory())
    response = client.generic("POST", "/api/v1/provider-keys/", '{"a": [[[1]]]}', content_type="application/json")
    assert_error(response, 400, "malformed_request")
    response = client.generic("POST", "/api/v1/provider-keys/", '{"a": [[1]]}', content_type="application/json")
    assert response.json()["error"]["code"] == "invalid"


def test_brackets_inside_strings_do_not_count_as_nesting(client_for):
    owner, workspace, member = team()
    content = "[" * 2000 + '\\"{' * 500
    body = '{"messages": [{"role": "user", "content": "' + content + '"}], "task": "nope"}'
    response = client_for(member).generic("POST", f"/api/v1/workspaces/{workspace.slug}/completions/", body,
                                          content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"task"}


def test_nesting_is_measured_without_recursion():
    assert not nested_deeper_than(1, 0)
    assert nested_deeper_than({"a": [1, {"b": []}]}, 3)
    assert not nested_deeper_than({"a": [1, {"b": []}]}, 4)
    assert not nested_deeper_than(["[[[[", '"]]]'], 1)
    assert not nested_deeper_than([[]] * 100_000, 2)
    deep = []
    for _ in range(100_000):
        deep = [deep]
    assert nested_deeper_than(deep, 32)


def test_read_json_is_the_json_modules_verdict(settings):
    """jiter reads first; what it refuses the json module decides, so nothing is read otherwise than before."""
    settings.BYOK_JSON_MAX_DEPTH = 3
    read = read_json(b'{"n": 1180591620717411303425, "x": 1.5}')
    assert read == {"n": 2**70 + 1, "x": 1.5} and type(read["n"]) is int  # exact, not a float
    assert read_json(b'{"s": "\\ud800"}') == {"s": "\ud800"}  # jiter refuses lone surrogates; json keeps them
    assert read_json('{"a": [[1]]}') == {"a": [[1]]}
    for refused in (b'{"a": NaN}', b'{"a": Infinity}', b"\xef\xbb\xbf{}", b'{"a": 1,}', b"", b'{"a": "\\x"}'):
        with pytest.raises(ValueError):
            read_json(refused)
    for deep in (b'{"a": [[[1]]]}', b"[" * 100_000):
        with pytest.raises(NestedTooDeep, match="deeper than 3 levels"):
            read_json(deep)
    # Brackets inside strings count for nothing: a shallow document full of them is read, a deep one among them not.
    assert read_json(b'{"a": "[[[[{{{{", "b": [["]]]]"]]}') == {"a": "[[[[{{{{", "b": [["]]]]"]]}
    with pytest.raises(NestedTooDeep):
        read_json(b'{"a": "[[[[", "b": [[[1]]]}')
    with pytest.raises(UnicodeDecodeError):
        read_json(b'{"a": "\xff"}')


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_body_over_the_limit_is_413_before_parsing(client_for, api_client, endpoint, settings):
    settings.BYOK_API_MAX_BODY_SIZE = 1000
    client, url = _endpoints(client_for, api_client)[endpoint]
    big = json.dumps({"messages": MESSAGES, "padding": "x" * 2000})
    response = client.generic("POST", url, big, content_type="application/json")
    assert_error(response, 413, "request_too_large")
    assert "1000" in response.json()["error"]["message"]


def test_form_and_multipart_bodies_are_bounded_too(api_client, settings):
    settings.BYOK_API_MAX_BODY_SIZE = 1000
    form = "username=a&password=" + "x" * 2000
    response = api_client.generic("POST", "/api/v1/auth/token/", form,
                                  content_type="application/x-www-form-urlencoded")
    assert_error(response, 413, "request_too_large")
    response = api_client.post("/api/v1/auth/token/", {"username": "a", "password": "x" * 2000}, format="multipart")
    assert_error(response, 413, "request_too_large")


def test_django_upload_limit_is_a_413_in_the_error_shape(api_client, settings):
    # Django's own limit (RequestDataTooBig) on form fields read into memory, below the API's body limit.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    response = api_client.post("/api/v1/auth/token/", {"username": "a", "password": "x" * 2000}, format="multipart")
    assert_error(response, 413, "request_too_large")
