"""A data-plane process's rate limiter, for the cross-process test: on a "go" line from stdin, admit `calls` calls at
once under one requests-per-minute limit (the shared cache is CACHE_URL's Redis) and print how many were accepted.

    python -m tests.byok.gateway.limits_process <limit id> <limit value> <calls>
"""

import asyncio
import json
import os
import sys

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


async def burst(limit: Limit, calls: int) -> int:
    return sum(await asyncio.gather(*(one(limit) for _ in range(calls))))


def main() -> None:
    limit_id, value, calls = (int(arg) for arg in sys.argv[1:4])
    limit = Limit(id=limit_id, subject="api_key", metric="requests_per_minute", value=value, fail_open=False)
    print(json.dumps({"ready": True}), flush=True)
    sys.stdin.readline()
    print(json.dumps({"accepted": asyncio.run(burst(limit, calls))}), flush=True)


if __name__ == "__main__":
    main()
