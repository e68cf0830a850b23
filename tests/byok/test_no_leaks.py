"""Canary secrets: planted through the services, then every API endpoint, admin page and log line is searched.

To cover a new endpoint, add a `Step` to API_STEPS (the route name is checked against the URLconf, so a new route
under /api/v1/ without a step fails `test_every_api_route_has_a_step`). Admin pages are found from the admin site's
registry, so a newly registered ModelAdmin is covered without any change here.
"""

import copy
import io
import json
import logging
import pickle
import secrets
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.conf import settings as django_settings
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from byok.models import ProviderKey
from byok.providers.registry import PROVIDERS, endpoint_overrides
from byok.services.keys import provider_key_create
from byok.simulator.accounts import new_service_account
from core.logging import RedactingFilter
from tests.factories import BusinessUserFactory, UserFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

DEMO_PASSWORD = django_settings.BYOK_DEMO_PASSWORD
UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def canary_credentials() -> dict[str, dict[str, str]]:
    """Fresh, unique values shaped like each provider's real credentials."""
    return {
        "bedrock": {"access_key_id": "AKIA" + rand(UPPER, 16), "secret_access_key": rand(ALNUM + "/+", 40)},
        "bedrock_api_key": {"api_key": "ABSK" + rand(ALNUM, 60), "region": "us-east-1"},
        # Not a secret, but the full ARN (account and role) is shown only as its hint, like an access key id.
        "bedrock_role": {"role_arn": f"arn:aws:iam::{rand(string.digits, 12)}:role/canary-{rand(ALNUM, 20)}"},
        "anthropic": {"api_key": "sk-ant-api03-" + rand(ALNUM, 80)},
        "openai": {"api_key": "sk-proj-" + rand(ALNUM, 60)},
        "mistral": {"api_key": rand(ALNUM, 32)},
        "deepseek": {"api_key": "sk-" + rand(ALNUM, 32)},
        "xai": {"api_key": "xai-" + rand(ALNUM, 60)},
        "zai": {"api_key": rand(ALNUM, 32) + "." + rand(ALNUM, 16)},
        "groq": {"api_key": "gsk_" + rand(ALNUM, 52)},
        "vertex": {"service_account_json": json.dumps(new_service_account(
            project_id="canary-" + rand(string.ascii_lowercase, 8), account_name="canary-" + rand(string.digits, 6),
            token_uri="https://oauth2.googleapis.com/token")), "location": "europe-west1"},
    }


def secret_parts(credentials: dict) -> list[str]:
    """What must never be shown: every secret field, and the full access key id (only its hint is shown). A
    service-account key file: the whole file, its private key id and every line of its private key (as text, so a
    JSON-escaped copy is caught as well as a raw one)."""
    parts = [v for k, v in credentials.items() if k not in ("region", "expires_at", "location")]
    if "service_account_json" in credentials:
        info = json.loads(credentials["service_account_json"])
        parts += [info["private_key_id"]] + [line for line in info["private_key"].splitlines()
                                              if line and not line.startswith("-----")]
    return parts


@dataclass
class Planted:
    owner: object
    workspace: object
    keys: dict[str, ProviderKey]
    canaries: list[str] = field(default_factory=list)
    api_key: dict = field(default_factory=dict)  # the workspace API key created by a step: {"id", "key"}
    api_token: dict = field(default_factory=dict)  # the API token created by a step: {"token", "id", "expires_at"}

    def fresh(self, provider: str) -> dict:
        """New canary credentials for `provider`, remembered so they are searched for too."""
        credentials = canary_credentials()[provider]
        self.canaries += secret_parts(credentials)
        return credentials


