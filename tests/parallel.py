"""Each pytest-xdist worker gets services of its own: its own Redis databases for the broker and the cache, and its
own var directory (the usage spill, the test SQLite file). PostgreSQL needs nothing here: pytest-django gives each
worker its own test database.

Loaded with `-p tests.parallel` (pyproject's addopts), because it must change the environment before pytest-django
imports the settings, which happens before any conftest is read. Outside xdist it does nothing.
"""

import os
from urllib.parse import urlsplit, urlunsplit

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … in a worker; "" in a plain run
REDIS_DATABASES = 16


def _own_redis_database(url: str, index: int) -> str:
    """`url` moved down by two databases per worker: gw0 keeps the configured ones (the broker's and the cache's,
    adjacent as .ci/run sets them, or one for both), gw1 takes the two below them, and so on."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - 2 * index
    return urlunsplit(parts._replace(path=f"/{database % REDIS_DATABASES}"))


def _isolate(worker: str) -> None:
    index = int(worker.removeprefix("gw"))
    if index >= REDIS_DATABASES // 2:
        raise RuntimeError(f"at most {REDIS_DATABASES // 2} test workers: each takes two of Redis's {REDIS_DATABASES} "
                           "databases")
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        url = os.environ.get(name, "")
        if url.startswith("redis://"):
            os.environ[name] = _own_redis_database(url, index)
            if index:  # gw0's are the configured ones, which the caller emptied (.ci/run); empty the worker's own
                _flush(os.environ[name])
    if var_dir := os.environ.get("BYOK_VAR_DIR"):
        os.environ["BYOK_VAR_DIR"] = os.path.join(var_dir, worker)


def _flush(url: str) -> None:
    import redis

    with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
        try:
            client.flushdb()
        except redis.ConnectionError:
            pass  # a missing Redis is reported by the tests that need it (tests/conftest.py: require_service)


if WORKER:
    _isolate(WORKER)
