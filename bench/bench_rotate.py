"""Rotating the encryption key of 100,000 stored provider keys, on the configured database engine.

Runs in a throwaway test database (created and destroyed here, like the test runner does), so it never touches
real data: SQLite by default, PostgreSQL with DATABASE_URL=postgres://…/byok_bench.
"""

import io
import json
import os
import time

ROWS = int(os.environ.get("BENCH_ROTATE_ROWS", 100_000))
OWNERS = 8
SESSION_EVERY = 10  # one key in ten also holds STS session credentials (a second encrypted field)
INSERT_BATCH = 5_000


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
    import django

    django.setup()

    from cryptography.fernet import Fernet
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings, setup_databases, teardown_databases

    if connection.vendor == "sqlite":
        # A file like production, not the test runner's in-memory default.
        connection.settings_dict["TEST"]["NAME"] = str(settings.VAR_DIR / "bench_rotate.sqlite3")
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    databases = setup_databases(verbosity=0, interactive=False, aliases={"default"})
    try:
        with override_settings(BYOK_ENCRYPTION_KEYS=[old]):
            started = time.perf_counter()
            _store_keys()
            print(f"stored {ROWS:,} keys under the old key in {time.perf_counter() - started:.1f} s "
                  f"({connection.vendor})", flush=True)
        with override_settings(BYOK_ENCRYPTION_KEYS=[new, old]):
            from django.core.management import call_command

            out = io.StringIO()
            started = time.perf_counter()
            call_command("rotate_encryption_key", "--json", stdout=out, stderr=io.StringIO())
            elapsed = time.perf_counter() - started
        report = json.loads(out.getvalue())
        assert report["after"] == {report["primary_key_id"]: report["rewritten"]}, report
        print(f"rotate_encryption_key on {connection.vendor}: {ROWS:,} keys, {report['rewritten']:,} values "
              f"re-encrypted in {elapsed:.2f} s = {ROWS / elapsed:,.0f} keys/s")
    finally:
        teardown_databases(databases, verbosity=0)


def _store_keys() -> None:
    from accounts.models import User
    from byok.models import ProviderKey
    from byok.providers.registry import PROVIDERS

    owners = [User.objects.create(username=f"bench-owner-{n}", plan_id="business") for n in range(OWNERS)]
    batch = []
    for index in range(ROWS):
        # Several keys per owner and family need the `selected` scope (one owner-wide key per family).
        key = ProviderKey(owner=owners[index % OWNERS], provider="bedrock", family="bedrock", name=f"key {index}",
                          scope="selected", key_hint="AKIA…0000", credential_type="long_term")
        key.set_credentials(PROVIDERS["bedrock"].credentials({"access_key_id": f"AKIA{index:016d}",
                                                    "secret_access_key": f"{index:040d}"}))
        if index % SESSION_EVERY == 0:
            key.set_session({"access_key_id": f"ASIA{index:016d}", "secret_access_key": f"{index:040d}",
                             "session_token": "FwoGZXIvYXdzE" * 20}, None)
        batch.append(key)
        if len(batch) == INSERT_BATCH:
            ProviderKey.objects.bulk_create(batch)
            batch = []
    ProviderKey.objects.bulk_create(batch)