@pytest.fixture
def planted(settings) -> Planted:
    # Connection tests go to a closed local port: the failure path (SDK errors) runs, nothing leaves the machine.
    closed = "http://127.0.0.1:9"
    settings.BYOK_ENDPOINTS = {name: closed for name in endpoint_overrides()}
    settings.BYOK_CONNECTION_TEST_TIMEOUT = 2
    owner = BusinessUserFactory()
    workspace = WorkspaceFactory(owner=owner)
    credentials = canary_credentials()
    keys = {}
    other_workspace = WorkspaceFactory(owner=owner)
    for provider, values in credentials.items():
        # One owner-wide key per family: the other Bedrock keys serve one workspace each.
        scope = {"scope": "selected", "workspaces": [workspace]} if provider == "bedrock_api_key" else \
            {"scope": "selected", "workspaces": [other_workspace]} if provider == "bedrock_role" else {}
        keys[provider] = provider_key_create(owner=owner, provider=provider, name=f"{provider} canary",
                                             credentials=values, skip_test=True, **scope)
    session = {"access_key_id": "ASIA" + rand(UPPER, 16), "secret_access_key": rand(ALNUM, 40),
               "session_token": "FwoGZXIvYXdz" + rand(ALNUM, 200)}
    keys["bedrock"].set_session(session, None)
    keys["bedrock"].save()
    role_session = {"access_key_id": "ASIA" + rand(UPPER, 16), "secret_access_key": rand(ALNUM, 40),
                    "session_token": "FwoGZXIvYXdz" + rand(ALNUM, 200)}
    keys["bedrock_role"].set_session(role_session, None)
    keys["bedrock_role"].save()
    canaries = [part for values in credentials.values() for part in secret_parts(values)] + list(session.values()) \
        + list(role_session.values())
    return Planted(owner=owner, workspace=workspace, keys=keys, canaries=canaries)


@pytest.fixture
def captured_logs(caplog):
    """All log output at DEBUG, written by a handler with the configured formatter and filters (as in production)."""
    caplog.set_level(logging.DEBUG)
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(console.formatter)
    for log_filter in console.filters:
        handler.addFilter(log_filter)
    handler.records = []
    handler.addFilter(lambda record: handler.records.append(record) or True)
    loggers = [logging.getLogger(), logging.getLogger("django")]  # "django" does not propagate to the root
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield stream, handler.records, caplog
    for lg, level in zip(loggers, levels):
        lg.removeHandler(handler)
        lg.setLevel(level)


def assert_no_canary(text: str, canaries: list[str], where: str) -> None:
    leaked = [c for c in canaries if c in text]
    assert not leaked, f"{len(leaked)} canary secret(s) leaked into {where}"


# --- the API ------------------------------------------------------------------------------------------------

@dataclass
class Step:
    route: str  # URL name, checked against the URLconf
    method: str
    url: Callable[[Planted], str]
    body: Callable[[Planted], dict | None] = lambda p: None
    expect: tuple[int, ...] = (200,)
    headers: Callable[[Planted], dict] = lambda p: {}  # e.g. authenticate with the workspace API key instead
    after: Callable[[Planted, object], None] = lambda p, response: None  # runs once the response is checked


def key_url(provider: str, route: str) -> Callable[[Planted], str]:
    return lambda p: reverse(route, kwargs={"pk": p.keys[provider].pk})


def api_key_created(p: Planted, response) -> None:
    """The one response allowed to show the key: from now on it is a canary like the provider secrets."""
    p.api_key.update(response.json())
    p.canaries.append(p.api_key["key"])


def with_api_key(header: str) -> Callable[[Planted], dict]:
    return lambda p: ({"Authorization": f"Bearer {p.api_key['key']}"} if header == "bearer"
                      else {"x-api-key": p.api_key["key"]})


def api_token_created(p: Planted, response) -> None:
    """The one response allowed to show the API token: from now on it is a canary too."""
    p.api_token.update(response.json())
    p.canaries.append(p.api_token["token"])


def with_api_token(scheme: str) -> Callable[[Planted], dict]:
    return lambda p: {"Authorization": f"{scheme} {p.api_token['token']}"}


def api_token_url(p: Planted) -> str:
    return reverse("auth-token-detail", kwargs={"pk": p.api_token["id"]})


def api_key_url(p: Planted) -> str:
    return reverse("workspace-api-key-detail", kwargs={"slug": p.workspace.slug, "pk": p.api_key["id"]})


