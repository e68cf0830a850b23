"""Credential resolution: warm and cold, in microseconds, with database queries per call."""

import os
import time

from bench._support import django_setup, percentiles, throwaway_database

CALLS = int(os.environ.get("BENCH_RESOLUTION_CALLS", 20_000))
OTHER_KEYS = 50  # the owner has other keys too, so the query is not trivially small


def main() -> None:
    django_setup()
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    with throwaway_database("resolution"):
        member, workspace = _team()
        from byok.clients import client_for
        from byok.selectors import credentials_resolve

        reset_queries()  # set-up filled the bounded query log; a full log would count nothing
        with CaptureQueriesContext(connection) as cold_queries:
            started = time.perf_counter()
            resolution = credentials_resolve(user=member, workspace_slug=workspace.slug)
            client_for(resolution)
            cold_ms = (time.perf_counter() - started) * 1000
        assert resolution.source == "byok", resolution

        samples = []
        for _ in range(CALLS):
            started = time.perf_counter()
            resolution = credentials_resolve(user=member, workspace_slug=workspace.slug)
            client_for(resolution)
            samples.append((time.perf_counter() - started) * 1_000_000)
        reset_queries()
        with CaptureQueriesContext(connection) as warm_queries:
            credentials_resolve(user=member, workspace_slug=workspace.slug)
            client_for(resolution)
        stats = percentiles(samples)
        print(f"resolution on {connection.vendor}, {CALLS:,} warm calls (resolve + cached client): "
              f"p50 {stats['p50']:.0f} µs, p90 {stats['p90']:.0f} µs, p99 {stats['p99']:.0f} µs; "
              f"{len(warm_queries)} query per call")
        print(f"cold (first call, decrypt + build a bedrock-runtime client): {cold_ms:.1f} ms, "
              f"{len(cold_queries)} query")


def _team():
    from accounts.models import User
    from accounts.services import membership_add, workspace_create
    from byok.services.keys import provider_key_create

    owner = User.objects.create(username="bench-owner", plan_id="business")
    member = User.objects.create(username="bench-member")
    workspace = workspace_create(owner=owner, name="Bench")
    membership_add(workspace=workspace, user=member, actor=owner)
    provider_key_create(owner=owner, provider="bedrock", name="main", skip_test=True, credentials={
        "access_key_id": "AKIAZ7EXAMPLE4KE7XQ2", "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
    for n in range(OTHER_KEYS):
        provider_key_create(owner=owner, provider="anthropic", name=f"scoped {n}", skip_test=True, scope="selected",
                            workspaces=[workspace_create(owner=owner, name=f"Other {n}")],
                            credentials={"api_key": f"sk-ant-api03-{n:040d}"})
    return member, workspace
