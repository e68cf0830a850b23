"""Database work from the data plane's event loop: in a worker thread, with the thread's connection closed after,
so no connection is held while a provider call is in flight (and none by an idle thread).

`db_once` shares one such call between concurrent callers asking the same thing: when a cache drops under a
thousand calls in flight, one query per cache key refills it, not one per call."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import partial, wraps

from asgiref.sync import sync_to_async
from django.db import connection

DB_THREADS = 8
_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="byok-db")


def _closing(fn):
    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            connection.close()

    return run


async def db(fn, *args, **kwargs):
    """Run `fn(*args, **kwargs)` (sync, may query) in a worker thread and close that thread's connection after."""
    return await sync_to_async(_closing(partial(fn, *args, **kwargs)), thread_sensitive=False, executor=_executor)()


_flights: dict[tuple, asyncio.Future] = {}


async def db_once(key: tuple, fn, *args, **kwargs):
    """`db(fn, …)`, or the same call already in flight under `key` (its answer or its exception)."""
    flight = _flights.get(key)
    if flight is None or flight.get_loop() is not asyncio.get_running_loop():
        flight = _flights[key] = asyncio.ensure_future(db(fn, *args, **kwargs))
        flight.add_done_callback(lambda done: _flights.pop(key) if _flights.get(key) is done else None)
    # shield: a caller that gives up (its deadline, a disconnect) does not cancel the others' query
    return await asyncio.shield(flight)

