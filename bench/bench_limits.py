"""Rate limits on the call path: what admitting a call costs, in microseconds per call, for an owner without limits
and with a requests-per-minute and a tokens-per-minute limit (on the shared cache: the embedded database cache, or
Redis with CACHE_URL). In process, sequential: the figure is the call path's own added work."""

import asyncio
import os
import time

from bench._support import django_setup, percentiles, throwaway_database

CALLS = int(os.environ.get("BENCH_LIMITS_CALLS", 20_000))


def main() -> None:
    django_setup()
    from django.conf import settings

    with throwaway_database("limits"):
        owner, member, workspace = _team()
        backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        for label, metrics in (("no limits", ()), ("requests/min", ("requests_per_minute",)),
                               ("requests+tokens/min", ("requests_per_minute", "tokens_per_minute"))):
            _limits(owner, metrics)
            samples = asyncio.run(_admit_many(owner, member, workspace))
            figures = percentiles(samples)
            print(f"admit, {label:<20} ({backend}): p50 {figures['p50']:.1f} µs, p90 {figures['p90']:.1f} µs, "
                  f"p99 {figures['p99']:.1f} µs, mean {figures['mean']:.1f} µs over {CALLS} calls", flush=True)


def _team():
    from accounts.models import User
    from accounts.services import membership_add, workspace_create

    owner = User.objects.create(username="bench-owner", plan_id="business")
    member = User.objects.create(username="bench-member")
    workspace = workspace_create(owner=owner, name="Bench")
    membership_add(workspace=workspace, user=member, actor=owner)
    return owner, member, workspace


def _limits(owner, metrics) -> None:
    from byok.gateway import limits
    from byok.models import UsageLimit

    UsageLimit.objects.filter(owner=owner).delete()
    for metric in metrics:  # far from reached: the common case
        UsageLimit.objects.create(owner=owner, subject="owner", metric=metric, value=1_000_000_000)
    limits.drop_all()


async def _admit_many(owner, member, workspace) -> list[float]:
    from byok.gateway.limits import admit, limits_for

    async def one() -> float:
        started = time.perf_counter()
        quota = await admit(await limits_for(owner_id=owner.pk, workspace_id=workspace.pk, user_id=member.pk,
                                             api_key_id=None))
        elapsed = time.perf_counter() - started
        if quota is not None:
            quota.spend(tokens=100, cost=None)  # off the request path, as Served.record does
        return elapsed * 1e6

    for _ in range(200):  # warm: the owner's limits read, the first lease taken
        await one()
    samples = []
    for index in range(CALLS):
        samples.append(await one())
        if index % 50 == 0:
            await asyncio.sleep(0)  # let the background token sends run, as between real calls
    return samples
