"""Under ASGI, how byok is served, no database connection outlives the request that opened it. Django runs each
request's sync work in a thread of its own, so a connection kept for the next request (CONN_MAX_AGE) would outlive its
thread, unclosed, until a garbage collection found it: every console or API request held a PostgreSQL connection
slot. Django's documentation says to disable persistent connections under ASGI; DATABASE_CONN_MAX_AGE defaults to
0."""

import gc

import httpx2
from django.db import connection


def other_sessions() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid()")
        return cursor.fetchone()[0]


def test_control_plane_requests_leave_no_database_connection_open(postgres, dataplane):
    before = other_sessions()
    gc.disable()  # a leaked connection would stay open until a collection: none may happen meanwhile
    try:
        for _ in range(30):
            refused = httpx2.post(f"{dataplane.url}/api/v1/auth/token/", json={"username": "nobody", "password": "x"})
            assert refused.status_code == 401  # the user was looked up: the request used the database
        assert other_sessions() <= before + 2  # the data plane's own background work may hold one or two briefly
    finally:
        gc.enable()