def bad_echo(p: Planted) -> dict:
    """Invalid input built around a canary: the error must name the field, never repeat the value."""
    canary = p.fresh("openai")["api_key"]
    return {"provider": "openai", "name": "echo", "credentials": {"api_key": canary + "\u2019"}, "skip_test": True}


# Calls that reach a provider (here a closed port) may answer with any handled error, never a 500.
ANSWERED = (200, 400, 402, 403, 409, 424, 429, 502, 503, 504)

API_STEPS = [
    Step("me", "get", lambda p: reverse("me")),
    Step("workspace-list", "get", lambda p: reverse("workspace-list")),
    Step("workspace-detail", "get", lambda p: reverse("workspace-detail", kwargs={"slug": p.workspace.slug})),
    Step("workspace-audit-events", "get",
         lambda p: reverse("workspace-audit-events", kwargs={"slug": p.workspace.slug})),
    Step("workspace-api-key-list", "post",
         lambda p: reverse("workspace-api-key-list", kwargs={"slug": p.workspace.slug}),
         lambda p: {"name": "canary sdk key"}, expect=(201,), after=api_key_created),
    Step("workspace-api-key-list", "post",
         lambda p: reverse("workspace-api-key-list", kwargs={"slug": p.workspace.slug}),
         lambda p: {"name": "", "expires_at": "1999-01-01T00:00:00Z"}, expect=(400,)),
    Step("workspace-api-key-list", "get",
         lambda p: reverse("workspace-api-key-list", kwargs={"slug": p.workspace.slug})),
    Step("workspace-detail", "get", lambda p: reverse("workspace-detail", kwargs={"slug": p.workspace.slug}),
         headers=with_api_key("bearer")),
    Step("workspace-completions", "post",
         lambda p: reverse("workspace-completions", kwargs={"slug": p.workspace.slug}),
         lambda p: {"messages": [{"role": "user", "content": "Reply with OK."}], "provider": "anthropic"},
         expect=ANSWERED, headers=with_api_key("x-api-key")),
    Step("workspace-api-key-list", "get",
         lambda p: reverse("workspace-api-key-list", kwargs={"slug": p.workspace.slug}),
         expect=(403,), headers=with_api_key("bearer")),
    Step("workspace-api-key-detail", "delete", api_key_url, expect=(204,)),
    Step("workspace-api-key-detail", "delete", api_key_url, expect=(409,)),
    Step("workspace-detail", "get", lambda p: reverse("workspace-detail", kwargs={"slug": p.workspace.slug}),
         expect=(401,), headers=with_api_key("bearer")),
    Step("provider-catalog", "get", lambda p: reverse("provider-catalog")),
    Step("provider-key-list", "get", lambda p: reverse("provider-key-list")),
    Step("provider-key-list", "post", lambda p: reverse("provider-key-list"), bad_echo, expect=(400,)),
    Step("provider-key-list", "post", lambda p: reverse("provider-key-list"),
         lambda p: {"provider": "anthropic", "name": "second", "credentials": p.fresh("anthropic"),
                    "scope": "selected", "workspaces": [p.workspace.slug], "skip_test": True}, expect=(201,)),
    *[Step("provider-key-detail", "get", key_url(provider, "provider-key-detail")) for provider in PROVIDERS],
    Step("provider-key-detail", "patch", key_url("bedrock", "provider-key-detail"),
         lambda p: {"name": "renamed", "credentials": {"secret_access_key": ""}}),
    Step("provider-key-detail", "patch", key_url("bedrock", "provider-key-detail"),
         lambda p: {"credentials": {"secret_access_key": p.fresh("bedrock")["secret_access_key"] + "!"}},
         expect=(400,)),
    Step("provider-key-rotate", "post", key_url("openai", "provider-key-rotate"),
         lambda p: {"credentials": p.fresh("openai"), "skip_test": True}),
    Step("provider-key-rotate", "post", key_url("anthropic", "provider-key-rotate"),
         lambda p: {"credentials": {"api_key": p.fresh("openai")["api_key"]}, "skip_test": True}, expect=(400,)),
    Step("provider-key-test", "post", lambda p: reverse("provider-key-test"),
         lambda p: {"provider": "xai", "credentials": p.fresh("xai")}, expect=(200, 400)),
    Step("provider-key-test-connection", "post", key_url("bedrock", "provider-key-test-connection"),
         expect=(200, 400)),
    Step("provider-key-test-connection", "post", key_url("anthropic", "provider-key-test-connection"),
         expect=(200, 400)),
    Step("provider-key-test-connection", "post", key_url("bedrock_role", "provider-key-test-connection"),
         expect=(200, 400)),
    Step("provider-key-test", "post", lambda p: reverse("provider-key-test"),
         lambda p: {"provider": "bedrock_role", "credentials": p.fresh("bedrock_role")}, expect=(200, 400)),
    Step("provider-key-rotate", "post", key_url("bedrock_role", "provider-key-rotate"),
         lambda p: {"credentials": p.fresh("bedrock_role"), "skip_test": True}),
    Step("provider-key-rotate", "post", key_url("bedrock_role", "provider-key-rotate"),
         lambda p: {"credentials": {"role_arn": p.fresh("bedrock_role")["role_arn"] + "*"}, "skip_test": True},
         expect=(400,)),
    Step("provider-key-parse", "post", lambda p: reverse("provider-key-parse"),
         lambda p: {"provider": "bedrock", "text": "export AWS_ACCESS_KEY_ID={access_key_id}\n"
                    "export AWS_SECRET_ACCESS_KEY={secret_access_key}\n".format(**p.fresh("bedrock"))}),
    Step("provider-key-parse", "post", lambda p: reverse("provider-key-parse"),
         lambda p: {"provider": "bedrock", "text": json.dumps({"accessKeyId": p.fresh("bedrock")["access_key_id"]})},
         expect=(400,)),
    Step("provider-key-rotate", "post", key_url("bedrock", "provider-key-rotate"),
         lambda p: {"skip_test": True, "credentials": {"pasted": json.dumps(
             {"Credentials": {"AccessKeyId": p.fresh("bedrock")["access_key_id"],
                              "SecretAccessKey": p.fresh("bedrock")["secret_access_key"]}})}}),
    Step("provider-key-test-connection", "post", key_url("vertex", "provider-key-test-connection"),
         expect=(200, 400)),
    Step("provider-key-test", "post", lambda p: reverse("provider-key-test"),
         lambda p: {"provider": "vertex", "credentials": p.fresh("vertex")}, expect=(200, 400)),
    Step("provider-key-rotate", "post", key_url("vertex", "provider-key-rotate"),
         lambda p: {"credentials": {"service_account_json": p.fresh("vertex")["service_account_json"][:-2]},
                    "skip_test": True}, expect=(400,)),
    Step("provider-key-rotate", "post", key_url("vertex", "provider-key-rotate"),
         lambda p: {"credentials": p.fresh("vertex"), "skip_test": True}),
    Step("workspace-byok", "get", lambda p: reverse("workspace-byok", kwargs={"slug": p.workspace.slug})),
    Step("workspace-byok-test-connection", "post",
         lambda p: reverse("workspace-byok-test-connection", kwargs={"slug": p.workspace.slug}), expect=ANSWERED),
    Step("workspace-completions", "post",
         lambda p: reverse("workspace-completions", kwargs={"slug": p.workspace.slug}),
         lambda p: {"messages": [{"role": "user", "content": "Reply with OK."}], "provider": "anthropic"},
         expect=ANSWERED),
    Step("workspace-usage", "get", lambda p: reverse("workspace-usage", kwargs={"slug": p.workspace.slug})),
    Step("usage-limit-list", "post", lambda p: reverse("usage-limit-list"),
         lambda p: {"subject": "workspace", "workspace": p.workspace.slug, "metric": "money_per_day", "value": 500,
                    "thresholds": [80]},
         expect=(201,), after=lambda p, response: setattr(p, "limit_id", response.json()["id"])),
    Step("usage-limit-list", "get", lambda p: reverse("usage-limit-list")),
    Step("plan-ceiling-list", "get", lambda p: reverse("plan-ceiling-list")),
    Step("usage-limit-detail", "delete", lambda p: reverse("usage-limit-detail", kwargs={"pk": p.limit_id}),
         expect=(204,)),
    Step("provider-key-disable", "post", key_url("deepseek", "provider-key-disable")),
    Step("provider-key-enable", "post", key_url("deepseek", "provider-key-enable")),
    Step("provider-key-detail", "delete", key_url("zai", "provider-key-detail"), expect=(204,)),
    Step("auth-token", "post", lambda p: reverse("auth-token"),
         lambda p: {"username": p.owner.username, "password": "wrong"}, expect=(401,)),
    Step("auth-token", "post", lambda p: reverse("auth-token"),
         lambda p: {"username": p.owner.username, "password": DEMO_PASSWORD, "name": "canary token"},
         after=api_token_created),
    Step("auth-token", "post", lambda p: reverse("auth-token"),
         lambda p: {"username": p.owner.username, "password": DEMO_PASSWORD, "expires_in_days": 0}, expect=(400,)),
    Step("auth-token-list", "get", lambda p: reverse("auth-token-list")),
    Step("me", "get", lambda p: reverse("me"), headers=with_api_token("Token")),
    Step("provider-key-list", "get", lambda p: reverse("provider-key-list"), headers=with_api_token("Bearer")),
    Step("auth-token-list", "get", lambda p: reverse("auth-token-list"), headers=with_api_token("Bearer")),
    Step("auth-token-detail", "delete", api_token_url, expect=(204,)),
    Step("auth-token-detail", "delete", api_token_url, expect=(409,)),
    Step("auth-token-detail", "delete", lambda p: reverse("auth-token-detail", kwargs={"pk": 10**9}), expect=(404,)),
    Step("me", "get", lambda p: reverse("me"), expect=(401,), headers=with_api_token("Token")),
    Step("byok-revert", "post", lambda p: reverse("byok-revert"), lambda p: {"confirm": False}, expect=(400,)),
    Step("byok-revert", "post", lambda p: reverse("byok-revert"), lambda p: {"confirm": True}),
]
PAGES = ["/api/schema/", "/api/docs/"]


