import contextlib
import importlib
import os
import time

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

# processes before workers, which imports it: a plugin imported before it is registered is not assertion-rewritten.
pytest_plugins = ["tests.fixtures.simulator", "tests.fixtures.moto", "tests.fixtures.dataplane", "tests.fixtures.processes",
                  "tests.fixtures.workers"]

REQUIRE_SERVICES = os.environ.get("BYOK_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def require_service(name: str, available: bool) -> None:
    """Skip when a real service is missing, except in CI where its absence is a failure."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{name} is required (BYOK_REQUIRE_SERVICES=1) but is not configured or not answering.")
    pytest.skip(f"{name} not configured; CI runs this with the real service.")


@pytest.fixture
def postgres(db):
    require_service("PostgreSQL", connection.vendor == "postgresql")


@pytest.fixture
def redis_broker():
    url = settings.CELERY_BROKER_URL
    require_service("Redis broker", url.startswith("redis://"))
    return url


@pytest.fixture(autouse=True)
def _seeded_plans(request):
    """Transactional tests end with a flush, which also empties the plans seeded by a data migration: put them
    back for whatever test runs next."""
    uses_db = {"db", "transactional_db"} & set(request.fixturenames) or request.node.get_closest_marker("django_db")
    if not uses_db:
        return
    request.getfixturevalue("transactional_db" if "transactional_db" in request.fixturenames else "db")
    from accounts.models import Plan

    if not Plan.objects.exists():
        importlib.import_module("accounts.migrations.0002_seed_plans").seed_plans(django_apps, None)
    # Likewise the model catalog; and no test sees another's catalog snapshot (a rolled-back test's writes).
    from byok.catalog.selectors import cache as catalog_cache
    from byok.catalog.sync import catalog_sync
    from byok.models import Model

    global _catalog_rows
    if not Model.objects.exists():
        if _catalog_rows:  # what the sync wrote the first time, in one insert (the sync costs ~0.5 s a test)
            Model.objects.bulk_create(Model(**row) for row in _catalog_rows)
        else:
            catalog_sync(Model)
    if _catalog_rows is None:
        _catalog_rows = list(Model.objects.values())
    catalog_cache.clear()


_catalog_rows: list[dict] | None = None  # the catalog as the migration or the first sync wrote it


@pytest.fixture
def whole_minute_ahead():
    """Limits and throttles count per clock minute: start a test with at least 15 s of its minute left, so it stays
    in one."""
    left = 60 - time.time() % 60
    if left < 15:
        time.sleep(left + 0.1)


@pytest.fixture(autouse=True)
def _bridge_loop_stopped(_seeded_plans):
    """A sync LLM call starts the bridge's own event loop (byok.gateway.bridge), whose generation watcher reads the
    database: stopped after the test that started it, before that test's database goes."""
    yield
    from byok.gateway import bridge

    bridge.stop_own_loop()


@pytest.fixture(autouse=True)
def _api_key_use_marks_forgotten():
    """byok.gateway.auth remembers, per key id, when it last recorded a key's use. Rolled-back tests reuse ids
    (SQLite), and every token-authenticated test now creates an ApiKey row: start each test with no marks."""
    from byok.gateway import auth

    with auth._marked_lock:
        auth._marked.clear()


@pytest.fixture(autouse=True)
def _rate_limit_state_forgotten():
    """byok.gateway.limits keeps, per limit id, this process's leases and each owner's limits. Rolled-back tests reuse
    ids: start each test with none."""
    from byok.gateway import limits

    limits._windows.clear()
    limits._rows.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _login_lockout_out_of_the_way(settings):
    """Lockout state lives in the shared cache (Redis in CI, kept across runs), keyed by address: every test client
    is 127.0.0.1. Tests that sign in wrongly on purpose must not lock out the ones after them; the lockout tests set
    the real limit and use addresses and usernames of their own (tests/accounts/test_lockout.py)."""
    settings.BYOK_LOGIN_FAILURE_LIMIT = 1_000_000
    yield
    # A test that set a real limit and failed from the test clients' address (sign-ups, /v1 key guessing) leaves that
    # address locked in the shared cache: lift it, so the tests after it sign in and call as usual.
    from django.core.cache import cache

    from accounts.lockout import _FAILURES, _LOCKED_UNTIL, _STRIKES, _key

    with contextlib.suppress(Exception):  # a test that took the cache away (an outage test) has nothing to lift
        cache.delete_many([_key(template, "address", ip) for template in (_FAILURES, _LOCKED_UNTIL, _STRIKES)
                           for ip in ("127.0.0.1", "::1")])


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for(api_client):
    """An API client authenticated as the given user by an API token, as real clients are (one token per user,
    kept as `client.token`)."""
    from unittest import mock

    from accounts.services import api_token_create

    tokens = {}

    def login(user):
        if user.pk not in tokens:
            # Made by the service, less its audit event: tests count the events of what they do themselves.
            with mock.patch("accounts.services.audit_record"):
                tokens[user.pk] = api_token_create(user=user, name="test client", actor=user)[1]
        client = APIClient()
        client.token = tokens[user.pk]
        client.credentials(HTTP_AUTHORIZATION=f"Token {client.token}")
        return client

    return login


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (a thread consuming from the configured broker), not eager execution."""
    import celery.contrib.testing.tasks  # noqa: F401  (registers celery.ping, used to wait until the worker is up)
    from celery.contrib.testing.worker import start_worker

    from byok_project.celery import app

    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=10, loglevel="WARNING") as worker:
        yield worker


@pytest.fixture
def sandbox(sim, settings):
    """byok pointed at the provider simulator (as `make run` does), with fresh counters."""
    settings.BYOK_ENDPOINTS = {name: url.rstrip("/") for name, url in sim.server.env().items()}
    return sim


@pytest.fixture
def ship_audit(settings):
    """Ship every committed audit event now, as the worker's sweep would (log, webhook, owner emails)."""
    from audit.services.sinks import audit_pending_sweep

    settings.BYOK_AUDIT_SWEEP_GRACE_SECONDS = 0
    return audit_pending_sweep
