"""Credential resolution: warm and cold, in microseconds, with database queries per call."""

import os
import time

from bench._support import django_setup, percentiles, throwaway_database

CALLS = int(os.environ.get("BENCH_RESOLUTION_CALLS", 20_000))
OTHER_KEYS = 50  # the owner has other keys too, so the query is not trivially small


def main() -> None:
    django_setup()
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext, override_settings

    from byok.simulator import SimulatorServer
    from byok.simulator.accounts import new_account

    account = new_account("bedrock")
    with throwaway_database("resolution"), SimulatorServer([account]) as simulator, \
            override_settings(BYOK_ENDPOINTS={k: v.rstrip("/") for k, v in simulator.env().items()}):
        member, workspace = _team(account)
        from byok.gateway.clients import client_for
        from byok.gateway.resolve import credentials_resolve

        cold_queries = []
        with connection.execute_wrapper(lambda execute, sql, *args: cold_queries.append(sql) or execute(sql, *args)):
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
        reset_queries()  # set-up filled the bounded query log; a full log would count nothing
        with CaptureQueriesContext(connection) as warm_queries:
            credentials_resolve(user=member, workspace_slug=workspace.slug)
            client_for(resolution)
        stats = percentiles(samples)
        print(f"resolution on {connection.vendor}, {CALLS:,} warm calls (resolve + cached client): "
              f"p50 {stats['p50']:.0f} µs, p90 {stats['p90']:.0f} µs, p99 {stats['p99']:.0f} µs; "
              f"{len(warm_queries)} query per call")
        print(f"cold (first call of a new AKIA key: STS session refresh, decrypt, build a bedrock-runtime client): "
              f"{cold_ms:.1f} ms, {len(cold_queries)} queries")


def _team(account):
    from accounts.models import User
    from accounts.services import membership_add, workspace_create
    from byok.services.keys import provider_key_create

    owner = User.objects.create(username="bench-owner", plan_id="business")
    member = User.objects.create(username="bench-member")
    workspace = workspace_create(owner=owner, name="Bench")
    membership_add(workspace=workspace, user=member, actor=owner)
    provider_key_create(owner=owner, provider="bedrock", name="main", skip_test=True, credentials={
        "access_key_id": account.access_key_id, "secret_access_key": account.secret_access_key})
    for n in range(OTHER_KEYS):
        provider_key_create(owner=owner, provider="anthropic", name=f"scoped {n}", skip_test=True, scope="selected",
                            workspaces=[workspace_create(owner=owner, name=f"Other {n}")],
                            credentials={"api_key": f"sk-ant-api03-{n:040d}"})
    return member, workspace
