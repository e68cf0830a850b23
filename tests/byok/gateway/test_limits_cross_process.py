"""Rate limits hold across processes: two data-plane processes admitting 1,000 calls within a second under one limit
of 100 requests per minute, counted in one Redis, accept exactly 100 between them. And when the counter cannot be reached,
each limit does what its owner chose (serve or refuse)."""

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from byok.gateway.limits import Limit, LimitCounterUnavailable, admit
from tests.fixtures.processes import free_port


def test_two_processes_accept_exactly_the_limit_between_them(redis_url):
    left = 60 - time.time() % 60
    if left < 15:  # one clock minute for the whole burst
        time.sleep(left + 0.1)
    env = {**os.environ, "CACHE_URL": redis_url}
    limit_id = int(time.time() * 1000) % 1_000_000_000  # a counter no earlier run has touched
    processes = [subprocess.Popen([sys.executable, "-m", "tests.byok.gateway.limits_process", str(limit_id), "100",
                                   "500"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
                 for _ in range(2)]
    try:
        for process in processes:
            assert json.loads(process.stdout.readline()) == {"ready": True}
        start = time.time() + 0.5
        for process in processes:
            process.stdin.write(f"{start}\n")
            process.stdin.flush()
        accepted = [json.loads(process.stdout.readline())["accepted"] for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
    assert sum(accepted) == 100, accepted
    assert all(count > 0 for count in accepted), accepted  # both processes served some


@pytest.mark.parametrize("fail_open", [True, False])
def test_an_unreachable_counter_serves_or_refuses_as_the_owner_chose(settings, fail_open):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}  # nothing listens there
    limit = Limit(id=1, subject="owner", metric="requests_per_minute", value=100, fail_open=fail_open)

    async def call():
        return await admit([limit])

    if fail_open:
        assert asyncio.run(call()) is not None
    else:
        with pytest.raises(LimitCounterUnavailable) as refused:
            asyncio.run(call())
        assert refused.value.status == 503 and "cannot be reached" in refused.value.message
