"""One session-refresh cycle over 10,000 due long-term AWS keys, run by real worker processes against the simulator.

Prints the time for the cycle, the STS calls per key (must be exactly 1.0) and the database queries of one refresh at
1,000 and at 10,000 keys (must not grow with the number of keys). Runs in a throwaway database on the configured
engine: SQLite by default (one worker: SQLite does not lock rows), PostgreSQL with DATABASE_URL=postgres://…/byok_bench
(two workers). Use a Redis broker (CELERY_BROKER_URL=redis://…) for 10,000 keys: kombu's filesystem broker lists its
folder for every message.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench._support import database_url, django_setup, throwaway_database

ROOT = Path(__file__).resolve().parents[1]
STAGES = [int(n) for n in os.environ.get("BENCH_SESSION_KEYS", "1000,10000").split(",")]
OWNERS = 100
SAMPLE = 20  # refreshes measured in-process for the query count


def main() -> None:
    django_setup()
    from django.db import connection

    with throwaway_database("sessions"):
        if connection.vendor == "sqlite":
            # This process refreshes a sample while the worker writes: take SQLite's write lock at BEGIN, so the
            # busy timeout queues the two instead of failing a read-then-write transaction.
            connection.settings_dict["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
            connection.close()
        port = _free_port()
        simulator = subprocess.Popen([sys.executable, "manage.py", "run_provider_simulator", "--port", str(port)],
                                     cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        workers = []
        try:
            _wait_for(f"{url}/_simulator/stats")
            from django.conf import settings

            settings.BYOK_ENDPOINTS = {"BYOK_STS_ENDPOINT_URL": url, "BYOK_BEDROCK_ENDPOINT_URL": url}
            from byok_project.celery import app

            app.control.purge()
            count = 2 if connection.vendor == "postgresql" else 1
            workers = [_start_worker(n, url, solo=connection.vendor == "sqlite") for n in range(count)]
            print(f"{connection.vendor}, {count} worker process(es), broker {app.conf.broker_url.split(':')[0]}",
                  flush=True)
            for total in STAGES:
                _stage(total, url)
        finally:
            for process in workers + [simulator]:
                process.terminate()
            for process in workers + [simulator]:
                process.wait(timeout=60)


def _stage(total: int, url: str) -> None:
    from audit.models import AuditEvent
    from byok.models import ProviderKey
    from byok.services.sessions import session_refresh_fan_out

    existing = ProviderKey.objects.count()
    _add_keys(total - existing, url)
    ProviderKey.objects.update(session_secret=None, session_token_expires_at=None)  # every key due
    _post(f"{url}/_simulator/reset", {})
    started = time.perf_counter()
    fan_out = session_refresh_fan_out()
    queued_in = time.perf_counter() - started
    while ProviderKey.objects.filter(session_secret__isnull=True).exists():
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    while AuditEvent.objects.filter(chained_at__isnull=True).exists():  # the workers' audit tasks, before measuring
        time.sleep(0.5)
    calls = json.load(urllib.request.urlopen(f"{url}/_simulator/stats"))["calls"].get("sts.GetSessionToken", {})
    assert fan_out.queued == total, fan_out
    print(f"{total:>6,} due keys: cycle {elapsed:.1f} s ({total / elapsed:,.0f} keys/s; fan-out {queued_in:.1f} s), "
          f"STS calls per key {sum(calls.values()) / total:.2f} (max {max(calls.values())} for one key), "
          f"queries per refresh {_queries_per_refresh():.1f}", flush=True)


def _queries_per_refresh() -> float:
    """Refresh a sample in this process, counting every query (lock, write, audit event)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from byok.models import ProviderKey
    from byok.services.sessions import session_refresh

    sample = list(ProviderKey.objects.order_by("?").values_list("id", flat=True)[:SAMPLE])
    ProviderKey.objects.filter(pk__in=sample).update(session_secret=None, session_token_expires_at=None)
    with CaptureQueriesContext(connection) as queries:
        for key_id in sample:
            assert session_refresh(key_id=key_id).status == "refreshed"
    return len(queries) / len(sample)


def _add_keys(count: int, url: str) -> None:
    from accounts.models import User
    from byok.crypto import keyring
    from byok.models import ProviderKey
    from byok.providers.base import hint
    from byok.simulator.accounts import new_account

    owners = list(User.objects.filter(username__startswith="bench-owner-"))
    owners += [User.objects.create(username=f"bench-owner-{n}", plan_id="business")
               for n in range(len(owners), OWNERS)]
    offset = ProviderKey.objects.count()
    accounts = [new_account("bedrock") for _ in range(count)]
    _post(f"{url}/_simulator/accounts", {"accounts": [_account_json(a) for a in accounts]})
    ProviderKey.objects.bulk_create([
        ProviderKey(owner=owners[n % OWNERS], provider="bedrock", family="bedrock", name=f"key {offset + n}",
                    secret=keyring().encrypt_json({"access_key_id": a.access_key_id,
                                                   "secret_access_key": a.secret_access_key}),
                    key_hint=hint(a.access_key_id), credential_type="long_term", inference_profile="global",
                    scope="selected")
        for n, a in enumerate(accounts)
    ], batch_size=1000)


def _account_json(account) -> dict:
    data = dataclasses.asdict(account)
    data["models"] = list(account.models)
    return {k: v for k, v in data.items() if v != "" and k not in ("api_key", "session_token")}


def _start_worker(n: int, url: str, *, solo: bool) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url(), "BYOK_STS_ENDPOINT_URL": url,
           "BYOK_BEDROCK_ENDPOINT_URL": url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR"}
    pool = ["-P", "solo"] if solo else ["-P", "threads", "--concurrency", "4"]
    return subprocess.Popen([sys.executable, "-m", "celery", "-A", "byok_project", "worker", *pool, "-n",
                             f"bench-sessions-{n}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat",
                             "--loglevel", "ERROR"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def _post(url: str, body: dict) -> None:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    main()
