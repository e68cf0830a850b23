"""A data-plane process's rate limiter, for the cross-process test: given a wall-clock start time on stdin, admit
`calls` calls over about a second from then under one requests-per-minute limit (the shared cache is CACHE_URL's Redis) and print how many were accepted.

    python -m tests.byok.gateway.limits_process <limit id> <limit value> <calls>
"""

import asyncio
import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "byok_project.settings")
django.setup()

from byok.gateway.limits import Limit, RateLimitExceeded, admit  # noqa: E402


async def one(limit: Limit) -> bool:
    try:
        await admit([limit])
    except RateLimitExceeded:
        return False
    return True


async def burst(limit: Limit, calls: int, start: float) -> int:
    """`calls` calls over about a second from the wall-clock `start` (so two processes overlap), as traffic arrives."""
    await asyncio.sleep(max(0.0, start - time.time()))
    tasks = []
    for _ in range(calls):
        tasks.append(asyncio.create_task(one(limit)))
        await asyncio.sleep(1 / calls)
    return sum(await asyncio.gather(*tasks))


def main() -> None:
    limit_id, value, calls = (int(arg) for arg in sys.argv[1:4])
    limit = Limit(id=limit_id, subject="api_key", metric="requests_per_minute", value=value, fail_open=False)
    print(json.dumps({"ready": True}), flush=True)
    start = float(sys.stdin.readline())
    print(json.dumps({"accepted": asyncio.run(burst(limit, calls, start))}), flush=True)


if __name__ == "__main__":
    main()
