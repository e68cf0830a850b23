"""A Bedrock connection test's wall time when every provider call takes 300 ms: the checks must overlap."""

import os
import time

from bench._support import django_setup, percentiles

LATENCY_MS = int(os.environ.get("BENCH_CONNECTION_LATENCY_MS", 300))
RUNS = int(os.environ.get("BENCH_CONNECTION_RUNS", 10))


def main() -> None:
    django_setup()
    from django.test.utils import override_settings

    from byok.providers.registry import PROVIDERS
    from byok.services.connection import connection_test
    from byok.simulator import SimulatorServer
    from byok.simulator.accounts import new_account

    account = new_account("bedrock", latency_ms=LATENCY_MS)
    with SimulatorServer([account]) as simulator:
        credentials = PROVIDERS["bedrock"].credentials({"access_key_id": account.access_key_id,
                                              "secret_access_key": account.secret_access_key})
        with override_settings(BYOK_ENDPOINTS={k: v.rstrip("/") for k, v in simulator.env().items()}):
            connection_test(provider="bedrock", credentials=credentials, inference_profile="global", actor=None,
                                         owner_id=0)  # warm-up
            walls = []
            for _ in range(RUNS):
                started = time.perf_counter()
                result = connection_test(provider="bedrock", credentials=credentials, inference_profile="global", actor=None,
                                         owner_id=0)
                walls.append((time.perf_counter() - started) * 1000)
                assert result.ok, result.as_dict()
    stats = percentiles(walls)
    print(f"Bedrock connection test ({len(result.checks)} checks: identity, session token, Sonnet, Opus) at "
          f"{LATENCY_MS} ms simulated latency: p50 {stats['p50']:.0f} ms, worst {max(walls):.0f} ms "
          f"(serial would be {len(result.checks) * LATENCY_MS} ms; 2 x latency = {2 * LATENCY_MS} ms)")