def api_route_names() -> set[str]:
    def walk(patterns, prefix: str) -> set[str]:
        names = set()
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                names |= walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/") and pattern.name:
                names.add(pattern.name)
        return names

    return walk(get_resolver().url_patterns, "")


def test_every_api_route_has_a_step():
    missing = api_route_names() - {step.route for step in API_STEPS}
    assert not missing, f"add a Step to API_STEPS for: {sorted(missing)}"


@pytest.mark.django_db(transaction=True)  # the completion step runs on the data plane's loop, in other threads
def test_canaries_appear_nowhere_but_in_ciphertext(planted, captured_logs, client_for):
    stream, records, caplog = captured_logs
    client = client_for(planted.owner)
    planted.canaries.append(client.token)  # the API token the steps run with: never shown, logged nor stored
    ciphertexts = {p: k.secret for p, k in planted.keys.items()}
    for provider, key in planted.keys.items():
        stored = ProviderKey.objects.get(pk=key.pk)
        assert set(secret_parts(canary_credentials()[provider])).isdisjoint(stored.secret)  # sanity: shapes differ
        assert set(secret_parts(stored.get_credentials().to_json())) <= set(planted.canaries)  # it is in there

    for step in API_STEPS:
        headers = step.headers(planted)
        caller = APIClient() if headers else client
        response = getattr(caller, step.method)(step.url(planted), step.body(planted), format="json",
                                                headers=headers)
        where = f"{step.method.upper()} {step.route}"
        assert response.status_code in step.expect, (where, response.status_code, response.content[:500])
        assert_no_canary(response.content.decode(), planted.canaries, where)
        assert_no_canary(json.dumps(dict(response.headers)), planted.canaries, f"{where} headers")
        step.after(planted, response)
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, page
        assert_no_canary(response.content.decode(), planted.canaries, page)

    assert_no_canary(stream.getvalue(), planted.canaries, "log output")
    assert_no_canary(caplog.text, planted.canaries, "captured log records")
    assert_no_canary(database_dump(), planted.canaries, "the database (outside ciphertext)")
    assert planted.api_key["key"] in planted.canaries  # the workspace API key was searched for too
    assert planted.api_token["token"] in planted.canaries  # and the API token created by a step
    assert ciphertexts  # the keys existed under ciphertext until the revert destroyed them
    assert not ProviderKey.objects.filter(owner=planted.owner).exists()


