"""The database and the cache shared by every process."""

import os

import dj_database_url

from .env import VAR_DIR, env_int

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        # 0: closed at the end of each request. Under ASGI (how byok is served) each request's sync work runs in a
        # thread of its own, and a connection kept for reuse outlived its thread unclosed until a garbage collection:
        # every console or API request held a PostgreSQL slot (Django's docs: no persistent connections under ASGI).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker read while the other writes; with WAL, synchronous=NORMAL is
    # crash-safe and saves an fsync per commit (a usage record is written on every LLM call).
    # IMMEDIATE: a transaction takes the write lock when it starts, so a read-then-write never fails midway with
    # "database is locked" when another process (the worker) writes at the same moment; it waits instead.
    DATABASES["default"]["OPTIONS"] = {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                                       "timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not memory, so tests can prove behaviour across processes (two resolvers, a worker subprocess);
    # one per test run, so concurrent runs never share it. ./var/ is created at start-up (core.apps), not here.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

# Cache shared by every process: Redis when configured, else the database (never a process-local dict,
# which would hide state such as circuit breakers from the other processes).
CACHE_URL = os.environ.get("CACHE_URL", "")
if CACHE_URL:
    # A bounded connect: an unreachable Redis fails fast (readiness, fail-open lockout) instead of hanging.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                          "OPTIONS": {"socket_connect_timeout": 2}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "byok_cache"}}
