"""How the data plane refills its caches: one query per cache key for a herd of concurrent misses (db_once), and
never an answer read before a drop stored after it."""

import asyncio
import threading
import time

import pytest

from byok.gateway import cache
from byok.gateway.dbthread import db_once
from tests.byok.routing_helpers import key_for, team


def test_concurrent_callers_asking_the_same_thing_share_one_call():
    calls = []

    def slow_double(value):
        calls.append(threading.get_ident())
        time.sleep(0.05)
        return value * 2

    async def herd():
        return await asyncio.gather(*(db_once(("double", 21), slow_double, 21) for _ in range(50)),
                                    db_once(("double", 4), slow_double, 4))

    results = asyncio.run(herd())
    assert results == [42] * 50 + [8]
    assert len(calls) == 2  # one per key, not one per caller


def test_the_shared_call_raises_for_every_caller_and_the_next_miss_asks_again():
    calls = []

    def refuse():
        calls.append(1)
        time.sleep(0.02)
        raise LookupError("no such workspace")

    async def twice():
        first = await asyncio.gather(*(db_once(("refuse",), refuse) for _ in range(10)), return_exceptions=True)
        second = await asyncio.gather(db_once(("refuse",), refuse), return_exceptions=True)
        return first + second

    outcomes = asyncio.run(twice())
    assert all(isinstance(outcome, LookupError) for outcome in outcomes) and len(outcomes) == 11
    assert len(calls) == 2


def test_a_caller_that_gives_up_does_not_cancel_the_others():
    def slow():
        time.sleep(0.1)
        return "answer"

    async def one_gives_up():
        impatient = asyncio.ensure_future(db_once(("slow",), slow))
        patient = asyncio.ensure_future(db_once(("slow",), slow))
        await asyncio.sleep(0.01)
        impatient.cancel()
        return await patient, impatient.cancelled()

    assert asyncio.run(one_gives_up()) == ("answer", True)


@pytest.mark.django_db(transaction=True)
def test_a_resolution_read_before_a_drop_is_not_stored_after_it(sandbox):
    owner, workspace, member = team()
    key_for(owner, sandbox.add_account("openai"), provider="openai")
    cache.drop_all()
    cache_key = (member.pk, workspace.slug, "openai", None)

    before_the_drop = cache._epoch[0]
    cache.drop_all()  # e.g. the key was revoked while the query ran
    resolution = cache._resolve(cache_key, before_the_drop)
    assert resolution.source == "byok" and cache_key not in cache._resolutions

    cache._resolve(cache_key, cache._epoch[0])
    assert cache._resolutions[cache_key][1] == resolution