def database_dump() -> str:
    """Every row of every table as text: any plaintext copy of a secret would show here."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.append(repr(cursor.fetchall()))
    return "\n".join(chunks)


def test_canaries_stay_out_of_the_database_and_the_admin(planted, captured_logs):
    stream, _, caplog = captured_logs
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)
    assert_no_canary(database_dump(), planted.canaries, "the database (outside ciphertext)")
    pages = ["/admin/"]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse(f"admin:{info[0]}_{info[1]}_changelist"))
        first = model_admin.get_queryset(_request(staff)).order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_change", args=[first.pk]))
            pages.append(reverse(f"admin:{info[0]}_{info[1]}_history", args=[first.pk]))
    pages.append(reverse("admin:byok_providerkey_delete", args=[planted.keys["bedrock"].pk]))
    for page in pages:
        response = browser.get(page)
        assert response.status_code == 200, (page, response.status_code)
        assert_no_canary(response.content.decode(), planted.canaries, page)
    assert reverse("admin:byok_providerkey_change", args=[planted.keys["bedrock"].pk]) in pages
    assert_no_canary(stream.getvalue() + caplog.text, planted.canaries, "log output")


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


# --- logs: the redaction filter as last line of defence --------------------------------------------------

def test_secrets_logged_by_mistake_are_redacted(planted, captured_logs):
    stream, _, _ = captured_logs
    c = canary_credentials()
    log = logging.getLogger("byok.anything")
    log.error("boom %s", c["anthropic"]["api_key"])
    log.warning("aws pair %s / %s", c["bedrock"]["access_key_id"], c["bedrock"]["secret_access_key"])
    log.info("headers {'Authorization': 'Bearer %s', 'x-api-key': '%s'}",
             c["openai"]["api_key"], c["mistral"]["api_key"])
    log.info("retrying with Bearer %s", c["bedrock_api_key"]["api_key"][4:])
    log.info("GET https://bedrock-runtime.us-east-1.amazonaws.com/model?X-Amz-Security-Token=%s&a=1",
             "IQoJb3JpZ2lu" + rand(ALNUM, 100))
    log.debug("keys %s %s %s", c["xai"]["api_key"], c["bedrock_api_key"]["api_key"],
              "bedrock-api-key-" + rand(ALNUM, 60))
    log.info("config %s", {"api_key": c["zai"]["api_key"], "deepseek": c["deepseek"]["api_key"]})
    try:
        raise RuntimeError(f"upstream rejected key {c['openai']['api_key']} for {c['bedrock']['access_key_id']}")
    except RuntimeError:
        log.exception("provider call failed")
    log.error("with stack", stack_info=True, extra={"note": "x"})
    output = stream.getvalue()
    every = [part for values in c.values() for part in secret_parts(values)]
    assert_no_canary(output, every, "redacted log output")
    assert f"sk-ant-…{c['anthropic']['api_key'][-4:]}" in output
    assert f"AKIA…{c['bedrock']['access_key_id'][-4:]}" in output
    assert "{'Authorization': '[redacted]', 'x-api-key': '[redacted]'}" in output
    assert "retrying with Bearer [redacted]" in output and "X-Amz-Security-Token=[redacted]&a=1" in output
    assert "RuntimeError: upstream rejected key sk-proj-…" in output


def test_the_configured_console_handler_redacts():
    console = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    assert any(isinstance(f, RedactingFilter) for f in console.filters)


def test_json_log_format_uses_the_redacted_exception_text():
    from core.logging import JsonFormatter

    secret = "sk-ant-api03-" + rand(ALNUM, 60)
    try:
        raise ValueError(secret)
    except ValueError:
        record = logging.LogRecord("byok", logging.ERROR, __file__, 1, "failed", None, exc_info=sys.exc_info())
    RedactingFilter().filter(record)
    line = JsonFormatter().format(record)
    assert secret not in line and "sk-ant-…" in json.loads(line)["exception"]


# --- objects that hold plaintext ------------------------------------------------------------------------------

def test_credentials_and_keys_show_hints_only(planted):
    key = ProviderKey.objects.get(pk=planted.keys["openai"].pk)
    credentials = key.get_credentials()
    api_key = credentials["api_key"]
    for text in (repr(credentials), str(credentials), f"{credentials}", "%s" % (credentials,), repr(key), str(key),
                 repr([credentials]), repr({"c": credentials})):
        assert api_key not in text
        assert key.key_hint in text
    assert json.dumps({"c": credentials}, default=str).count(api_key) == 0


def test_credentials_refuse_json_pickle_and_copy():
    credentials = PROVIDERS["anthropic"].credentials(canary_credentials()["anthropic"])
    with pytest.raises(TypeError):
        json.dumps(credentials)
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(credentials)
    with pytest.raises(TypeError):
        copy.deepcopy(credentials)


def test_partial_credentials_still_have_a_safe_repr():
    credentials = PROVIDERS["bedrock"].credentials({"secret_access_key": canary_credentials()["bedrock"]["secret_access_key"]})
    assert repr(credentials) == "<Credentials bedrock (no hint)>"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_validator_errors_never_echo_the_value(provider):
    spec = PROVIDERS[provider]
    valid = canary_credentials()[provider]
    for credential_field in spec.credential_fields:
        shown_as_hint_only = credential_field.secret or credential_field.name == "access_key_id"
        if credential_field.name not in valid or not shown_as_hint_only:
            continue
        value = valid[credential_field.name]
        for bad in (value + "!", value[:10] + " " + value[10:], value + "\u00e9", "x" + value + "\x07", value * 80):
            _, errors = spec.field_errors({**valid, credential_field.name: bad})
            reasons = json.dumps(errors)
            assert errors and value[4:-4] not in reasons and value[4:20] not in reasons, (credential_field.name, bad)


def test_an_unexpected_error_report_hides_the_plaintext(planted, captured_logs, client_for, monkeypatch):
    """What a 500 e-mail to the admins (DEBUG off) would contain: frames below the services' sensitive_variables."""
    _, records, _ = captured_logs

    def broken(**kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setattr("byok.services.keys._check_scope", broken)
    credentials = planted.fresh("anthropic")
    client = client_for(planted.owner)
    client.raise_request_exception = False
    response = client.post("/api/v1/provider-keys/", {"provider": "anthropic", "name": "x", "scope": "selected",
                                                     "workspaces": [planted.workspace.slug],
                                                     "credentials": credentials, "skip_test": True}, format="json")
    assert response.status_code == 500
    record = next(r for r in records if r.name == "django.request" and r.exc_info)
    reporter = ExceptionReporter(record.request, *record.exc_info, is_email=True)
    report = reporter.get_traceback_text() + reporter.get_traceback_html()
    assert "provider_key_create" in report
    assert_no_canary(report, planted.canaries, "the error report")


# --- the staff admin shows metadata only ----------------------------------------------------------------------

def test_staff_admin_has_no_secret_fields_no_add_and_no_per_row_queries(planted, django_assert_max_num_queries):
    browser = Client()
    browser.force_login(UserFactory(is_staff=True, is_superuser=True))
    change = browser.get(reverse("admin:byok_providerkey_change", args=[planted.keys["openai"].pk])).content.decode()
    assert 'name="secret"' not in change and 'name="session_secret"' not in change
    assert planted.keys["openai"].key_hint in change
    assert browser.get(reverse("admin:byok_providerkey_add")).status_code == 403
    with django_assert_max_num_queries(12):  # the same for 8 keys as for 1: status needs no query per row
        page = browser.get(reverse("admin:byok_providerkey_changelist")).content.decode()
    assert page.count("Active") >= len(PROVIDERS) - 1
